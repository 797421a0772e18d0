// A connection's outbound bytes: small per-packet heads copied into an arena, and shared
// payloads referenced without copying. Two generations: `pending` collects during a loop
// turn, `inflight` is what the one outstanding send covers (its arena never moves while
// the kernel may read it). Owned by one connection on one shard; bounded by its caller
// (the slow-reader limit).
//
// Packet marks: the writer says where packets (or WebSocket frames) start, and a
// generation keeps such an offset at most once per kMarkEveryBytes — so that a drain can
// cut the in-flight generation at a packet boundary (cut_inflight()) and a slow reader's
// goodbye does not wait behind megabytes. Marks ascend; each is a packet's first byte.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <vector>

#include "src/io/shared_buffer.h"
#include "src/net/byte_arena.h"

namespace peregrine::net {

class OutQueue {
 public:
  static constexpr int kMaxIov = 1024;  // IOV_MAX
  // Shared pieces up to this size are copied into the arena instead: next to the packet
  // head they extend one segment, so a turn's small messages leave as a few large iovecs
  // (the kernel's per-iovec cost dominated small sends: `perf` put 23 % of the broker's
  // time in _copy_from_iter at two iovecs per 256-byte message), and no reference is
  // taken on a buffer that is often another shard's.
  static constexpr size_t kCopyUpTo = 1024;
  // ...while the turn's arena stays under this: beyond it pieces are referenced again, so
  // a burst (a retained scan's batch, a slow reader's backlog) does not copy without
  // bound. At 64 KiB a fan-in subscriber (~700 KB a turn) went out as two iovecs a
  // message past the first 230, sends capped by IOV_MAX at ~137 KB; at 1 MiB fan-in
  // delivers 14 % more for 18 % less broker CPU a message, retained-storm unchanged
  // (its page faults went with the mallopt thresholds). The slow-reader limit
  // (outbound_buffer_bytes, 4 MiB by default) still bounds what a connection queues.
  static constexpr size_t kCopyArenaBytes = 1024 * 1024;
  // At most one packet mark per this many bytes: a cut leaves at most this much (plus
  // the packet it falls in) before the goodbye, for one compare per packet written.
  static constexpr size_t kMarkEveryBytes = 64 * 1024;

  OutQueue() = default;
  ~OutQueue();
  OutQueue(const OutQueue&) = delete;
  OutQueue& operator=(const OutQueue&) = delete;

  // The next byte appended starts a packet (or a frame): a place a drain may cut.
  void mark_packet_start() {
    if (_pending_bytes >= _pending.next_mark) {
      _pending.marks.push_back(_pending_bytes);
      _pending.next_mark = _pending_bytes + kMarkEveryBytes;
    }
  }
  void append_copy(std::span<const uint8_t> bytes);
  // Both, copied, as one piece: a packet head and its small payload.
  void append_copy(std::span<const uint8_t> first, std::span<const uint8_t> second);
  // References `owner` (one ref taken) for as long as `bytes` (inside it) is queued;
  // copies `bytes` instead when it is small (kCopyUpTo, kCopyArenaBytes).
  void append_shared(io::SharedBuffer* owner, std::span<const uint8_t> bytes);
  // Whether append_shared() of `size` bytes would copy them.
  bool copies(size_t size) const {
    return size <= kCopyUpTo && _pending.arena.size() + size <= kCopyArenaBytes;
  }

  size_t queued_bytes() const { return _pending_bytes + _inflight_bytes; }
  size_t pending_bytes() const { return _pending_bytes; }
  // Heap bytes the queue keeps for reuse (vector capacities).
  size_t retained_bytes() const;
  bool has_pending() const { return !_pending.segments.empty(); }
  bool has_inflight() const { return !_inflight.segments.empty(); }

  // Moves pending into flight (if nothing is in flight) and returns the iovecs to send.
  std::span<const iovec> prepare_send();
  // The header naming prepare_send()'s iovecs, for the ring's send.
  msghdr* send_header() {
    _msg = {};
    _msg.msg_iov = _iov.data();
    _msg.msg_iovlen = _iov.size();
    return &_msg;
  }
  // The send wrote `n` bytes; releases what was fully sent.
  void consume(size_t n);
  void clear();
  // Drops the pending generation — whole packets no send has taken — and returns its
  // bytes; what is in flight stays (a packet cut short would corrupt the stream).
  size_t drop_pending() {
    const size_t dropped = _pending_bytes;
    _pending.release();
    _pending_bytes = 0;
    return dropped;
  }

  // Drops the in-flight generation's bytes from its first packet mark at or after what
  // has been sent (everything unsent when a packet starts right there); returns them.
  // Only while no send is outstanding: the kernel may be reading those bytes.
  size_t cut_inflight();

  // For transport layers that take what the protocol queued this turn. Both empty the
  // pending generation; the in-flight one is never touched.
  // Calls `fn(std::span<const uint8_t>)` for each pending piece in order.
  template <typename Fn>
  void drain_pending(Fn&& fn) {
    for (size_t i = _pending.first; i < _pending.segments.size(); ++i) {
      const Segment& seg = _pending.segments[i];
      fn(std::span<const uint8_t>(
          seg.owner != nullptr ? seg.data : _pending.arena.data() + seg.offset, seg.length));
    }
    _pending.release();
    _pending_bytes = 0;
  }
  // Appends the pending pieces to `to`'s pending generation: copies stay copies, shared
  // pieces move with their reference (no payload byte is copied).
  void move_pending_to(OutQueue& to);

 private:
  struct Segment {
    io::SharedBuffer* owner;  // nullptr: `offset` indexes the arena
    const uint8_t* data;
    uint32_t offset;
    uint32_t length;
  };
  struct Generation {
    std::vector<Segment> segments;
    ByteArena arena;
    size_t first = 0;  // segments before it were sent
    std::vector<size_t> marks;  // packet starts, as offsets from the generation's start
    size_t next_mark = 0;       // no mark before this offset (kMarkEveryBytes apart)
    size_t consumed = 0;        // bytes of it sent (in flight)
    void release();
  };

  // Records `n` bytes just copied to the pending arena at `offset`.
  void note_copied(uint32_t offset, size_t n);

  Generation _pending;
  Generation _inflight;
  std::vector<iovec> _iov;
  msghdr _msg{};
  size_t _pending_bytes = 0;
  size_t _inflight_bytes = 0;
};

}  // namespace peregrine::net
