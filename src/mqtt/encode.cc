// Encoding. Each packet body is one template run twice: with a Counter to learn the
// remaining length, then with a Writer into memory sized exactly once. In debug builds
// every encoding is decoded back (a pair assertion), which is also how "the packet must
// be valid for the version" is checked.
#include <variant>

#include "src/base/assert.h"
#include "src/mqtt/codec.h"
#include "src/mqtt/property_codec.h"
#include "src/mqtt/wire.h"

namespace peregrine::mqtt {

namespace {

void put_props(Counter& c, const Properties& p) { count_properties(c, p); }
void put_props(Writer& w, const Properties& p) { write_properties(w, p); }

uint8_t first_byte(PacketType type, uint8_t flags) {
  return static_cast<uint8_t>((static_cast<uint8_t>(type) << 4) | flags);
}

// Appends fixed header + body; `body` is called once with a Counter and once with a Writer.
template <class Body>
void emit(uint8_t first, std::vector<uint8_t>& out, const Body& body) {
  Counter c;
  body(c);
  PG_ASSERT(c.n <= kMaxRemainingLength);
  const auto remaining = static_cast<uint32_t>(c.n);
  const size_t at = out.size();
  out.resize(at + 1 + varint_size(remaining) + remaining);
  Writer w{out.data() + at};
  w.u8(first);
  w.varint(remaining);
  body(w);
  PG_DASSERT(w.p == out.data() + out.size());
}

template <class W>
void put_connect(W& w, ProtocolVersion version, const Connect& c) {
  const bool v5 = version == ProtocolVersion::kV5;
  w.string(version == ProtocolVersion::kV31 ? "MQIsdp" : "MQTT");
  w.u8(static_cast<uint8_t>(version));
  uint8_t flags = c.clean_start ? 0x02 : 0x00;
  if (c.will.has_value()) {
    flags |= 0x04 | static_cast<uint8_t>(c.will->qos << 3) | (c.will->retain ? 0x20 : 0x00);
  }
  flags |= c.password.has_value() ? 0x40 : 0x00;
  flags |= c.username.has_value() ? 0x80 : 0x00;
  w.u8(flags);
  w.u16(c.keep_alive);
  if (v5) {
    put_props(w, c.properties);
  }
  w.string(c.client_id);
  if (c.will.has_value()) {
    if (v5) {
      put_props(w, c.will->properties);
    }
    w.string(c.will->topic);
    w.binary(c.will->payload);
  }
  if (c.username.has_value()) {
    w.string(*c.username);
  }
  if (c.password.has_value()) {
    w.binary(*c.password);
  }
}

template <class W>
void put_publish_head(W& w, bool v5, std::string_view topic, uint8_t qos, uint16_t packet_id,
                      const Properties& properties) {
  w.string(topic);
  if (qos > 0) {
    w.u16(packet_id);
  }
  if (v5) {
    put_props(w, properties);
  }
}

template <class W>
void put_publish_head(W& w, bool v5, const Publish& p, uint8_t qos) {
  put_publish_head(w, v5, p.topic, qos, p.packet_id, p.properties);
}

uint8_t publish_first_byte(const Publish& p) {
  PG_DASSERT(p.qos <= 2);
  PG_DASSERT(p.qos > 0 || !p.dup);  // [MQTT-3.3.1-2]: DUP 0 for QoS 0
  return first_byte(PacketType::kPublish, static_cast<uint8_t>((p.dup ? 0x08 : 0x00) |
                                                               (p.qos << 1) |
                                                               (p.retain ? 0x01 : 0x00)));
}

// v5 acks, DISCONNECT and AUTH drop trailing defaults: no properties, then no reason.
template <class W>
void put_reason_and_props(W& w, ReasonCode reason, const Properties& props) {
  const bool no_props = props.empty();
  if (no_props && reason == ReasonCode::kSuccess) {
    return;
  }
  w.u8(static_cast<uint8_t>(reason));
  if (!no_props) {
    put_props(w, props);
  }
}

// SUBACK return codes before 5.0 are 0x00-0x02 or 0x80 (failure).
uint8_t suback_code(bool v5, ReasonCode reason) {
  return !v5 && is_error(reason) ? 0x80 : static_cast<uint8_t>(reason);
}

// Encodes one alternative of Packet; a visitor so every type is handled at compile time.
struct Encoder {
  ProtocolVersion version;
  std::vector<uint8_t>& out;

  bool v5() const { return version == ProtocolVersion::kV5; }

