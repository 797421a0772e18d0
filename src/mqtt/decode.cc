// Decoding of packet bodies with the spec's validation. Every field is read through a
// bounds-checked Reader; the only allocations are the vectors inside the packet values,
// grown one element per wire item, so bounded by the packet's own size.
#include <initializer_list>

#include "src/base/assert.h"
#include "src/mqtt/codec.h"
#include "src/mqtt/property_codec.h"
#include "src/mqtt/utf8.h"
#include "src/mqtt/wire.h"

namespace peregrine::mqtt {

namespace {

constexpr ReasonCode kOk = ReasonCode::kSuccess;
constexpr ReasonCode kMalformed = ReasonCode::kMalformedPacket;
constexpr ReasonCode kProtocol = ReasonCode::kProtocolError;

// The reason codes a packet type may carry (spec §2.4 and each packet's section).
class ReasonSet {
 public:
  constexpr ReasonSet(std::initializer_list<uint8_t> codes) {
    for (uint8_t c : codes) {
      _bits[c >> 6] |= uint64_t{1} << (c & 63);
    }
  }
  constexpr bool has(uint8_t code) const { return (_bits[code >> 6] >> (code & 63)) & 1; }

 private:
  uint64_t _bits[4] = {};
};

constexpr ReasonSet kConnackReasons = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                       0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
                                       0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
constexpr ReasonSet kPubackReasons = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
constexpr ReasonSet kPubrelReasons = {0x00, 0x92};
constexpr ReasonSet kSubackReasons = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                      0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
constexpr ReasonSet kSubackV3Reasons = {0x00, 0x01, 0x02, 0x80};
constexpr ReasonSet kUnsubackReasons = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
constexpr ReasonSet kDisconnectReasons = {
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
    0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
constexpr ReasonSet kAuthReasons = {0x00, 0x18, 0x19};

// v3 CONNACK return codes 0..5, as the ReasonCode documented in packets.h.
constexpr ReasonCode kConnackV3Reasons[] = {
    ReasonCode::kSuccess,          ReasonCode::kUnsupportedProtocolVersion,
    ReasonCode::kClientIdentifierNotValid, ReasonCode::kServerUnavailable,
    ReasonCode::kBadUserNameOrPassword, ReasonCode::kNotAuthorized};

ReasonCode finish(const Reader& r) { return r.at_end() ? kOk : kMalformed; }

// Packet identifiers are non-zero wherever they appear [MQTT-2.2.1-3].
bool read_packet_id(Reader& r, uint16_t& id) { return r.u16(id) && id != 0; }

// Reserved fixed-header flags [MQTT-2.2.2-1..2]; PUBLISH flags are checked by its decoder.
bool flags_valid(PacketType type, uint8_t flags) {
  switch (type) {
    case PacketType::kPublish: return true;
    case PacketType::kPubrel:
    case PacketType::kSubscribe:
    case PacketType::kUnsubscribe:
      return flags == 0b0010;
    default: return flags == 0;
  }
}

// Authentication Data requires an Authentication Method (spec §3.1.2.11.10).
ReasonCode check_auth_pair(const Properties& p) {
  return p.authentication_data.has_value() && !p.authentication_method.has_value() ? kProtocol
                                                                                    : kOk;
}

// A payload announced as UTF-8 must be well-formed [MQTT-3.3.2-4].
ReasonCode check_payload_format(const Properties& p, Bytes payload) {
  if (p.payload_format_indicator == uint8_t{1} && !well_formed_utf8(as_string_view(payload))) {
    return ReasonCode::kPayloadFormatInvalid;
  }
  return kOk;
}

ReasonCode read_protocol(Reader& r, Connect& out) {
  Bytes name;
  uint8_t level = 0;
  if (!r.binary(name) || !r.u8(level)) {
    return kMalformed;
  }
  out.version = static_cast<ProtocolVersion>(level);
  const std::string_view n = as_string_view(name);
  const bool known = (n == "MQTT" && (level == 4 || level == 5)) || (n == "MQIsdp" && level == 3);
  return known ? kOk : ReasonCode::kUnsupportedProtocolVersion;
}

ReasonCode read_will(Reader& r, bool v5, Will& will) {
  if (v5) {
    const ReasonCode rc = read_properties(r, PropertyContext::kWill, will.properties);
    if (rc != kOk) {
      return rc;
    }
  }
  if (!r.utf8(will.topic) || !r.binary(will.payload)) {
    return kMalformed;
  }
  if (!valid_topic_name(will.topic)) {
    return ReasonCode::kTopicNameInvalid;
  }
  return kOk;
}

// Connect flags (spec §3.1.2.3); on success fills clean_start and the will's qos/retain.
ReasonCode read_connect_flags(uint8_t flags, bool v5, Connect& out) {
  const bool will = (flags & 0x04) != 0;
  const uint8_t will_qos = (flags >> 3) & 0x03;
  const bool will_retain = (flags & 0x20) != 0;
  const bool password = (flags & 0x40) != 0;
  const bool username = (flags & 0x80) != 0;
  if ((flags & 0x01) != 0) {
    return kMalformed;  // reserved [MQTT-3.1.2-3]
  }
  if (!will && (will_qos != 0 || will_retain)) {
    return kMalformed;  // [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]
  }
  if (will_qos == 3) {
    return kMalformed;  // [MQTT-3.1.2-14]
  }
  if (!v5 && password && !username) {
    return kMalformed;  // [MQTT-3.1.2-22]
  }
  out.clean_start = (flags & 0x02) != 0;
  if (will) {
    out.will.emplace();
    out.will->qos = will_qos;
    out.will->retain = will_retain;
  }
  return kOk;
}

// The Connect fields after the keep alive: properties, payload, then semantic checks.
ReasonCode read_connect_rest(Reader& r, uint8_t flags, bool v5, Connect& out) {
  if (v5) {
    const ReasonCode rc = read_properties(r, PropertyContext::kConnect, out.properties);
    if (rc != kOk) {
      return rc;
    }
  }
  if (!r.utf8(out.client_id)) {
    return kMalformed;
  }
  if (out.will.has_value()) {
    const ReasonCode rc = read_will(r, v5, *out.will);
    if (rc != kOk) {
      return rc;
    }
  }
  if ((flags & 0x80) != 0 && !r.utf8(out.username.emplace())) {
    return kMalformed;
  }
  if ((flags & 0x40) != 0 && !r.binary(out.password.emplace())) {
    return kMalformed;
  }
  if (!r.at_end()) {
    return kMalformed;
  }
  if (check_auth_pair(out.properties) != kOk) {
    return kProtocol;
  }
  if (out.will.has_value()) {
    return check_payload_format(out.will->properties, out.will->payload);
  }
  return kOk;
}

ReasonCode decode_connack(bool v5, Bytes body, Connack& out) {
  out = Connack{};
  Reader r(body);
  uint8_t ack_flags = 0;
  uint8_t code = 0;
  if (!r.u8(ack_flags) || !r.u8(code) || (ack_flags & 0xFE) != 0) {
    return kMalformed;  // reserved acknowledge flags [MQTT-3.2.2-1]
  }
  out.session_present = (ack_flags & 0x01) != 0;
  if (!v5) {
    if (code >= std::size(kConnackV3Reasons)) {
      return kMalformed;
    }
    out.reason = kConnackV3Reasons[code];
    return finish(r);
  }
  if (!kConnackReasons.has(code)) {
    return kMalformed;
  }
  out.reason = static_cast<ReasonCode>(code);
  const ReasonCode rc = read_properties(r, PropertyContext::kConnack, out.properties);
  if (rc != kOk) {
    return rc;
  }
  return r.at_end() ? check_auth_pair(out.properties) : kMalformed;
}

// PUBACK, PUBREC, PUBREL, PUBCOMP. v5 may omit the reason (Success) and the properties.
ReasonCode decode_ack(bool v5, PacketType type, Bytes body, Ack& out) {
  out.type = type;
  out.reason = kOk;
  if (out.properties_dirty) {
    clear_properties(out.properties);
    out.properties_dirty = false;
  }
  Reader r(body);
  if (!read_packet_id(r, out.packet_id)) {
    return kMalformed;
  }
  if (!v5 || r.at_end()) {
    return finish(r);
  }
  uint8_t code = 0;
  r.u8(code);
  const bool pub = type == PacketType::kPuback || type == PacketType::kPubrec;
  if (!(pub ? kPubackReasons : kPubrelReasons).has(code)) {
    return kMalformed;
  }
  out.reason = static_cast<ReasonCode>(code);
  if (r.at_end()) {
    return kOk;
  }
  out.properties_dirty = true;
  const ReasonCode rc = read_properties(r, PropertyContext::kAck, out.properties);
  return rc != kOk ? rc : finish(r);
}

// One subscription's options byte (spec §3.8.3.1).
ReasonCode read_options(uint8_t opts, bool v5, SubscriptionRequest& sub, const char*& fault) {
  sub.max_qos = opts & 0x03;
  if (!v5) {
    // 3.1.1 numbers this [MQTT-3-8.3-4]: QoS 3 or any upper bit is malformed.
    if (sub.max_qos == 3 || (opts & 0xFC) != 0) {
      fault = "QoS 3 or reserved bits in a requested QoS [MQTT-3-8.3-4]";
      return kMalformed;
    }
    return kOk;
  }
  if ((opts & 0xC0) != 0) {
    fault = "reserved bits in subscription options [MQTT-3.8.3-5]";
    return kMalformed;
  }
  if (sub.max_qos == 3) {
    fault = "Maximum QoS 3 in subscription options";  // 5.0 §3.8.3.1: a Protocol Error
    return kProtocol;
  }
  sub.no_local = (opts & 0x04) != 0;
  sub.retain_as_published = (opts & 0x08) != 0;
  sub.retain_handling = (opts >> 4) & 0x03;
  if (sub.retain_handling == 3) {
    fault = "Retain Handling 3 in subscription options";  // §3.8.3.1: a Protocol Error
    return kProtocol;
  }
  std::string_view group;
  std::string_view inner;
  if (sub.no_local && parse_shared_filter(sub.filter, group, inner)) {
    fault = "No Local on a shared subscription [MQTT-3.8.3-4]";
    return kProtocol;
  }
  return kOk;
}

ReasonCode decode_subscribe(bool v5, Bytes body, Subscribe& out, const char*& fault) {
  out = Subscribe{};
  Reader r(body);
  if (!read_packet_id(r, out.packet_id)) {
    return kMalformed;
  }
  if (v5) {
    const ReasonCode rc = read_properties(r, PropertyContext::kSubscribe, out.properties);
    if (rc != kOk) {
      return rc;
    }
  }
  while (!r.at_end()) {
    SubscriptionRequest sub;
    uint8_t opts = 0;
    if (!r.utf8(sub.filter) || !r.u8(opts)) {
      return kMalformed;
    }
    if (const char* syntax = filter_syntax_fault(sub.filter)) {
      fault = syntax;
      return kProtocol;
    }
    const ReasonCode rc = read_options(opts, v5, sub, fault);
    if (rc != kOk) {
      return rc;
    }
    out.subscriptions.push_back(sub);
  }
  if (out.subscriptions.empty()) {
    fault = "SUBSCRIBE without a topic filter [MQTT-3.8.3-2]";
    return kProtocol;
  }
  return kOk;
}

// SUBACK and UNSUBACK payloads: one reason per filter, never empty.
ReasonCode read_reasons(Reader& r, const ReasonSet& allowed, std::vector<ReasonCode>& out) {
  while (!r.at_end()) {
    const uint8_t code = *r.pos++;
    if (!allowed.has(code)) {
      return kMalformed;
    }
    out.push_back(static_cast<ReasonCode>(code));
  }
  return out.empty() ? kProtocol : kOk;
}

ReasonCode decode_suback(bool v5, Bytes body, Suback& out) {
  out = Suback{};
  Reader r(body);
  if (!read_packet_id(r, out.packet_id)) {
    return kMalformed;
  }
  if (v5) {
    const ReasonCode rc = read_properties(r, PropertyContext::kSuback, out.properties);
    if (rc != kOk) {
      return rc;
    }
  }
  return read_reasons(r, v5 ? kSubackReasons : kSubackV3Reasons, out.reasons);
}

ReasonCode decode_unsubscribe(bool v5, Bytes body, Unsubscribe& out, const char*& fault) {
  out = Unsubscribe{};
  Reader r(body);
  if (!read_packet_id(r, out.packet_id)) {
    return kMalformed;
  }
  if (v5) {
    const ReasonCode rc = read_properties(r, PropertyContext::kUnsubscribe, out.properties);
    if (rc != kOk) {
      return rc;
    }
  }
  while (!r.at_end()) {
    if (!r.utf8(out.filters.emplace_back())) {
      return kMalformed;
    }
    if (const char* syntax = filter_syntax_fault(out.filters.back())) {
      fault = syntax;
      return kProtocol;
    }
  }
  if (out.filters.empty()) {
    fault = "UNSUBSCRIBE without a topic filter [MQTT-3.10.3-2]";
    return kProtocol;
  }
  return kOk;
}

ReasonCode decode_unsuback(bool v5, Bytes body, Unsuback& out) {
  out = Unsuback{};
  Reader r(body);
  if (!read_packet_id(r, out.packet_id)) {
    return kMalformed;
  }
  if (!v5) {
    return finish(r);
  }
  const ReasonCode rc = read_properties(r, PropertyContext::kUnsuback, out.properties);
  return rc != kOk ? rc : read_reasons(r, kUnsubackReasons, out.reasons);
}

// DISCONNECT and AUTH (v5): an empty body means Success without properties; a lone
// reason byte means no properties.
template <class T>
ReasonCode decode_reason_only(Bytes body, const ReasonSet& allowed, PropertyContext context,
                              T& out) {
  out = T{};
  Reader r(body);
  if (r.at_end()) {
    return kOk;
  }
  const uint8_t code = *r.pos++;
  if (!allowed.has(code)) {
    return kMalformed;
  }
  out.reason = static_cast<ReasonCode>(code);
  if (r.at_end()) {
    return kOk;
  }
  const ReasonCode rc = read_properties(r, context, out.properties);
  if (rc != kOk) {
    return rc;
  }
  return r.at_end() ? check_auth_pair(out.properties) : kMalformed;
}

// Reuses the alternative already held so its vectors keep their capacity.
template <class T>
T& reuse(Packet& out) {
  if (T* held = std::get_if<T>(&out)) {
    return *held;
  }
  return out.emplace<T>();
}

}  // namespace

ReasonCode decode_connect(uint8_t flags, Bytes body, Connect& out) {
  out = Connect{};
  if (flags != 0) {
    return kMalformed;
  }
  Reader r(body);
  ReasonCode rc = read_protocol(r, out);
  if (rc != kOk) {
    return rc;
  }
  const bool v5 = out.version == ProtocolVersion::kV5;
  uint8_t connect_flags = 0;
  if (!r.u8(connect_flags) || !r.u16(out.keep_alive)) {
    return kMalformed;
  }
  rc = read_connect_flags(connect_flags, v5, out);
  if (rc != kOk) {
    return rc;
  }
  return read_connect_rest(r, connect_flags, v5, out);
}

ReasonCode decode_publish(ProtocolVersion version, uint8_t flags, Bytes body, Publish& out) {
  const uint8_t qos = (flags >> 1) & 0x03;
  const bool dup = (flags & 0x08) != 0;
  if (qos == 3 || (dup && qos == 0)) {
    return kMalformed;  // [MQTT-3.3.1-4], [MQTT-3.3.1-2]
  }
  out.qos = qos;
  out.dup = dup;
  out.retain = (flags & 0x01) != 0;
  out.packet_id = 0;
  Reader r(body);
  Bytes topic;
  if (!r.binary(topic)) {
    return kMalformed;
  }
  out.topic = as_string_view(topic);
  const ReasonCode topic_rc = scan_topic_name(out.topic);  // [MQTT-1.5.4-1], [MQTT-3.3.2-2]
  if (topic_rc != kOk) {
    return topic_rc;
  }
  const bool v5 = version == ProtocolVersion::kV5;
  if (topic.empty() && !v5) {
    return ReasonCode::kTopicNameInvalid;  // [MQTT-4.7.3-1]; v3 has no Topic Alias
  }
  if (qos > 0 && !read_packet_id(r, out.packet_id)) {
    return kMalformed;
  }
  if (out.properties_dirty) {
    clear_properties(out.properties);
    out.properties_dirty = false;
  }
  if (v5) {
    if (r.left() > 0 && *r.pos == 0) {
      ++r.pos;  // Property Length 0: nothing to read, nothing to clear next time
    } else {
      out.properties_dirty = true;
      const ReasonCode rc = read_properties(r, PropertyContext::kPublish, out.properties);
      if (rc != kOk) {
        return rc;
      }
    }
    if (topic.empty() && !out.properties.topic_alias.has_value()) {
      return kProtocol;  // spec §3.3.2.1: a zero-length topic needs a Topic Alias
    }
  }
  out.payload = r.rest();
  return check_payload_format(out.properties, out.payload);
}

ReasonCode decode_ack(ProtocolVersion version, const FixedHeader& header, Bytes body,
                      Ack& out) {
  PG_ASSERT(is_ack(header.type));
  PG_ASSERT(body.size() == header.remaining_length);
  if (!flags_valid(header.type, header.flags)) {
    return kMalformed;
  }
  return decode_ack(version == ProtocolVersion::kV5, header.type, body, out);
}

ReasonCode decode(ProtocolVersion version, const FixedHeader& header, Bytes body,
                  Packet& out, const char** fault) {
  const char* unused = nullptr;
  const char*& why = fault != nullptr ? *fault : unused;
  PG_ASSERT(body.size() == header.remaining_length);
  if (!flags_valid(header.type, header.flags)) {
    return kMalformed;
  }
  const bool v5 = version == ProtocolVersion::kV5;
  switch (header.type) {
    case PacketType::kConnect: return decode_connect(header.flags, body, reuse<Connect>(out));
    case PacketType::kConnack: return decode_connack(v5, body, reuse<Connack>(out));
    case PacketType::kPublish:
      return decode_publish(version, header.flags, body, reuse<Publish>(out));
    case PacketType::kPuback:
    case PacketType::kPubrec:
    case PacketType::kPubrel:
    case PacketType::kPubcomp:
      return decode_ack(v5, header.type, body, reuse<Ack>(out));
    case PacketType::kSubscribe:
      return decode_subscribe(v5, body, reuse<Subscribe>(out), why);
    case PacketType::kSuback: return decode_suback(v5, body, reuse<Suback>(out));
    case PacketType::kUnsubscribe:
      return decode_unsubscribe(v5, body, reuse<Unsubscribe>(out), why);
    case PacketType::kUnsuback: return decode_unsuback(v5, body, reuse<Unsuback>(out));
    case PacketType::kPingreq:
      out.emplace<Pingreq>();
      return finish(Reader(body));
    case PacketType::kPingresp:
      out.emplace<Pingresp>();
      return finish(Reader(body));
    case PacketType::kDisconnect:
      if (!v5) {
        out.emplace<Disconnect>();
        return finish(Reader(body));
      }
      return decode_reason_only(body, kDisconnectReasons, PropertyContext::kDisconnect,
                                reuse<Disconnect>(out));
    case PacketType::kAuth:
      if (!v5) {
        return kMalformed;  // reserved packet type before 5.0
      }
      return decode_reason_only(body, kAuthReasons, PropertyContext::kAuth, reuse<Auth>(out));
  }
  return kMalformed;
}

bool reason_allowed(PacketType type, ReasonCode reason) {
  const auto code = static_cast<uint8_t>(reason);
  switch (type) {
    case PacketType::kConnack: return kConnackReasons.has(code);
    case PacketType::kPuback:
    case PacketType::kPubrec: return kPubackReasons.has(code);
    case PacketType::kPubrel:
    case PacketType::kPubcomp: return kPubrelReasons.has(code);
    case PacketType::kSuback: return kSubackReasons.has(code);
    case PacketType::kUnsuback: return kUnsubackReasons.has(code);
    case PacketType::kDisconnect: return kDisconnectReasons.has(code);
    case PacketType::kAuth: return kAuthReasons.has(code);
    default: return false;
  }
}

}  // namespace peregrine::mqtt
