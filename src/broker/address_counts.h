// Per source address, across every shard: MQTT clients connected at once (`[limits]
// max_connections_per_address`, CONNACK 0x97) and new connections per second
// (`max_new_connections_per_address`, the socket closed at accept). An address is an IPv4
// address or an IPv6 /64 (one host's usual share; an IPv4-mapped IPv6 address counts as
// its IPv4 one).
//
// Shared by the shards outside their mailboxes, like ConnectionSlots (whose member it
// is): touched twice in a connection's life, never per message. Counted in a count-min
// sketch of two rows of kBuckets relaxed atomics, each address in one bucket of each row
// (a hash salted per process): the estimate, the smaller of its two buckets, is never
// below the address's true count, so an address never gets past its bound; a shared
// bucket in both rows can only make it refuse early, which needs two collisions with
// busy addresses at once (counted as the same refusal). Fixed memory (64 KiB + 128 KiB)
// whatever the number of addresses: no table to grow, lock or evict. Owned by main;
// outlives the shards.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "src/net/listener.h"

namespace peregrine::broker {

class AddressCounts {
 public:
  static constexpr uint32_t kBuckets = 8192;  // per row; a power of two

  // The key an address is counted under (0 for an unknown address: never limited).
  static uint64_t key_of(const net::PeerAddress& peer);

  // Bounds, set before the shards start and on a reload (read relaxed). 0: none.
  void set_limits(uint32_t connected, uint32_t new_per_second) {
    _connected_limit.store(connected, std::memory_order_relaxed);
    _new_limit.store(new_per_second, std::memory_order_relaxed);
  }
  // A connected client from `key`: false, having taken nothing, past the bound. Taken
  // even without a bound, so that a bound set by a reload counts those already here.
  bool take(uint64_t key);
  void give_back(uint64_t key);
  // A new connection from `key` in second `now_s`: false when this one is past the
  // bound for that second (refused attempts count: a flood stays refused).
  bool admit_new(uint64_t key, uint64_t now_s);

 private:
  uint32_t index(uint64_t key, int row) const {
    return static_cast<uint32_t>(row == 0 ? key : key >> 32) & (kBuckets - 1);
  }
  std::atomic<uint32_t> _connected_limit{0};
  std::atomic<uint32_t> _new_limit{0};
  std::array<std::array<std::atomic<uint32_t>, kBuckets>, 2> _connected{};
  // (second << 32) | connections in it.
  std::array<std::array<std::atomic<uint64_t>, kBuckets>, 2> _new{};
};

}  // namespace peregrine::broker
