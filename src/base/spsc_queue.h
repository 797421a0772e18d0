// Bounded single-producer single-consumer queue: the shard mailboxes (one per ordered
// pair of shards), and helper threads and the shard they serve. The producer stages
// pushes and makes them visible with publish() once per loop turn; the consumer pops. Head and tail sit on their own cache lines; each side caches the other's
// index to touch the shared line only when it must. At the bound, try_push() fails: the
// caller's policy decides (drop QoS 0 with a counter, or hold control items aside).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <type_traits>

#include "src/base/assert.h"

namespace peregrine::base {

template <typename T>
class SpscQueue {
 public:
  // Slots come from calloc: all-zero bytes are a valid T, and the kernel maps a large
  // queue's pages only as traffic first reaches them, so a big bound costs no memory until
  // bursts need it.
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);
  explicit SpscQueue(uint32_t capacity)
      : _mask(capacity - 1), _slots(static_cast<T*>(std::calloc(capacity, sizeof(T)))) {
    PG_ASSERT(capacity >= 2);
    PG_ASSERT((capacity & (capacity - 1)) == 0);  // a power of two: indexes mask
    PG_ASSERT(_slots != nullptr);
  }

  // Producer side.
  bool try_push(const T& item) {
    if (_staged_tail - _cached_head > _mask) {
      _cached_head = _head.load(std::memory_order_acquire);
      if (_staged_tail - _cached_head > _mask) {
        return false;
      }
    }
    _slots.get()[_staged_tail & _mask] = item;
    ++_staged_tail;
    return true;
  }
  // Every item pushed (staged or published) has been popped by the consumer, which
  // handles what it pops before it pops again: nothing sent through this queue so far
  // can still be overtaken by what goes through another.
  bool drained_for_producer() const {
    return _head.load(std::memory_order_acquire) == _staged_tail;
  }
  // Makes staged items visible; returns true if there were any.
  bool publish() {
    if (_staged_tail == _published_tail) {
      return false;
    }
    _published_tail = _staged_tail;
    _tail.store(_staged_tail, std::memory_order_release);
    return true;
  }

  // Consumer side.
  bool try_pop(T& out) {
    if (_consumer_head == _cached_tail) {
      _cached_tail = _tail.load(std::memory_order_acquire);
      if (_consumer_head == _cached_tail) {
        return false;
      }
    }
    out = _slots.get()[_consumer_head & _mask];
    ++_consumer_head;
    _head.store(_consumer_head, std::memory_order_release);
    return true;
  }
  // Pops up to `max` items into `out` at once (one store of the shared head); returns
  // how many.
  uint32_t pop_some(T* out, uint32_t max) {
    if (_consumer_head == _cached_tail) {
      _cached_tail = _tail.load(std::memory_order_acquire);
    }
    const uint64_t available = _cached_tail - _consumer_head;
    const uint32_t n = available < max ? static_cast<uint32_t>(available) : max;
    for (uint32_t i = 0; i < n; ++i) {
      out[i] = _slots.get()[(_consumer_head + i) & _mask];
    }
    if (n != 0) {
      _consumer_head += n;
      _head.store(_consumer_head, std::memory_order_release);
    }
    return n;
  }
  bool empty_for_consumer() const {
    return _consumer_head == _tail.load(std::memory_order_acquire);
  }
  // Items published and not yet popped (the operator's mailbox depth gauge).
  uint64_t depth_for_consumer() const {
    return _tail.load(std::memory_order_acquire) - _consumer_head;
  }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  const uint64_t _mask;
  std::unique_ptr<T, Free> _slots;
  alignas(64) std::atomic<uint64_t> _head{0};  // written by the consumer
  alignas(64) std::atomic<uint64_t> _tail{0};  // written by the producer
  alignas(64) uint64_t _staged_tail = 0;       // producer-local
  uint64_t _published_tail = 0;
  uint64_t _cached_head = 0;
  alignas(64) uint64_t _consumer_head = 0;  // consumer-local
  uint64_t _cached_tail = 0;
};

}  // namespace peregrine::base
