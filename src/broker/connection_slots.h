// MQTT clients connected at once, in all and per listener, against `[limits]
// max_connections` and each listener's `?max_connections=N`: a CONNECT past either bound
// is refused (v5 CONNACK 0x97 Quota exceeded; 3.1 / 3.1.1: 3, server unavailable).
//
// The one count the shards share outside their mailboxes: a client takes its slot when
// its CONNECT is accepted and gives it back when it is destroyed, on whichever shard it
// is then — twice in a connection's life, never per message. An atomic each, so that the
// bound is exact however clients spread over shards (a per-shard share would refuse
// clients while the broker as a whole had room). Owned by main; outlives the shards.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "src/broker/address_counts.h"

namespace peregrine::broker {

class ConnectionSlots {
 public:
  static constexpr uint16_t kMaxListeners = 64;
  static constexpr uint16_t kNoListener = UINT16_MAX;  // embedders' and tests' clients

  // Before the shards start, and again on a reload (main thread; shards read the bounds
  // relaxed: a CONNECT racing a reload meets the old bound or the new). 0: no bound.
  // Lowering a bound disconnects nobody: clients above it stay, new ones are refused
  // until the count is under it.
  void set_limits(uint32_t total, const std::vector<uint32_t>& per_listener);
  void set_total_limit(uint32_t limit) { _total_limit.store(limit, std::memory_order_relaxed); }
  void set_listener_limit(uint16_t listener, uint32_t limit) {
    _limits[listener].store(limit, std::memory_order_relaxed);
  }
  // Takes a slot for a client of `listener`: false, having taken nothing, when the
  // total or that listener's bound is reached.
  bool take(uint16_t listener);
  void give_back(uint16_t listener);
  uint32_t connected() const { return _total.load(std::memory_order_relaxed); }
  // Per source address ([limits] max_connections_per_address and
  // max_new_connections_per_address): taken after a slot, given back with it.
  AddressCounts& addresses() { return _addresses; }

 private:
  static bool take_one(std::atomic<uint32_t>& count, uint32_t limit);
  std::atomic<uint32_t> _total_limit{0};
  std::atomic<uint32_t> _total{0};
  std::array<std::atomic<uint32_t>, kMaxListeners> _limits{};
  std::array<std::atomic<uint32_t>, kMaxListeners> _counts{};
  AddressCounts _addresses;
};

}  // namespace peregrine::broker
