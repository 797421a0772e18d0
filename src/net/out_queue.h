// A connection's outbound bytes: small per-packet heads copied into an arena, and shared
// payloads referenced without copying. Two generations: `pending` collects during a loop
// turn, `inflight` is what the one outstanding send covers (its arena never moves while
// the kernel may read it). Owned by one connection on one shard; bounded by its caller
// (the slow-reader limit).
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <vector>

#include "src/io/shared_buffer.h"

namespace peregrine::net {

class OutQueue {
 public:
  static constexpr int kMaxIov = 1024;  // IOV_MAX

  OutQueue() = default;
  ~OutQueue();
  OutQueue(const OutQueue&) = delete;
  OutQueue& operator=(const OutQueue&) = delete;

  void append_copy(std::span<const uint8_t> bytes);
  // References `owner` (one ref taken) for as long as `bytes` (inside it) is queued.
  void append_shared(io::SharedBuffer* owner, std::span<const uint8_t> bytes);

  size_t queued_bytes() const { return _pending_bytes + _inflight_bytes; }
  bool has_pending() const { return !_pending.segments.empty(); }
  bool has_inflight() const { return !_inflight.segments.empty(); }

  // Moves pending into flight (if nothing is in flight) and returns the iovecs to send.
  std::span<const iovec> prepare_send();
  // The send wrote `n` bytes; releases what was fully sent.
  void consume(size_t n);
  void clear();

 private:
  struct Segment {
    io::SharedBuffer* owner;  // nullptr: `offset` indexes the arena
    const uint8_t* data;
    uint32_t offset;
    uint32_t length;
  };
  struct Generation {
    std::vector<Segment> segments;
    std::vector<uint8_t> arena;
    size_t first = 0;  // segments before it were sent
    void release();
  };

  Generation _pending;
  Generation _inflight;
  std::vector<iovec> _iov;
  size_t _pending_bytes = 0;
  size_t _inflight_bytes = 0;
};

}  // namespace peregrine::net
