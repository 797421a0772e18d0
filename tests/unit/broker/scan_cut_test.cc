// ScanCut: which path owns a retained message a scan finds (scan_cut.h).
#include "src/broker/scan_cut.h"

#include <gtest/gtest.h>

namespace peregrine::broker {
namespace {

using Verdict = ScanCut::Verdict;

// Shard 0 is home; shard 1 had routed here QoS 1/2 up to 10 and QoS 0 up to 20 at the
// SUBSCRIBE, and acked the routes at 30; home had routed 50.
ScanCut cut() {
  ScanCut c;
  c.home = 0;
  c.origins.resize(2);
  c.origins[0].before[0] = c.origins[0].before[1] = c.origins[0].acked = 50;
  c.origins[1].before[0] = 10;
  c.origins[1].before[1] = 20;
  c.origins[1].acked = 30;
  return c;
}

TEST(ScanCut, HomesOwnMessagesSplitAtTheSubscribe) {
  const ScanCut c = cut();
  EXPECT_EQ(c.judge(0, 50, 1), Verdict::kDeliver);  // routed before: never met it live
  EXPECT_EQ(c.judge(0, 51, 1), Verdict::kLive);     // after: met the subscription
  EXPECT_EQ(c.judge(0, 51, 0), Verdict::kLive);
}

TEST(ScanCut, AnotherShardsMessagesSplitByClassAndByItsAck) {
  const ScanCut c = cut();
  // QoS 1/2: arrived before the SUBSCRIBE up to 10; in the window up to the ack.
  EXPECT_EQ(c.judge(1, 10, 1), Verdict::kDeliver);
  EXPECT_EQ(c.judge(1, 11, 2), Verdict::kUnlessNoted);
  EXPECT_EQ(c.judge(1, 30, 1), Verdict::kUnlessNoted);
  EXPECT_EQ(c.judge(1, 31, 1), Verdict::kLive);
  // QoS 0 may overtake waiting QoS 1/2: its own line.
  EXPECT_EQ(c.judge(1, 15, 0), Verdict::kDeliver);
  EXPECT_EQ(c.judge(1, 21, 0), Verdict::kUnlessNoted);
  EXPECT_EQ(c.judge(1, 31, 0), Verdict::kLive);
}

TEST(ScanCut, AnAckOlderThanWhatArrivedLeavesNoWindow) {
  // The routes were in place long before (no change to ack for this SUBSCRIBE): what
  // arrived since counts, and everything later comes live.
  ScanCut c = cut();
  c.origins[1].acked = 5;
  EXPECT_EQ(c.judge(1, 10, 1), Verdict::kDeliver);
  EXPECT_EQ(c.judge(1, 11, 1), Verdict::kLive);
  EXPECT_EQ(c.judge(1, 20, 0), Verdict::kDeliver);
  EXPECT_EQ(c.judge(1, 21, 0), Verdict::kLive);
}

TEST(ScanCut, AnUnstampedMessageIsDelivered) {
  const ScanCut c = cut();
  EXPECT_EQ(c.judge(Message::kNoOrigin, 0, 1), Verdict::kDeliver);
  EXPECT_EQ(c.judge(7, 99, 1), Verdict::kDeliver);  // a shard past the cut's count
}

}  // namespace
}  // namespace peregrine::broker
