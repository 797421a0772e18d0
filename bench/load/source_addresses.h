// How many loopback source addresses (127.0.0.1..N) a run spreads its connections over.
//
// connect() on Linux picks an ephemeral port by scanning the local port range, trying
// ports of one parity first (even, since 4.6) and checking each candidate against the
// established-socket table. While under half of those first-choice ports toward the
// broker are taken, a free one is found in a few tries; past that, every connect() scans
// further. A 19,000-connection run from one address spent 42 % of the generator's time
// in __inet_check_established (5.5k connects/s, against 47k/s over four addresses). So
// each address takes at most a quarter of the range: half of the first-choice half.
#pragma once

#include <algorithm>
#include <cstdint>

namespace peregrine::bench {

inline constexpr uint32_t kMaxSourceAddresses = 254;  // 127.0.0.1 .. 127.0.0.254

// Connections one source address takes for the local port range [low, high]; at least
// one, so that an empty or inverted range still spreads (over kMaxSourceAddresses).
constexpr uint32_t connections_per_source(uint32_t low, uint32_t high) {
  const uint32_t ports = high >= low ? high - low + 1 : 0;
  return std::max<uint32_t>(1, ports / 4);
}

constexpr uint32_t source_addresses_for(uint64_t clients, uint32_t per_source) {
  return static_cast<uint32_t>(
      std::clamp<uint64_t>((clients + per_source - 1) / per_source, 1, kMaxSourceAddresses));
}

}  // namespace peregrine::bench
