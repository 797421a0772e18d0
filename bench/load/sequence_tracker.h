// Per-stream (one publisher as seen by one subscriber) order and loss bookkeeping. Owned
// by the worker thread of the subscriber. Memory is bounded: a 256-bit window behind the
// highest sequence seen tells a late message (reordered) from a second copy (duplicate);
// anything older than the window counts as reordered.
#pragma once

#include <array>
#include <cstdint>

namespace peregrine::bench {

struct StreamCounters {
  uint64_t received = 0;    // every copy, duplicates included
  uint64_t duplicated = 0;  // copies of a sequence already seen
  uint64_t reordered = 0;   // arrived after a higher sequence of the same stream
};

class SequenceTracker {
 public:
  static constexpr uint64_t kWindow = 256;

  // Records `sequence` (0-based, consecutive per publisher) into `counters`.
  void record(uint64_t sequence, StreamCounters& counters);
  // Unique sequences seen so far.
  uint64_t unique() const { return _unique; }

 private:
  bool seen(uint64_t sequence) const;
  void mark(uint64_t sequence);
  void clear(uint64_t sequence);

  std::array<uint64_t, kWindow / 64> _bits{};
  uint64_t _next = 0;  // one past the highest sequence seen
  uint64_t _unique = 0;
};

}  // namespace peregrine::bench
