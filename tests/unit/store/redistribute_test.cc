// Moving shard logs to another shard count: every record reaches the shard its owner
// names, in order; a move interrupted before its done mark is undone, one interrupted
// after it is finished.
#include "src/store/redistribute.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "src/store/log_format.h"
#include "src/store/shard_layout.h"
#include "src/store/shard_log.h"
#include "src/store/state_writer.h"

namespace peregrine::store {
namespace {

namespace fs = std::filesystem;

class RedistributeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/pg-redistribute-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    root = dir;
  }
  void TearDown() override { fs::remove_all(root); }

  // A log for `shard` holding `records` ("key=value", type 1).
  void write_shard(uint16_t shard, const std::vector<std::string>& records) {
    const std::string dir = root + "/shard-" + std::to_string(shard);
    fs::create_directories(dir);
    std::string segment = segment_header(shard);
    for (const std::string& r : records) {
      append_record(segment, 1, r);
    }
    std::string error;
    ASSERT_TRUE(StateWriter::write_atomically(dir + "/0000000000000001.log", segment, &error));
  }
  std::vector<std::string> read_shard(uint16_t shard) {
    std::vector<std::string> out;
    LogRecovery recovery;
    std::string error;
    EXPECT_TRUE(read_shard_log(root + "/shard-" + std::to_string(shard), shard,
                               [&](uint8_t, std::span<const uint8_t> body) {
                                 out.emplace_back(body.begin(), body.end());
                               },
                               recovery, error))
        << error;
    return out;
  }
  void set_layout(uint16_t shards) {
    std::string error;
    ASSERT_TRUE(StateWriter::write_atomically(
        root + "/layout.json", "{\"version\":1,\"shards\":" + std::to_string(shards) + "}\n",
        &error));
  }

  std::string root;
};

// Owner by the key's first letter; "x..." records are dropped, "*..." go to every shard.
std::optional<uint64_t> by_letter(uint16_t shards, std::span<const uint8_t> body) {
  if (body.empty() || body[0] == 'x') {
    return std::nullopt;
  }
  if (body[0] == '*') {
    return ~uint64_t{0};
  }
  return uint64_t{1} << ((body[0] - 'a') % shards);
}

TEST_F(RedistributeTest, RecordsGoToTheirNewOwnersInOrder) {
  set_layout(2);
  write_shard(0, {"a=1", "c=1", "a=2", "x=gone"});
  write_shard(1, {"b=1", "*=all", "d=1", "b=2"});
  Redistribution report;
  std::string error;
  ASSERT_TRUE(redistribute(
      root, 2, 3,
      [](uint8_t, std::span<const uint8_t> body, std::string&) { return by_letter(3, body); },
      report, error))
      << error;
  EXPECT_EQ(report.records, 7u);
  EXPECT_EQ(report.dropped, 1u);
  EXPECT_EQ(recorded_shard_count(root), 3);
  EXPECT_EQ(read_shard(0), (std::vector<std::string>{"a=1", "a=2", "*=all", "d=1"}));
  EXPECT_EQ(read_shard(1), (std::vector<std::string>{"b=1", "*=all", "b=2"}));
  EXPECT_EQ(read_shard(2), (std::vector<std::string>{"c=1", "*=all"}));
  EXPECT_FALSE(fs::exists(root + "/redistribute"));
  EXPECT_TRUE(finish_interrupted_redistribution(root, error));  // nothing to do
}

TEST_F(RedistributeTest, AnOwnerThatStopsLeavesTheOldLogs) {
  set_layout(2);
  write_shard(0, {"a=1"});
  write_shard(1, {"b=1"});
  Redistribution report;
  std::string error;
  EXPECT_FALSE(redistribute(
      root, 2, 1,
      [](uint8_t, std::span<const uint8_t>, std::string& stop) -> std::optional<uint64_t> {
        stop = "unknown record";
        return std::nullopt;
      },
      report, error));
  EXPECT_NE(error.find("unknown record"), std::string::npos);
  EXPECT_EQ(recorded_shard_count(root), 2);
  EXPECT_EQ(read_shard(1), (std::vector<std::string>{"b=1"}));
  // The half-made work is dropped by the next start.
  EXPECT_TRUE(finish_interrupted_redistribution(root, error));
  EXPECT_FALSE(fs::exists(root + "/redistribute"));
  EXPECT_EQ(read_shard(0), (std::vector<std::string>{"a=1"}));
}

TEST_F(RedistributeTest, AMoveMarkedDoneIsFinishedAfterACrash) {
  set_layout(3);
  write_shard(0, {"old"});
  write_shard(1, {"old"});
  write_shard(2, {"old"});
  // Work done for one shard, then the crash: before any directory was swapped.
  const std::string work = root + "/redistribute/shard-0";
  fs::create_directories(work);
  std::string segment = segment_header(0);
  append_record(segment, 1, std::string_view("new"));
  std::string error;
  ASSERT_TRUE(StateWriter::write_atomically(work + "/0000000000000001.log", segment, &error));
  ASSERT_TRUE(StateWriter::write_atomically(root + "/redistribute/done", "1\n", &error));
  ASSERT_TRUE(finish_interrupted_redistribution(root, error)) << error;
  EXPECT_EQ(recorded_shard_count(root), 1);
  EXPECT_EQ(read_shard(0), (std::vector<std::string>{"new"}));
  EXPECT_FALSE(fs::exists(root + "/shard-1"));
  EXPECT_FALSE(fs::exists(root + "/shard-2"));
  EXPECT_FALSE(fs::exists(root + "/redistribute"));
}

}  // namespace
}  // namespace peregrine::store
