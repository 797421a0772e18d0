#include "src/broker/rehome_policy.h"

#include <gtest/gtest.h>

namespace peregrine::broker {
namespace {

constexpr uint64_t bit(uint16_t i) { return uint64_t{1} << i; }

// Feeds `n` messages routed to `shards`, `gap_ms` apart from `start_ms`; returns the
// first decision that is not kNoShard (or kNoShard).
uint16_t feed(PublishRun& run, uint64_t shards, uint16_t self, int n, uint64_t start_ms,
              uint64_t gap_ms, const RehomeRules& rules = {}) {
  for (int i = 0; i < n; ++i) {
    const uint16_t to = note_routed(run, shards, self, start_ms + i * gap_ms, rules);
    if (to != kNoShard) {
      return to;
    }
  }
  return kNoShard;
}

TEST(RehomePolicy, ARunToOneOtherShardLongEnoughInCountAndTimeQualifies) {
  PublishRun run;
  // 8 messages, the 8th 280 ms after the first.
  EXPECT_EQ(feed(run, bit(1), 0, 8, 1000, 40), 1);
}

TEST(RehomePolicy, ManyMessagesInAShortBurstDoNotQualify) {
  PublishRun run;
  EXPECT_EQ(feed(run, bit(1), 0, 1000, 1000, 0), kNoShard);
  // Time alone does not either: few messages over a long time.
  PublishRun slow;
  EXPECT_EQ(feed(slow, bit(1), 0, 7, 1000, 1000), kNoShard);
}

TEST(RehomePolicy, SubscribersOnTwoShardsOrOnItsOwnBreakTheRun) {
  PublishRun run;
  EXPECT_EQ(feed(run, bit(1), 0, 7, 0, 50), kNoShard);
  EXPECT_EQ(note_routed(run, bit(1) | bit(2), 0, 400, {}), kNoShard);  // fan-out
  EXPECT_EQ(run.count, 0u);
  EXPECT_EQ(feed(run, bit(1), 0, 7, 500, 50), kNoShard);
  EXPECT_EQ(note_routed(run, bit(0), 0, 900, {}), kNoShard);  // its own shard only
  EXPECT_EQ(feed(run, bit(1), 0, 7, 1000, 50), kNoShard);
  EXPECT_EQ(feed(run, bit(1), 0, 1, 1400, 0), 1);  // 8 in a row again, 400 ms
}

TEST(RehomePolicy, AChangeOfTargetStartsANewRun) {
  PublishRun run;
  EXPECT_EQ(feed(run, bit(1), 0, 7, 0, 50), kNoShard);
  EXPECT_EQ(feed(run, bit(2), 0, 7, 400, 50), kNoShard);
  EXPECT_EQ(run.shard, 2);
  EXPECT_EQ(run.since_ms, 400u);
  EXPECT_EQ(feed(run, bit(2), 0, 1, 800, 0), 2);
}

TEST(RehomePolicy, MessagesNobodyTakesNeitherCountNorBreak) {
  PublishRun run;
  EXPECT_EQ(feed(run, bit(3), 5, 7, 0, 50), kNoShard);
  EXPECT_EQ(feed(run, 0, 5, 100, 350, 1), kNoShard);
  EXPECT_EQ(run.count, 7u);
  EXPECT_EQ(feed(run, bit(3), 5, 1, 500, 0), 3);
}

TEST(RehomePolicy, HighShardNumbers) {
  PublishRun run;
  EXPECT_EQ(feed(run, bit(63), 0, 8, 0, 40), 63);
}

TEST(RehomePolicy, TheTargetTakesWorkUnlessItIsClearlyTheBusierOne) {
  const RehomeRules rules;
  EXPECT_TRUE(target_has_room(900, 100, rules));   // nearly idle target
  EXPECT_TRUE(target_has_room(100, 499, rules));   // below half busy: takes it anyway
  EXPECT_TRUE(target_has_room(1000, 1000, rules)); // both saturated: a wash, saves hops
  EXPECT_TRUE(target_has_room(600, 700, rules));   // within the slack
  EXPECT_FALSE(target_has_room(600, 701, rules));
  EXPECT_FALSE(target_has_room(0, 1000, rules));
}

}  // namespace
}  // namespace peregrine::broker
