// The per-client limits a broker applies to what a client sends (include/peregrine/
// options.h, [limits]): topic length and depth, and the packet rate. Pure: the client
// keeps a PacketRate and asks; the answers (reason codes) are Client's.
//
// Invariants: a PacketRate's credit never exceeds its bucket (burst x 1000 milli-packets);
// a topic's depth is its count of '/', a shared filter's counted without its
// $share/<group>/ prefix.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "include/peregrine/options.h"

namespace peregrine::broker {

// Cloudflare's measure of depth: the '/' in a topic ("a/b/c" is 2).
inline uint32_t topic_depth(std::string_view topic) {
  return static_cast<uint32_t>(std::count(topic.begin(), topic.end(), '/'));
}

enum class TopicFit : uint8_t { kFits, kTooLong, kTooDeep };

// A topic name (PUBLISH, will) against the limits.
inline TopicFit fit_topic(std::string_view topic, const Limits& limits) {
  if (topic.size() > limits.max_topic_length) {
    return TopicFit::kTooLong;
  }
  if (limits.max_topic_depth != 0 && topic_depth(topic) > limits.max_topic_depth) {
    return TopicFit::kTooDeep;
  }
  return TopicFit::kFits;
}

// A SUBSCRIBE filter: its length whole, its depth without a $share/<group>/ prefix (the
// topics it matches are what the depth bounds).
TopicFit fit_filter(std::string_view filter, const Limits& limits);

// A token bucket of packets: `burst` packets (0: one second's worth), refilled at
// `per_second`. Credit is kept in thousandths of a packet so that rates below one per
// millisecond refill exactly; 16 bytes a client.
class PacketRate {
 public:
  // Full, as of `now_ms`: a client starts with its whole burst.
  void fill(uint64_t now_ms, const Limits& limits) {
    _credit = bucket(limits);
    _at_ms = now_ms;
  }
  // One packet at `now_ms`: false when the client is over its rate (nothing taken).
  bool take(uint64_t now_ms, const Limits& limits) {
    const uint64_t cap = bucket(limits);
    if (now_ms > _at_ms) {
      // A wait of `cap` ms refills any bucket (the rate is at least 1); below it the
      // product stays under 2^50 (config: rate and burst at most 10^6).
      const uint64_t elapsed = now_ms - _at_ms;
      _credit = elapsed >= cap ? cap
                               : std::min<uint64_t>(cap, _credit + elapsed *
                                                              limits.max_packets_per_second);
      _at_ms = now_ms;
    }
    _credit = std::min<uint64_t>(_credit, cap);  // a reload may have lowered the burst
    if (_credit < kPacket) {
      return false;
    }
    _credit -= kPacket;
    return true;
  }

 private:
  static constexpr uint64_t kPacket = 1000;
  static uint64_t bucket(const Limits& limits) {
    const uint64_t burst =
        limits.packet_burst != 0 ? limits.packet_burst : limits.max_packets_per_second;
    return std::max<uint64_t>(burst, 1) * kPacket;
  }
  uint64_t _credit = 0;
  uint64_t _at_ms = 0;
};

}  // namespace peregrine::broker
