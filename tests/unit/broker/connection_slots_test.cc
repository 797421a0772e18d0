// max_connections: the total and each listener's bound, exact under concurrent takers.
#include "src/broker/connection_slots.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace peregrine::broker {
namespace {

TEST(ConnectionSlots, TheTotalAndEachListenerAreBounded) {
  ConnectionSlots slots;
  slots.set_limits(3, {1, 0});
  EXPECT_TRUE(slots.take(0));
  EXPECT_FALSE(slots.take(0));  // listener 0 holds its one
  EXPECT_TRUE(slots.take(1));
  EXPECT_TRUE(slots.take(ConnectionSlots::kNoListener));
  EXPECT_EQ(slots.connected(), 3u);
  EXPECT_FALSE(slots.take(1));  // the total is reached
  EXPECT_EQ(slots.connected(), 3u);  // a refusal takes nothing
  slots.give_back(0);
  EXPECT_FALSE(slots.take(ConnectionSlots::kNoListener) && slots.take(0));
  EXPECT_EQ(slots.connected(), 3u);
}

// A reload moves the bounds: lowering one refuses new clients until the count is under
// it (nobody is disconnected); raising it admits them at once.
TEST(ConnectionSlots, AReloadMovesTheBounds) {
  ConnectionSlots slots;
  slots.set_limits(0, {0});
  ASSERT_TRUE(slots.take(0));
  ASSERT_TRUE(slots.take(0));
  slots.set_listener_limit(0, 1);
  EXPECT_FALSE(slots.take(0));
  EXPECT_EQ(slots.connected(), 2u);
  slots.give_back(0);
  EXPECT_FALSE(slots.take(0));  // one left, at the bound of one
  slots.give_back(0);
  EXPECT_TRUE(slots.take(0));
  slots.set_total_limit(1);
  EXPECT_FALSE(slots.take(ConnectionSlots::kNoListener));
  slots.set_total_limit(0);
  EXPECT_TRUE(slots.take(ConnectionSlots::kNoListener));
}

TEST(ConnectionSlots, NoBoundStillCounts) {
  ConnectionSlots slots;
  slots.set_limits(0, {});
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(slots.take(2));
  }
  EXPECT_EQ(slots.connected(), 1000u);
  slots.give_back(2);
  EXPECT_EQ(slots.connected(), 999u);
}

TEST(ConnectionSlots, ConcurrentTakersNeverPassTheBound) {
  ConnectionSlots slots;
  slots.set_limits(500, {});
  std::vector<std::thread> threads;
  std::atomic<int> taken{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        if (slots.take(0)) {
          taken++;
          if (i % 3 == 0) {
            slots.give_back(0);
            taken--;
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(taken.load(), 500);
  EXPECT_EQ(slots.connected(), 500u);
}

}  // namespace
}  // namespace peregrine::broker
