// Test helpers for the codec: value equality for packets (they hold spans, which have no
// operator==), printers for failure messages, and frame-then-decode of a byte string.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <vector>

#include "src/mqtt/codec.h"

namespace peregrine::mqtt {

inline bool same_bytes(Bytes a, Bytes b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

inline bool same_bytes(const std::optional<Bytes>& a, const std::optional<Bytes>& b) {
  return a.has_value() == b.has_value() && (!a.has_value() || same_bytes(*a, *b));
}

inline bool operator==(const Will& a, const Will& b) {
  return a.qos == b.qos && a.retain == b.retain && a.topic == b.topic &&
         same_bytes(a.payload, b.payload) && a.properties == b.properties;
}

inline bool operator==(const Connect& a, const Connect& b) {
  return a.version == b.version && a.clean_start == b.clean_start &&
         a.keep_alive == b.keep_alive && a.client_id == b.client_id && a.will == b.will &&
         a.username == b.username && same_bytes(a.password, b.password) &&
         a.properties == b.properties;
}

inline bool operator==(const Connack& a, const Connack& b) {
  return a.session_present == b.session_present && a.reason == b.reason &&
         a.properties == b.properties;
}

inline bool operator==(const Publish& a, const Publish& b) {
  return a.qos == b.qos && a.retain == b.retain && a.dup == b.dup && a.topic == b.topic &&
         a.packet_id == b.packet_id && a.properties == b.properties &&
         same_bytes(a.payload, b.payload);
}

inline bool operator==(const Ack& a, const Ack& b) {
  return a.type == b.type && a.packet_id == b.packet_id && a.reason == b.reason &&
         a.properties == b.properties;
}

inline bool operator==(const Subscribe& a, const Subscribe& b) {
  return a.packet_id == b.packet_id && a.properties == b.properties &&
         a.subscriptions == b.subscriptions;
}

inline bool operator==(const Suback& a, const Suback& b) {
  return a.packet_id == b.packet_id && a.properties == b.properties && a.reasons == b.reasons;
}

inline bool operator==(const Unsubscribe& a, const Unsubscribe& b) {
  return a.packet_id == b.packet_id && a.properties == b.properties && a.filters == b.filters;
}

inline bool operator==(const Unsuback& a, const Unsuback& b) {
  return a.packet_id == b.packet_id && a.properties == b.properties && a.reasons == b.reasons;
}

inline bool operator==(const Pingreq&, const Pingreq&) { return true; }
inline bool operator==(const Pingresp&, const Pingresp&) { return true; }

inline bool operator==(const Disconnect& a, const Disconnect& b) {
  return a.reason == b.reason && a.properties == b.properties;
}

inline bool operator==(const Auth& a, const Auth& b) {
  return a.reason == b.reason && a.properties == b.properties;
}

inline std::ostream& operator<<(std::ostream& os, ReasonCode rc) {
  return os << reason_name(rc) << " (0x" << std::hex << static_cast<int>(rc) << std::dec << ")";
}

inline std::ostream& operator<<(std::ostream& os, FrameStatus s) {
  static const char* const kNames[] = {"complete", "need_more", "malformed", "too_large"};
  return os << kNames[static_cast<int>(s)];
}

inline std::ostream& operator<<(std::ostream& os, const Packet& p) {
  return os << "packet type " << static_cast<int>(packet_type(p));
}

}  // namespace peregrine::mqtt

namespace peregrine::mqtt::testing {

inline std::vector<uint8_t> wire(std::initializer_list<int> bytes) {
  std::vector<uint8_t> v;
  for (int b : bytes) {
    v.push_back(static_cast<uint8_t>(b));
  }
  return v;
}

inline Bytes view(const std::vector<uint8_t>& v) { return Bytes(v.data(), v.size()); }

inline Bytes view(std::string_view s) { return as_bytes(s); }

// Frames `bytes` as exactly one complete packet and decodes it.
inline ReasonCode decode_one(ProtocolVersion version, const std::vector<uint8_t>& bytes,
                             Packet& out) {
  const Frame frame = read_frame(view(bytes), kMaxRemainingLength + 5);
  if (frame.status != FrameStatus::kComplete || frame.header.total_length() != bytes.size()) {
    return ReasonCode::kUnspecifiedError;
  }
  return decode(version, frame.header, view(bytes).subspan(frame.header.header_length), out);
}

}  // namespace peregrine::mqtt::testing
