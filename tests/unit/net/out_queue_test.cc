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

// Packets of 30 KiB: head "Hn" copied, the body a shared buffer (referenced). Marks land
// on packet starts at most once per kMarkEveryBytes: packets 0, 3, 6, ... here.
struct MarkedPackets {
  static constexpr size_t kBody = 30 * 1024 - 2;
  explicit MarkedPackets(int packets) {
    for (int i = 0; i < packets; ++i) {
      auto* body = new CountedBuffer(&freed, std::string(kBody, static_cast<char>('a' + i)));
      std::string head = "H";  // (not "H" + ...: GCC 12's -Wrestrict false positive)
      head += std::to_string(i);
      queue.mark_packet_start();
      queue.append_copy(bytes_of(head));
      queue.append_shared(body, body->span());
      body->unref();
      text += head;
      text += body->bytes;
    }
  }
  int freed = 0;
  OutQueue queue;
  std::string text;
};

TEST(OutQueue, ACutKeepsThePacketBeingSentAndDropsFromTheNextMark) {
  MarkedPackets p(8);  // 240 KiB; marks at packets 0, 3 and 6 (0, 90 and 180 KiB)
  const size_t packet = 30 * 1024;
  auto iov = p.queue.prepare_send();
  ASSERT_FALSE(iov.empty());
  p.queue.consume(packet + 100);  // the kernel took packet 0 and a little of packet 1
  const size_t dropped = p.queue.cut_inflight();
  EXPECT_EQ(dropped, 8 * packet - 3 * packet);  // from the mark at packet 3 on
  EXPECT_EQ(p.queue.queued_bytes(), 3 * packet - (packet + 100));
  EXPECT_EQ(p.freed, 6);  // packet 0 sent, packets 3..7 dropped
  EXPECT_EQ(flatten(p.queue.prepare_send()), p.text.substr(packet + 100, 2 * packet - 100));
  p.queue.consume(2 * packet - 100);
  EXPECT_FALSE(p.queue.has_inflight());
  // The goodbye written now goes next.
  p.queue.append_copy(bytes_of("BYE"));
  EXPECT_EQ(flatten(p.queue.prepare_send()), "BYE");
  p.queue.consume(3);
  EXPECT_EQ(p.freed, 8);
}

TEST(OutQueue, ACutAtAMarkDropsEverythingLeftAndNoMarkLeftKeepsAll) {
  MarkedPackets p(8);
  const size_t packet = 30 * 1024;
  p.queue.prepare_send();
  p.queue.consume(3 * packet);  // exactly up to the mark at packet 3
  EXPECT_EQ(p.queue.cut_inflight(), 5 * packet);
  EXPECT_FALSE(p.queue.has_inflight());
  EXPECT_EQ(p.freed, 8);

  MarkedPackets q(8);
  q.queue.prepare_send();
  q.queue.consume(6 * packet + 1);  // past the last mark: packets 6 and 7 go whole
  EXPECT_EQ(q.queue.cut_inflight(), 0u);
  EXPECT_EQ(q.queue.queued_bytes(), 2 * packet - 1);
  q.queue.consume(2 * packet - 1);
  EXPECT_EQ(q.freed, 8);
}

TEST(OutQueue, MarksFollowTheirGenerationAndAreDroppedWithIt) {
  MarkedPackets p(4);
  EXPECT_EQ(p.queue.drop_pending(), 4u * 30 * 1024);
  EXPECT_EQ(p.freed, 4);
  // Marks start again from the new pending generation's first byte.
  p.queue.mark_packet_start();
  p.queue.append_copy(bytes_of("X"));
  p.queue.prepare_send();
  EXPECT_EQ(p.queue.cut_inflight(), 1u);  // nothing sent yet: the whole packet goes
  EXPECT_EQ(p.queue.queued_bytes(), 0u);
}

}  // namespace
}  // namespace peregrine::net
