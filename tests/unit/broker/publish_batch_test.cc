#include "src/broker/publish_batch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace peregrine::broker {
namespace {

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct Read {
  uint64_t origin;
  std::string topic;
  std::string payload;
};

std::vector<Read> read_all(const PublishBatch& batch) {
  std::vector<Read> out;
  batch.for_each([&](const PublishBatch::Record& r) {
    out.push_back({r.origin_connection, std::string(r.topic),
                   std::string(reinterpret_cast<const char*>(r.payload.data()),
                               r.payload.size())});
  });
  return out;
}

class PublishBatchTest : public ::testing::Test {
 protected:
  void TearDown() override { PublishBatch::destroy(batch); }
  PublishBatch* batch = PublishBatch::create();
};

TEST_F(PublishBatchTest, RecordsComeBackInOrderWithTheirBytes) {
  const std::string payload_a = "hello", payload_b(1000, 'x'), empty;
  batch->append(7, "a/b", bytes_of(payload_a));
  batch->append(9, "odd/length/topic", bytes_of(payload_b));  // unaligned sizes pad
  batch->append(7, "c", bytes_of(empty));
  ASSERT_EQ(batch->count(), 3u);
  const std::vector<Read> got = read_all(*batch);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].origin, 7u);
  EXPECT_EQ(got[0].topic, "a/b");
  EXPECT_EQ(got[0].payload, "hello");
  EXPECT_EQ(got[1].origin, 9u);
  EXPECT_EQ(got[1].topic, "odd/length/topic");
  EXPECT_EQ(got[1].payload, payload_b);
  EXPECT_EQ(got[2].topic, "c");
  EXPECT_EQ(got[2].payload, "");
}

TEST_F(PublishBatchTest, FillsToItsSizeAndNoFurther) {
  const std::string topic = "t/1";
  const std::string payload(PublishBatch::kMaxRecordBody - topic.size(), 'p');
  size_t appended = 0;
  while (batch->fits(topic.size(), payload.size())) {
    batch->append(appended, topic, bytes_of(payload));
    appended++;
  }
  // 4 KiB records in a 64 KiB block: 15 with their headers, not 16.
  EXPECT_EQ(appended, PublishBatch::kBytes / PublishBatch::kMaxRecordBody - 1);
  // What is left still takes a smaller record: fits() counts bytes, not records.
  EXPECT_TRUE(batch->fits(topic.size(), 100));
  size_t seen = 0;
  batch->for_each([&](const PublishBatch::Record& r) {
    EXPECT_EQ(r.origin_connection, seen);
    EXPECT_EQ(r.payload.size(), payload.size());
    EXPECT_EQ(r.payload.back(), 'p');
    seen++;
  });
  EXPECT_EQ(seen, appended);
}

TEST_F(PublishBatchTest, AnEmptyBatchReadsNothing) {
  EXPECT_EQ(batch->count(), 0u);
  EXPECT_TRUE(read_all(*batch).empty());
  EXPECT_TRUE(batch->fits(0, PublishBatch::kMaxRecordBody));
}

}  // namespace
}  // namespace peregrine::broker
