#include "bench/load/sequence_tracker.h"

namespace peregrine::bench {

bool SequenceTracker::seen(uint64_t sequence) const {
  const uint64_t slot = sequence % kWindow;
  return (_bits[slot / 64] >> (slot % 64)) & 1;
}

void SequenceTracker::mark(uint64_t sequence) {
  const uint64_t slot = sequence % kWindow;
  _bits[slot / 64] |= uint64_t{1} << (slot % 64);
}

void SequenceTracker::clear(uint64_t sequence) {
  const uint64_t slot = sequence % kWindow;
  _bits[slot / 64] &= ~(uint64_t{1} << (slot % 64));
}

void SequenceTracker::record(uint64_t sequence, StreamCounters& counters) {
  counters.received++;
  if (sequence >= _next) {
    // Slots between the old and the new head now stand for sequences not seen yet.
    const uint64_t first = sequence >= _next + kWindow ? sequence + 1 - kWindow : _next;
    for (uint64_t s = first; s < sequence; s++) {
      clear(s);
    }
    mark(sequence);
    _next = sequence + 1;
    _unique++;
    return;
  }
  if (_next - sequence > kWindow) {
    counters.reordered++;
    _unique++;
    return;
  }
  if (seen(sequence)) {
    counters.duplicated++;
    return;
  }
  mark(sequence);
  counters.reordered++;
  _unique++;
}

}  // namespace peregrine::bench
