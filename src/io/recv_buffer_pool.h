// The io_uring ring's provided receive buffers, and holds on them: a large PUBLISH payload
// that lies whole in the buffer a recv just filled can become a Message without being
// copied (DESIGN.md §3 step 1), if that buffer is not handed back to the kernel while the
// message lives. For 16 KiB payloads that copy was 17 % of the broker's samples.
//
// The ring circulates `ring_buffers` of them; `spare_buffers` more wait outside it. A
// buffer that is held when the kernel is done with it is replaced in the ring by a spare,
// and becomes a spare itself on its last release. So the ring's working set (what the
// kernel writes into, round robin) stays ring_buffers large however many are held: with
// 256 buffers circulating, fan-in's CPU per message rose, the kernel's copies landing in
// memory no longer in cache. Spares are touched only when payloads are held.
//
// Owned by one shard thread: holds are taken inside its ring's on_recv() and released on
// that thread (Messages are freed on their home shard, MessageReclaimer), or after the
// thread ended (teardown, single-threaded then). Invariants:
//   - A buffer goes back to the kernel, or to the spares, only once the kernel has
//     finished filling it (the completion without IORING_CQE_F_BUF_MORE) and no hold on
//     it is left.
//   - At most spare_buffers are held at once; past that, hold() says no and the caller
//     copies. So a spare is always there to replace a held buffer, and held messages (a
//     slow subscriber's queue) never starve the ring.
//   - The pool, and the buffer memory, outlive the ring while holds remain: a message
//     freed after its shard's ring is gone still finds its buffer mapped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace peregrine::io {

// A receive buffer kept from reuse. release() once per hold taken.
class RecvHold {
 public:
  virtual void release() = 0;

 protected:
  ~RecvHold() = default;
};

class RecvBufferPool {
 public:
  // Buffers 0 .. ring_buffers-1 start in the ring, the rest are spares; all of `size`
  // bytes. nullptr and `why` if the memory cannot be mapped.
  static RecvBufferPool* create(uint32_t ring_buffers, uint32_t spare_buffers, uint32_t size,
                                std::string* why);

  uint8_t* buffer(uint16_t bid) const { return _memory + size_t{bid} * _size; }
  uint32_t count() const { return _count; }
  uint32_t size() const { return _size; }
  uint32_t held_buffers() const { return _held_buffers; }
  uint32_t max_held_buffers() const { return _max_held; }

  // The kernel finished filling `bid`: the buffer to put in its place in the ring (`bid`
  // itself when it is not held, else a spare).
  uint16_t kernel_done(uint16_t bid);
  // A hold on `bid`, or nullptr when max_held_buffers() are held already.
  RecvHold* hold(uint16_t bid);
  // The buffer holding `bytes`, if they lie whole in one; -1 otherwise.
  int buffer_of(std::span<const uint8_t> bytes) const;

  // The ring is going away: the pool frees itself now, or on the last release.
  void detach();

 private:
  struct Slot final : RecvHold {
    void release() override;
    RecvBufferPool* pool = nullptr;
    uint32_t holds = 0;
    uint16_t bid = 0;
    bool kernel_done = false;  // out of the ring, replaced there by a spare
  };

  RecvBufferPool(uint8_t* memory, uint32_t ring_buffers, uint32_t spare_buffers,
                 uint32_t size);
  ~RecvBufferPool();
  void released(Slot& slot);

  uint8_t* const _memory;
  const uint32_t _count;
  const uint32_t _size;
  const uint32_t _max_held;
  bool _detached = false;
  std::vector<Slot> _slots;
  std::vector<uint16_t> _spares;
  uint32_t _held_buffers = 0;
};

}  // namespace peregrine::io
