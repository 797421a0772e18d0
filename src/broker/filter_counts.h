// `[limits] max_subscribers_per_filter`: how many sessions subscribe to each topic filter,
// across the broker. Each filter is counted on one shard, its owner (the filter's hash
// modulo the shard count), in that shard's FilterCounts; the others ask it by mail
// (mail::FilterReserve, answered with mail::FilterReserved) before they grant a new
// subscription, and tell it when one ends (mail::FilterCount). A shared subscription's
// `$share/<group>/<filter>` is its own filter: the group's members count against it.
//
// Keyed by the first 64 bits of the filter's SHA-256: the same in every process (the
// simulation replays a seed from its number alone; an unkeyed fast hash salted per
// process made owners differ from run to run), and a client cannot make its filter share
// a count with another's without a 64-bit second preimage. Hashed once per new
// subscription and per removal, never per message. Bounded by the filters subscribed on
// the broker; an entry goes when its count reaches 0. Lives on its shard's thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "src/base/assert.h"

namespace peregrine::broker {

class FilterCounts {
 public:
  static uint64_t key_of(std::string_view filter);
  static uint16_t owner_of(uint64_t key, uint16_t shards) {
    return static_cast<uint16_t>((key >> 17) % shards);
  }

  // One more subscriber if the filter has fewer than `limit` (0: no limit): whether it
  // was counted.
  bool reserve(uint64_t key, uint32_t limit) {
    uint32_t& count = _counts[key];  // a refusal finds it at the limit: never left at 0
    if (limit != 0 && count >= limit) {
      return false;
    }
    count++;
    return true;
  }
  // A subscription counted without asking (restored at start, put back after a failed
  // write), or one that ended (delta -1).
  void add(uint64_t key, int delta) {
    if (delta > 0) {
      _counts[key]++;
      return;
    }
    auto it = _counts.find(key);
    PG_ASSERT(it != _counts.end() && it->second > 0);
    if (--it->second == 0) {
      _counts.erase(it);
    }
  }
  uint32_t count(uint64_t key) const {
    auto it = _counts.find(key);
    return it == _counts.end() ? 0 : it->second;
  }
  size_t filters() const { return _counts.size(); }

 private:
  absl::flat_hash_map<uint64_t, uint32_t> _counts;
};

}  // namespace peregrine::broker
