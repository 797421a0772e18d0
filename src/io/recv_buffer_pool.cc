#include "src/io/recv_buffer_pool.h"

#include <sys/mman.h>

#include "src/base/assert.h"

namespace peregrine::io {

RecvBufferPool* RecvBufferPool::create(uint32_t ring_buffers, uint32_t spare_buffers,
                                       uint32_t size, std::string* why) {
  const size_t bytes = (size_t{ring_buffers} + spare_buffers) * size;
  void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1,
                      0);
  if (memory == MAP_FAILED) {
    *why = "mmap of the provided receive buffers failed";
    return nullptr;
  }
  return new RecvBufferPool(static_cast<uint8_t*>(memory), ring_buffers, spare_buffers, size);
}

RecvBufferPool::RecvBufferPool(uint8_t* memory, uint32_t ring_buffers, uint32_t spare_buffers,
                               uint32_t size)
    : _memory(memory),
      _count(ring_buffers + spare_buffers),
      _size(size),
      _max_held(spare_buffers),
      _slots(_count) {
  PG_ASSERT(_count <= 65536);
  for (uint32_t i = 0; i < _count; ++i) {
    _slots[i].pool = this;
    _slots[i].bid = static_cast<uint16_t>(i);
  }
  // Taken from the back: the lowest spare first.
  for (uint32_t i = _count; i > ring_buffers; --i) {
    _spares.push_back(static_cast<uint16_t>(i - 1));
  }
}

RecvBufferPool::~RecvBufferPool() { munmap(_memory, size_t{_count} * _size); }

uint16_t RecvBufferPool::kernel_done(uint16_t bid) {
  Slot& slot = _slots[bid];
  if (slot.holds == 0) {
    return bid;
  }
  // At most _max_held (= the spares) are held, and each held buffer out of the ring took
  // one spare: one is left.
  PG_ASSERT(!_spares.empty());
  slot.kernel_done = true;
  const uint16_t spare = _spares.back();
  _spares.pop_back();
  return spare;
}

RecvHold* RecvBufferPool::hold(uint16_t bid) {
  Slot& slot = _slots[bid];
  if (slot.holds == 0) {
    if (_held_buffers >= max_held_buffers()) {
      return nullptr;
    }
    _held_buffers++;
  }
  slot.holds++;
  return &slot;
}

int RecvBufferPool::buffer_of(std::span<const uint8_t> bytes) const {
  if (bytes.data() < _memory || bytes.data() >= _memory + size_t{_count} * _size) {
    return -1;
  }
  const size_t offset = static_cast<size_t>(bytes.data() - _memory);
  const size_t bid = offset / _size;
  if (offset + bytes.size() > (bid + 1) * _size) {
    return -1;
  }
  return static_cast<int>(bid);
}

void RecvBufferPool::Slot::release() { pool->released(*this); }

void RecvBufferPool::released(Slot& slot) {
  PG_ASSERT(slot.holds > 0);
  if (--slot.holds != 0) {
    return;
  }
  _held_buffers--;
  if (slot.kernel_done) {
    slot.kernel_done = false;
    _spares.push_back(slot.bid);  // its place in the ring was taken by a spare
  }
  if (_detached && _held_buffers == 0) {
    delete this;
  }
}

void RecvBufferPool::detach() {
  _detached = true;
  if (_held_buffers == 0) {
    delete this;
  }
}

}  // namespace peregrine::io
