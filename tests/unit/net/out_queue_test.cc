#include "src/net/out_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace peregrine::net {
namespace {

class CountedBuffer final : public io::SharedBuffer {
 public:
  // Large enough by default to be referenced rather than copied.
  explicit CountedBuffer(int* freed, std::string content = big())
      : bytes(std::move(content)), _freed(freed) {}
  static std::string big() {
    std::string s(OutQueue::kCopyUpTo + 1, 'P');
    s.back() = '!';
    return s;
  }
  std::string bytes;
  std::span<const uint8_t> span() const {
    return {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
  }

 private:
  void destroy() override {
    ++*_freed;
    delete this;
  }
  int* _freed;
};

std::string flatten(std::span<const iovec> iov) {
  std::string out;
  for (const iovec& v : iov) {
    out.append(static_cast<const char*>(v.iov_base), v.iov_len);
  }
  return out;
}

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(OutQueue, GathersHeadsAndSharedPayloadsWithoutCopy) {
  int freed = 0;
  auto* payload = new CountedBuffer(&freed);
  OutQueue queue;
  queue.append_copy(bytes_of("H1"));
  queue.append_shared(payload, payload->span());
  queue.append_copy(bytes_of("H2"));
  queue.append_shared(payload, payload->span());
  payload->unref();  // the queue holds the only references now
  const std::string big = CountedBuffer::big();
  EXPECT_EQ(queue.queued_bytes(), 4 + 2 * big.size());
  auto iov = queue.prepare_send();
  ASSERT_EQ(iov.size(), 4u);
  EXPECT_EQ(iov[1].iov_base, payload->span().data());  // referenced, not copied
  EXPECT_EQ(flatten(iov), "H1" + big + "H2" + big);
  queue.consume(4 + 2 * big.size());
  EXPECT_EQ(freed, 1);
  EXPECT_EQ(queue.queued_bytes(), 0u);
}

TEST(OutQueue, PartialSendResumesMidSegmentAndKeepsOrder) {
  int freed = 0;
  auto* payload = new CountedBuffer(&freed);
  OutQueue queue;
  queue.append_copy(bytes_of("head"));
  queue.append_shared(payload, payload->span());
  payload->unref();
  const std::string big = CountedBuffer::big();
  queue.prepare_send();
  queue.consume(6);  // "head" + two payload bytes
  queue.append_copy(bytes_of("next"));  // pending while the rest is in flight
  EXPECT_EQ(flatten(queue.prepare_send()), big.substr(2));
  EXPECT_EQ(freed, 0);
  queue.consume(big.size() - 2);
  EXPECT_EQ(freed, 1);
  EXPECT_EQ(flatten(queue.prepare_send()), "next");
  queue.consume(4);
  EXPECT_EQ(queue.queued_bytes(), 0u);
  EXPECT_TRUE(queue.prepare_send().empty());
}

TEST(OutQueue, SmallSharedPiecesAreCopiedIntoOneSegmentWithTheirHeads) {
  int freed = 0;
  auto* payload = new CountedBuffer(&freed, "PAYLOAD!");
  OutQueue queue;
  for (int i = 0; i < 3; ++i) {
    queue.append_copy(bytes_of("H"));
    queue.append_shared(payload, payload->span());
  }
  payload->unref();
  EXPECT_EQ(freed, 1);  // no reference kept: the bytes were copied
  auto iov = queue.prepare_send();
  ASSERT_EQ(iov.size(), 1u);
  EXPECT_EQ(flatten(iov), "HPAYLOAD!HPAYLOAD!HPAYLOAD!");
  queue.consume(27);
  EXPECT_EQ(queue.queued_bytes(), 0u);
}

TEST(OutQueue, PastTheTurnsCopyBudgetSmallPiecesAreReferencedAgain) {
  int freed = 0;
  auto* payload = new CountedBuffer(&freed, std::string(OutQueue::kCopyUpTo, 'S'));
  OutQueue queue;
  size_t copied = 0;
  while (queue.copies(payload->span().size())) {
    queue.append_shared(payload, payload->span());
    copied += payload->span().size();
  }
  EXPECT_GT(copied + OutQueue::kCopyUpTo, OutQueue::kCopyArenaBytes);
  EXPECT_LE(copied, OutQueue::kCopyArenaBytes);
  queue.append_shared(payload, payload->span());  // over budget: a reference
  payload->unref();
  EXPECT_EQ(freed, 0);
  EXPECT_EQ(queue.queued_bytes(), copied + OutQueue::kCopyUpTo);
  auto iov = queue.prepare_send();
  ASSERT_EQ(iov.size(), 2u);  // the copies in one segment, then the reference
  EXPECT_EQ(iov[0].iov_len, copied);
  EXPECT_EQ(iov[1].iov_base, payload->bytes.data());
  queue.consume(copied + OutQueue::kCopyUpTo);
  EXPECT_EQ(freed, 1);
  EXPECT_TRUE(queue.copies(1));  // a new turn's budget
}

TEST(OutQueue, ClearReleasesEverything) {
  int freed = 0;
  auto* payload = new CountedBuffer(&freed);
  {
    OutQueue queue;
    queue.append_shared(payload, payload->span());
    queue.prepare_send();
    queue.append_shared(payload, payload->span());
    payload->unref();
  }
  EXPECT_EQ(freed, 1);
}

TEST(OutQueue, DropPendingKeepsWhatASendHoldsAndReleasesTheRest) {
  int freed = 0;
  auto* payload = new CountedBuffer(&freed);
  OutQueue queue;
  const std::vector<uint8_t> sent = {1, 2, 3};
  queue.append_copy(sent);
  const auto iov = queue.prepare_send();  // in flight: stays
  ASSERT_EQ(iov.size(), 1u);
  const std::vector<uint8_t> head = {9, 9};
  queue.append_copy(head);
  queue.append_shared(payload, payload->span());  // pending: goes
  const size_t pending = head.size() + payload->span().size();
  payload->unref();
  EXPECT_EQ(queue.drop_pending(), pending);
  EXPECT_EQ(freed, 1);  // its reference released
  EXPECT_FALSE(queue.has_pending());
  EXPECT_EQ(queue.queued_bytes(), sent.size());
  queue.consume(sent.size());
  EXPECT_EQ(queue.queued_bytes(), 0u);
  EXPECT_EQ(queue.drop_pending(), 0u);
}

}  // namespace
}  // namespace peregrine::net
