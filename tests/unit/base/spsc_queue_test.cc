#include "src/base/spsc_queue.h"

#include <gtest/gtest.h>

#include <thread>

namespace peregrine::base {
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

TEST(SpscQueue, DrainedForTheProducerOnlyOnceEverythingPushedIsPopped) {
  SpscQueue<int> queue(8);
  EXPECT_TRUE(queue.drained_for_producer());
  queue.try_push(1);
  EXPECT_FALSE(queue.drained_for_producer());  // staged counts
  queue.try_push(2);
  queue.publish();
  int batch[8];
  EXPECT_EQ(queue.pop_some(batch, 1), 1u);
  EXPECT_FALSE(queue.drained_for_producer());
  EXPECT_EQ(queue.pop_some(batch, 8), 1u);
  EXPECT_TRUE(queue.drained_for_producer());
}

// The depth gauge: published and not yet popped (staged items are not mail yet).
TEST(SpscQueue, DepthCountsPublishedItemsNotYetPopped) {
  SpscQueue<int> queue(8);
  EXPECT_EQ(queue.depth_for_consumer(), 0u);
  queue.try_push(1);
  queue.try_push(2);
  EXPECT_EQ(queue.depth_for_consumer(), 0u);
  queue.publish();
  queue.try_push(3);
  EXPECT_EQ(queue.depth_for_consumer(), 2u);
  int out = 0;
  queue.try_pop(out);
  EXPECT_EQ(queue.depth_for_consumer(), 1u);
  queue.publish();
  EXPECT_EQ(queue.depth_for_consumer(), 2u);
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

// Pushes 0, 1, ... count-1 from another thread, publishing after each burst.
std::thread produce(SpscQueue<uint64_t>& queue, uint64_t count) {
  return std::thread([&queue, count] {
    uint64_t next = 0;
    while (next < count) {
      while (next < count && queue.try_push(next)) {
        ++next;
      }
      queue.publish();
    }
  });
}

TEST(SpscQueue, TwoThreadsKeepFifoOrder) {
  SpscQueue<uint64_t> queue(1024);
  constexpr uint64_t kCount = 1'000'000;
  std::thread producer = produce(queue, kCount);
  // Every value is taken before the producer is joined, right or wrong: an early return
  // would leave it joinable (std::terminate) or blocked on a full queue.
  uint64_t expected = 0;
  uint64_t value = 0;
  uint64_t out_of_order = 0;
  while (expected < kCount) {
    if (queue.try_pop(value)) {
      out_of_order += value != expected;
      ++expected;
    }
  }
  producer.join();
  EXPECT_EQ(out_of_order, 0u);
}

TEST(SpscQueue, PopSomeTakesWhatIsPublishedInOrderAcrossTheWrap) {
  SpscQueue<int> queue(4);
  int out[8] = {};
  EXPECT_EQ(queue.pop_some(out, 8), 0u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(queue.try_push(i));
  }
  queue.publish();
  ASSERT_TRUE(queue.try_push(3));  // staged, not yet visible
  ASSERT_EQ(queue.pop_some(out, 2), 2u);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 1);
  // The two slots popped are free again: the producer wraps into them.
  EXPECT_TRUE(queue.try_push(4));
  EXPECT_TRUE(queue.try_push(5));
  EXPECT_FALSE(queue.try_push(6));
  ASSERT_EQ(queue.pop_some(out, 8), 1u);  // only the published one
  EXPECT_EQ(out[0], 2);
  queue.publish();
  ASSERT_EQ(queue.pop_some(out, 8), 3u);
  EXPECT_EQ(out[0], 3);
  EXPECT_EQ(out[1], 4);
  EXPECT_EQ(out[2], 5);
  EXPECT_TRUE(queue.empty_for_consumer());
}

TEST(SpscQueue, TwoThreadsKeepFifoOrderPoppingBatches) {
  SpscQueue<uint64_t> queue(1024);
  constexpr uint64_t kCount = 1'000'000;
  std::thread producer = produce(queue, kCount);
  uint64_t expected = 0;
  uint64_t batch[32];
  uint64_t out_of_order = 0;
  while (expected < kCount) {
    const uint32_t n = queue.pop_some(batch, 32);
    for (uint32_t i = 0; i < n; ++i) {
      out_of_order += batch[i] != expected;
      ++expected;
    }
  }
  producer.join();
  EXPECT_EQ(out_of_order, 0u);
}

}  // namespace
}  // namespace peregrine::base
