// An immutable buffer shared by reference count: one payload referenced by every
// subscriber's send queue on every shard. The count is atomic because buffers cross
// shards; the last holder frees it, on whichever shard that is.
#pragma once

#include <atomic>
#include <cstdint>

namespace peregrine::io {

class SharedBuffer {
 public:
  void ref() { _refs.fetch_add(1, std::memory_order_relaxed); }
  void unref() {
    if (_refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      destroy();
    }
  }
  uint32_t ref_count() const { return _refs.load(std::memory_order_relaxed); }

 protected:
  SharedBuffer() = default;
  virtual ~SharedBuffer() = default;
  // Frees the object; called exactly once, by the last unref().
  virtual void destroy() = 0;

 private:
  std::atomic<uint32_t> _refs{1};
};

}  // namespace peregrine::io