  void operator()(const Connect& c) const {
    PG_DASSERT(c.version == version);
    PG_DASSERT(v5() || !c.password.has_value() || c.username.has_value());
    emit(first_byte(PacketType::kConnect, 0), out,
         [&](auto& w) { put_connect(w, version, c); });
  }
  void operator()(const Connack& c) const {
    const uint8_t code = v5() ? static_cast<uint8_t>(c.reason)
                              : static_cast<uint8_t>(to_connack_v3(c.reason));
    emit(first_byte(PacketType::kConnack, 0), out, [&](auto& w) {
      w.u8(c.session_present ? 0x01 : 0x00);
      w.u8(code);
      if (v5()) {
        put_props(w, c.properties);
      }
    });
  }
  void operator()(const Publish& p) const {
    emit(publish_first_byte(p), out, [&](auto& w) {
      put_publish_head(w, v5(), p, p.qos);
      w.raw(p.payload);
    });
  }
  void operator()(const Ack& a) const {
    const uint8_t flags = a.type == PacketType::kPubrel ? 0x02 : 0x00;
    emit(first_byte(a.type, flags), out, [&](auto& w) {
      w.u16(a.packet_id);
      if (v5()) {
        put_reason_and_props(w, a.reason, a.properties);
      }
    });
  }
  void operator()(const Subscribe& s) const {
    emit(first_byte(PacketType::kSubscribe, 0x02), out, [&](auto& w) {
      w.u16(s.packet_id);
      if (v5()) {
        put_props(w, s.properties);
      }
      for (const SubscriptionRequest& sub : s.subscriptions) {
        w.string(sub.filter);
        uint8_t opts = sub.max_qos;
        if (v5()) {
          opts |= (sub.no_local ? 0x04 : 0x00) | (sub.retain_as_published ? 0x08 : 0x00) |
                  static_cast<uint8_t>(sub.retain_handling << 4);
        }
        w.u8(opts);
      }
    });
  }
  void operator()(const Suback& s) const {
    emit(first_byte(PacketType::kSuback, 0), out, [&](auto& w) {
      w.u16(s.packet_id);
      if (v5()) {
        put_props(w, s.properties);
      }
      for (ReasonCode reason : s.reasons) {
        w.u8(suback_code(v5(), reason));
      }
    });
  }
  void operator()(const Unsubscribe& u) const {
    emit(first_byte(PacketType::kUnsubscribe, 0x02), out, [&](auto& w) {
      w.u16(u.packet_id);
      if (v5()) {
        put_props(w, u.properties);
      }
      for (std::string_view filter : u.filters) {
        w.string(filter);
      }
    });
  }
  void operator()(const Unsuback& u) const {
    emit(first_byte(PacketType::kUnsuback, 0), out, [&](auto& w) {
      w.u16(u.packet_id);
      if (v5()) {
        put_props(w, u.properties);
        for (ReasonCode reason : u.reasons) {
          w.u8(static_cast<uint8_t>(reason));
        }
      }
    });
  }
  void operator()(const Pingreq&) const {
    emit(first_byte(PacketType::kPingreq, 0), out, [](auto&) {});
  }
  void operator()(const Pingresp&) const {
    emit(first_byte(PacketType::kPingresp, 0), out, [](auto&) {});
  }
  void operator()(const Disconnect& d) const {
    emit(first_byte(PacketType::kDisconnect, 0), out, [&](auto& w) {
      if (v5()) {
        put_reason_and_props(w, d.reason, d.properties);
      }
    });
  }
  void operator()(const Auth& a) const {
    PG_ASSERT(v5());  // AUTH does not exist before 5.0
    emit(first_byte(PacketType::kAuth, 0), out,
         [&](auto& w) { put_reason_and_props(w, a.reason, a.properties); });
  }
};

#ifndef NDEBUG
// Pair assertion: what we encode, we decode.
void check_encoding(ProtocolVersion version, Bytes bytes) {
  const Frame frame = read_frame(bytes, kMaxRemainingLength + 5);
  PG_ASSERT(frame.status == FrameStatus::kComplete);
  PG_ASSERT(frame.header.total_length() == bytes.size());
  Packet decoded;
  const ReasonCode rc = decode(version, frame.header, bytes.subspan(frame.header.header_length),
                               decoded);
  PG_ASSERT_MSG(rc == ReasonCode::kSuccess, reason_name(rc));
}
#endif

}  // namespace

void encode(ProtocolVersion version, const Packet& packet, std::vector<uint8_t>& out) {
  const size_t at = out.size();
  std::visit(Encoder{version, out}, packet);
#ifndef NDEBUG
  check_encoding(version, Bytes(out.data() + at, out.size() - at));
#else
  (void)at;
#endif
}

namespace {

// A PUBLISH head (fixed header, topic, packet id if `qos` > 0, v5 properties) with
// `first` as its first byte, for a payload of `payload_size` bytes that follows it.
void put_head(ProtocolVersion version, std::string_view topic, uint16_t packet_id,
              const Properties& properties, uint8_t first, uint8_t qos, size_t payload_size,
              std::vector<uint8_t>& out) {
  const bool v5 = version == ProtocolVersion::kV5;
  Counter c;
  put_publish_head(c, v5, topic, qos, packet_id, properties);
  const size_t remaining = c.n + payload_size;
  PG_ASSERT(remaining <= kMaxRemainingLength);
  const size_t at = out.size();
  out.resize(at + 1 + varint_size(static_cast<uint32_t>(remaining)) + c.n);
  Writer w{out.data() + at};
  w.u8(first);
  w.varint(static_cast<uint32_t>(remaining));
  put_publish_head(w, v5, topic, qos, packet_id, properties);
  PG_DASSERT(w.p == out.data() + out.size());
}

}  // namespace

void encode_publish_head(ProtocolVersion version, const Publish& publish,
                         size_t payload_size, std::vector<uint8_t>& out) {
  put_head(version, publish.topic, publish.packet_id, publish.properties,
           publish_first_byte(publish), publish.qos, payload_size, out);
}

void encode_qos0_publish_head(ProtocolVersion version, std::string_view topic,
                              const Properties& properties, size_t payload_size,
                              std::vector<uint8_t>& out) {
  put_head(version, topic, 0, properties, first_byte(PacketType::kPublish, 0), 0,
           payload_size, out);
}

size_t plain_publish_head_size(ProtocolVersion version, size_t topic_size, uint8_t qos,
                               size_t payload_size) {
  const size_t head_body =
      2 + topic_size + (qos > 0 ? 2 : 0) + (version == ProtocolVersion::kV5 ? 1 : 0);
  const size_t remaining = head_body + payload_size;
  PG_ASSERT(remaining <= kMaxRemainingLength);
  return 1 + varint_size(static_cast<uint32_t>(remaining)) + head_body;
}

size_t encode_plain_publish_head(ProtocolVersion version, std::string_view topic, uint8_t qos,
                                 bool retain, bool dup, uint16_t packet_id,
                                 size_t payload_size, uint8_t* out) {
  PG_DASSERT(qos <= 2);
  PG_DASSERT(qos > 0 || !dup);  // [MQTT-3.3.1-2]: DUP 0 for QoS 0
  const bool v5 = version == ProtocolVersion::kV5;
  // Topic, packet id when QoS > 0, and for v5 a property length of 0.
  const size_t head_body = 2 + topic.size() + (qos > 0 ? 2 : 0) + (v5 ? 1 : 0);
  const size_t remaining = head_body + payload_size;
  PG_ASSERT(remaining <= kMaxRemainingLength);
  Writer w{out};
  w.u8(first_byte(PacketType::kPublish, static_cast<uint8_t>((dup ? 0x08 : 0x00) | (qos << 1) |
                                                             (retain ? 0x01 : 0x00))));
  w.varint(static_cast<uint32_t>(remaining));
  w.string(topic);
  if (qos > 0) {
    w.u16(packet_id);
  }
  if (v5) {
    w.u8(0);
  }
  return static_cast<size_t>(w.p - out);
}

void encode_plain_publish_head(ProtocolVersion version, std::string_view topic, uint8_t qos,
                               bool retain, bool dup, uint16_t packet_id, size_t payload_size,
                               std::vector<uint8_t>& out) {
  const size_t at = out.size();
  out.resize(at + plain_publish_head_size(version, topic.size(), qos, payload_size));
  const size_t n = encode_plain_publish_head(version, topic, qos, retain, dup, packet_id,
                                             payload_size, out.data() + at);
  PG_DASSERT(at + n == out.size());
  (void)n;
}

void encode_success_ack(PacketType type, uint16_t packet_id, uint8_t* out) {
  out[0] = first_byte(type, type == PacketType::kPubrel ? 0x02 : 0x00);
  out[1] = 2;
  out[2] = static_cast<uint8_t>(packet_id >> 8);
  out[3] = static_cast<uint8_t>(packet_id);
}

size_t publish_size(ProtocolVersion version, const Publish& publish, size_t payload_size) {
  Counter c;
  put_publish_head(c, version == ProtocolVersion::kV5, publish, publish.qos);
  const size_t remaining = c.n + payload_size;
  PG_ASSERT(remaining <= kMaxRemainingLength);
  return 1 + varint_size(static_cast<uint32_t>(remaining)) + remaining;
}

}  // namespace peregrine::mqtt
