// The stamp at the front of every benchmark payload: run id, publisher id, sequence and
// send time (CLOCK_MONOTONIC ns, comparable across threads and processes of one host).
// The run id keeps messages of other runs (retained leftovers, a second generator) out of
// the counts. Host byte order: the stamp is written and read on the same machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

namespace peregrine::bench {

struct PayloadStamp {
  uint32_t run_id = 0;
  uint32_t publisher = 0;
  uint64_t sequence = 0;
  uint64_t send_ns = 0;
};

inline constexpr size_t kStampSize = 24;

inline void write_stamp(const PayloadStamp& stamp, uint8_t* out) {
  std::memcpy(out, &stamp.run_id, 4);
  std::memcpy(out + 4, &stamp.publisher, 4);
  std::memcpy(out + 8, &stamp.sequence, 8);
  std::memcpy(out + 16, &stamp.send_ns, 8);
}

// nullopt when the payload is too short to hold a stamp.
inline std::optional<PayloadStamp> read_stamp(const uint8_t* data, size_t size) {
  if (size < kStampSize) {
    return std::nullopt;
  }
  PayloadStamp stamp;
  std::memcpy(&stamp.run_id, data, 4);
  std::memcpy(&stamp.publisher, data + 4, 4);
  std::memcpy(&stamp.sequence, data + 8, 8);
  std::memcpy(&stamp.send_ns, data + 16, 8);
  return stamp;
}

}  // namespace peregrine::bench
