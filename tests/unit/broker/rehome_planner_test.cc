#include "src/broker/rehome_planner.h"

#include <gtest/gtest.h>

#include <memory>

namespace peregrine::broker {
namespace {

// Shard 0 of three, its outbox on a mailbox grid nobody drains but the test.
class RehomePlannerTest : public ::testing::Test {
 protected:
  static shard::ShardGroupOptions options() {
    shard::ShardGroupOptions o;
    o.shards = 3;
    o.mailbox_capacity = 16;
    return o;
  }
  void drain(uint16_t to) {
    auto& queue = group.mailbox(0, to);
    queue.publish();
    shard::Envelope e;
    while (queue.try_pop(e)) {
      mail::discard(e);
    }
  }
  shard::ShardGroup group{options()};
  BrokerStats stats;
  Outbox outbox{group.shard(0), stats};
  RehomePlanner planner{outbox, true};
};

TEST_F(RehomePlannerTest, ARunOfOneTargetQualifiesAndStartsOver) {
  PublishRun run;
  uint16_t target = kNoShard;
  uint64_t ms = 0;
  for (int i = 0; i < 100 && target == kNoShard; ++i, ms += 10) {
    target = planner.note(run, uint64_t{1} << 2, ms);
  }
  EXPECT_EQ(target, 2);
  EXPECT_EQ(run.count, 0u);  // asked once: the next try is a new run
}

TEST_F(RehomePlannerTest, OnlyFromHomeOrBackHome) {
  EXPECT_TRUE(planner.admit(1, /*home=*/0, 1000, 0));  // from its home here
  EXPECT_TRUE(planner.admit(2, /*home=*/2, 1000, 0));  // away here, back home
  EXPECT_FALSE(planner.admit(1, /*home=*/2, 1000, 0)) << "away to a third shard";
}

TEST_F(RehomePlannerTest, NotWhileMailToAThirdShardWaitsAndNotPastTheWindowsBudget) {
  outbox.post(2, mail::Load{1});
  EXPECT_FALSE(planner.admit(1, 0, 1000, 0)) << "order: shard 2 has not taken our mail";
  drain(2);
  EXPECT_TRUE(planner.admit(1, 0, 1000, 0));
  for (uint32_t i = 1; i < RehomePlanner::kMaxRehomesPerWindow; ++i) {
    EXPECT_TRUE(planner.admit(1, 0, 1000, 0));
  }
  EXPECT_FALSE(planner.admit(1, 0, 1000, 0)) << "the window's budget is spent";
  EXPECT_TRUE(planner.admit(1, 0, 1000 + shard::Shard::kLoadWindowMs, 0));
}

TEST_F(RehomePlannerTest, NotToABusierShard) {
  planner.on_load(mail::Load{990}, 1, 0);
  EXPECT_FALSE(planner.admit(1, 0, 1000, 100));
  EXPECT_TRUE(planner.admit(1, 0, 1000, 985));  // within the slack of our own load
}

TEST_F(RehomePlannerTest, LoadIsToldOnAChangeOrOnceASecond) {
  planner.tell_load(1000, 300);
  drain(1);
  drain(2);
  EXPECT_TRUE(outbox.drained(1));
  planner.tell_load(1000 + shard::Shard::kLoadWindowMs, 305);  // too small a change
  EXPECT_TRUE(outbox.drained(1));
  planner.tell_load(1000 + 2 * shard::Shard::kLoadWindowMs, 400);
  EXPECT_FALSE(outbox.drained(1));
  drain(1);
  drain(2);
  planner.tell_load(2000 + 2 * shard::Shard::kLoadWindowMs, 400);  // a second later
  EXPECT_FALSE(outbox.drained(1));
  drain(1);
  drain(2);
}

}  // namespace
}  // namespace peregrine::broker
