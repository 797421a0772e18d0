#include "src/shard/spsc_queue.h"

#include <gtest/gtest.h>

#include <thread>

namespace peregrine::shard {
namespace {

TEST(SpscQueue, StagedItemsInvisibleUntilPublished) {
  SpscQueue<int> queue(4);
  EXPECT_TRUE(queue.try_push(1));
  int out = 0;
  EXPECT_FALSE(queue.try_pop(out));
  EXPECT_TRUE(queue.publish());
  EXPECT_FALSE(queue.publish());
  EXPECT_TRUE(queue.try_pop(out));
  EXPECT_EQ(out, 1);
}

TEST(SpscQueue, FullAtCapacityThenFreesAsConsumed) {
  SpscQueue<int> queue(4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(queue.try_push(i));
  }
  EXPECT_FALSE(queue.try_push(99));
  queue.publish();
  int out = 0;
  ASSERT_TRUE(queue.try_pop(out));
  EXPECT_EQ(out, 0);
  EXPECT_TRUE(queue.try_push(4));
  queue.publish();
  for (int expected = 1; expected <= 4; ++expected) {
    ASSERT_TRUE(queue.try_pop(out));
    EXPECT_EQ(out, expected);
  }
  EXPECT_TRUE(queue.empty_for_consumer());
}

TEST(SpscQueue, TwoThreadsKeepFifoOrder) {
  SpscQueue<uint64_t> queue(1024);
  constexpr uint64_t kCount = 1'000'000;
  std::thread producer([&] {
    uint64_t next = 0;
    while (next < kCount) {
      while (next < kCount && queue.try_push(next)) {
        ++next;
      }
      queue.publish();
    }
  });
  uint64_t expected = 0;
  uint64_t value = 0;
  while (expected < kCount) {
    if (queue.try_pop(value)) {
      ASSERT_EQ(value, expected);
      ++expected;
    }
  }
  producer.join();
}

}  // namespace
}  // namespace peregrine::shard
