// The shard a name belongs to: a session's home (client id) and a retained topic's owner
// (topic), DESIGN.md §2. Pure; the same on every shard.
#pragma once

#include <cstdint>
#include <string_view>

namespace peregrine::broker {

// FNV-1a's low bits depend on few of the input's: its lowest bit is the parity of the odd
// bytes, so modulo two shards "bench-p17" and "bench-s17" always landed apart and every
// message of such a pair crossed shards. A 64-bit finalizer (MurmurHash3's fmix64)
// spreads every input bit over the bits the modulo keeps.
inline uint16_t shard_for(std::string_view name, uint16_t shards) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : name) {
    h = (h ^ c) * 1099511628211ULL;
  }
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return static_cast<uint16_t>(h % shards);
}

}  // namespace peregrine::broker
