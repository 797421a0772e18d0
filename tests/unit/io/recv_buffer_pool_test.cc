#include "src/io/recv_buffer_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace peregrine::io {
namespace {

RecvBufferPool* make_pool(uint32_t ring = 8, uint32_t spares = 4, uint32_t size = 4096) {
  std::string why;
  RecvBufferPool* pool = RecvBufferPool::create(ring, spares, size, &why);
  EXPECT_NE(pool, nullptr) << why;
  return pool;
}

TEST(RecvBufferPool, AnUnheldBufferGoesStraightBackToTheRing) {
  RecvBufferPool* pool = make_pool();
  EXPECT_EQ(pool->kernel_done(3), 3);
  pool->detach();
}

TEST(RecvBufferPool, AHeldBufferIsReplacedByASpareAndBecomesOneOnItsLastRelease) {
  RecvBufferPool* pool = make_pool(8, 4);
  RecvHold* first = pool->hold(5);
  RecvHold* second = pool->hold(5);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(pool->held_buffers(), 1u);
  const uint16_t spare = pool->kernel_done(5);
  EXPECT_EQ(spare, 8);  // the first spare, never a buffer of the ring
  first->release();
  second->release();
  EXPECT_EQ(pool->held_buffers(), 0u);
  // 5 is a spare now: the next held buffer's replacement.
  RecvHold* on_spare = pool->hold(spare);
  EXPECT_EQ(pool->kernel_done(spare), 5);
  on_spare->release();
  pool->detach();
}

TEST(RecvBufferPool, ReleasedBeforeTheKernelIsDoneItStaysInTheRing) {
  // Incremental consumption: the kernel may still fill the rest of a buffer whose first
  // bytes were held and released already.
  RecvBufferPool* pool = make_pool();
  pool->hold(2)->release();
  EXPECT_EQ(pool->kernel_done(2), 2);
  pool->detach();
}

TEST(RecvBufferPool, HoldsStopAtTheSparesSoTheRingNeverRunsDry) {
  RecvBufferPool* pool = make_pool(8, 4);
  std::vector<RecvHold*> holds;
  std::vector<uint16_t> in_ring;
  for (uint16_t bid = 0; bid < pool->max_held_buffers(); ++bid) {
    holds.push_back(pool->hold(bid));
    ASSERT_NE(holds.back(), nullptr);
    in_ring.push_back(pool->kernel_done(bid));
  }
  EXPECT_EQ(pool->hold(7), nullptr);  // a fifth buffer: refused, its payload is copied
  RecvHold* again = pool->hold(0);    // one already held: one more hold on it
  ASSERT_NE(again, nullptr);
  again->release();
  // Every replacement was a distinct spare, none a buffer still held.
  std::sort(in_ring.begin(), in_ring.end());
  EXPECT_EQ(in_ring, (std::vector<uint16_t>{8, 9, 10, 11}));
  holds[0]->release();
  RecvHold* last = pool->hold(7);
  EXPECT_NE(last, nullptr);  // room again
  pool->detach();            // the ring goes; the holds remain
  for (size_t i = 1; i < holds.size(); ++i) {
    holds[i]->release();
  }
  last->release();  // frees the pool (ASan's leak check sees it if not)
}

TEST(RecvBufferPool, TheMemoryOutlivesTheRingUntilTheLastHoldIsReleased) {
  RecvBufferPool* pool = make_pool();
  RecvHold* hold = pool->hold(7);
  uint8_t* bytes = pool->buffer(7);
  bytes[0] = 42;
  pool->kernel_done(7);
  pool->detach();
  EXPECT_EQ(bytes[0], 42);  // still mapped (ASan would see a freed pool)
  hold->release();          // frees the pool
}

TEST(RecvBufferPool, BufferOfFindsOnlyBytesWhollyInOneBuffer) {
  RecvBufferPool* pool = make_pool(2, 2, 1024);
  const uint8_t* base = pool->buffer(0);
  EXPECT_EQ(pool->buffer_of({base + 10, 100}), 0);
  EXPECT_EQ(pool->buffer_of({base + 3 * 1024, 1024}), 3);  // a spare
  EXPECT_EQ(pool->buffer_of({base + 1000, 100}), -1);      // crosses into buffer 1
  EXPECT_EQ(pool->buffer_of({base + 4 * 1024, 1}), -1);    // past the last
  const uint8_t elsewhere[8] = {};
  EXPECT_EQ(pool->buffer_of({elsewhere, sizeof elsewhere}), -1);
  pool->detach();
}

}  // namespace
}  // namespace peregrine::io
