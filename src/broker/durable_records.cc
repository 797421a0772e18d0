#include "src/broker/durable_records.h"

#include <vector>

#include "src/base/assert.h"
#include "src/broker/shard_for.h"
#include "src/broker/virtual_brokers.h"
#include "src/mqtt/codec.h"
#include "src/mqtt/scope.h"

namespace peregrine::broker {

namespace {

constexpr size_t kWallBytes = 8;

// A record's tenant: "" (the default broker) or a virtual broker's "<broker>.<namespace>".
bool valid_tenant(std::string_view tenant) {
  if (tenant.empty()) {
    return true;
  }
  const size_t dot = tenant.find('.');
  return dot != std::string_view::npos && VirtualBrokers::valid_name(tenant.substr(0, dot)) &&
         VirtualBrokers::valid_name(tenant.substr(dot + 1));
}

// Little-endian fields and u16-length strings, written and read back.
class FieldWriter {
 public:
  void u8(uint8_t v) { _out.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v));
    u8(static_cast<uint8_t>(v >> 8));
  }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; i++) u8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; i++) u8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void str(std::string_view v) {
    PG_ASSERT(v.size() <= 0xFFFF);  // MQTT strings are no longer
    u16(static_cast<uint16_t>(v.size()));
    _out.append(v);
  }
  // The client id in memory is its session's key (scoped: scope.h); on disk its broker
  // and its client id as written, apart.
  void key(const SessionKey& key) {
    str(mqtt::scope_name(key.client_id));
    str(mqtt::unscoped(key.client_id));
  }
  std::string take() { return std::move(_out); }

 private:
  std::string _out;
};

class FieldReader {
 public:
  explicit FieldReader(std::span<const uint8_t> body) : _body(body) {}
  bool u8(uint8_t& v) {
    if (_at + 1 > _body.size()) return false;
    v = _body[_at++];
    return true;
  }
  bool u16(uint16_t& v) {
    uint8_t lo = 0;
    uint8_t hi = 0;
    if (!u8(lo) || !u8(hi)) return false;
    v = static_cast<uint16_t>(lo | hi << 8);
    return true;
  }
  bool u32(uint32_t& v) {
    uint64_t wide = 0;
    if (!little(4, wide)) return false;
    v = static_cast<uint32_t>(wide);
    return true;
  }
  bool u64(uint64_t& v) { return little(8, v); }
  bool str(std::string& v) {
    uint16_t size = 0;
    if (!u16(size) || _at + size > _body.size()) return false;
    v.assign(reinterpret_cast<const char*>(_body.data() + _at), size);
    _at += size;
    return mqtt::valid_utf8(v);
  }
  bool key(SessionKey& key) {
    if (!str(key.tenant) || !valid_tenant(key.tenant) || !str(key.client_id) ||
        key.client_id.empty()) {
      return false;
    }
    if (!key.tenant.empty()) {
      key.client_id = mqtt::scoped(mqtt::make_scope(key.tenant), key.client_id);
    }
    return true;
  }
  bool at_end() const { return _at == _body.size(); }
  size_t position() const { return _at; }

 private:
  bool little(size_t n, uint64_t& v) {
    if (_at + n > _body.size()) return false;
    v = 0;
    for (size_t i = 0; i < n; i++) v |= static_cast<uint64_t>(_body[_at + i]) << (8 * i);
    _at += n;
    return true;
  }
  std::span<const uint8_t> _body;
  size_t _at = 0;
};

// Identity flags in a kSession record.
constexpr uint8_t kHasUsername = 1;
constexpr uint8_t kProven = 2;
constexpr uint8_t kHasGrant = 4;
constexpr uint8_t kFullImage = 1;
// At most this many filters on each side of a grant (a token's claims are far fewer).
constexpr uint16_t kMaxGrantFilters = 4096;

void write_filters(FieldWriter& w, const std::vector<std::string>& filters) {
  PG_ASSERT(filters.size() <= kMaxGrantFilters);
  w.u16(static_cast<uint16_t>(filters.size()));
  for (const std::string& f : filters) w.str(f);
}

bool read_filters(FieldReader& r, std::vector<std::string>& filters) {
  uint16_t count = 0;
  if (!r.u16(count) || count > kMaxGrantFilters) return false;
  filters.resize(count);
  for (std::string& f : filters) {
    if (!r.str(f)) return false;
  }
  return true;
}

}  // namespace

std::string encode_session(const SessionRecord& record) {
  FieldWriter w;
  w.u8(record.full_image ? kFullImage : 0);
  w.key(record.key);
  w.u32(record.expiry_interval);
  w.u64(static_cast<uint64_t>(std::max<int64_t>(record.offline_since_wall_ms, 0)));
  const SessionIdentity& id = record.identity;
  w.u8(static_cast<uint8_t>((id.username ? kHasUsername : 0) | (id.proven ? kProven : 0) |
                            (id.grant ? kHasGrant : 0)));
  if (id.username) w.str(*id.username);
  if (id.proven) {
    w.str(id.subject);
    w.str(id.token_id);
    w.str(id.broker_key_id);
  }
  if (id.grant) {
    write_filters(w, id.grant->publish);
    write_filters(w, id.grant->subscribe);
  }
  return w.take();
}

bool decode_session(std::span<const uint8_t> body, SessionRecord& out, std::string& why) {
  FieldReader r(body);
  uint8_t flags = 0;
  uint64_t offline = 0;
  uint8_t id_flags = 0;
  if (!r.u8(flags) || (flags & ~kFullImage) != 0 || !r.key(out.key) ||
      !r.u32(out.expiry_interval) || !r.u64(offline) || !r.u8(id_flags) ||
      (id_flags & ~(kHasUsername | kProven | kHasGrant)) != 0) {
    why = "a session record whose fixed fields do not read";
    return false;
  }
  out.full_image = (flags & kFullImage) != 0;
  out.offline_since_wall_ms = static_cast<int64_t>(std::min<uint64_t>(offline, INT64_MAX));
  SessionIdentity& id = out.identity;
  if ((id_flags & kHasUsername) != 0 && !r.str(id.username.emplace())) {
    why = "a session record whose username does not read";
    return false;
  }
  id.proven = (id_flags & kProven) != 0;
  if (id.proven && (!r.str(id.subject) || !r.str(id.token_id) || !r.str(id.broker_key_id))) {
    why = "a session record whose proven identity does not read";
    return false;
  }
  if ((id_flags & kHasGrant) != 0) {
    TopicGrant& grant = id.grant.emplace();
    if (!read_filters(r, grant.publish) || !read_filters(r, grant.subscribe)) {
      why = "a session record whose topic grant does not read";
      return false;
    }
  }
  if (!r.at_end()) {
    why = "a session record with bytes after its fields";
    return false;
  }
  return true;
}

std::string encode_session_end(const SessionKey& key) {
  FieldWriter w;
  w.key(key);
  return w.take();
}

bool decode_session_end(std::span<const uint8_t> body, SessionKey& out, std::string& why) {
  FieldReader r(body);
  if (!r.key(out) || !r.at_end()) {
    why = "a session end record that does not read";
    return false;
  }
  return true;
}

std::string encode_subscribe(const SessionKey& key, std::string_view filter,
                             const SubscriptionOptions& options) {
  FieldWriter w;
  w.key(key);
  w.u8(options.max_qos);
  w.u8(static_cast<uint8_t>((options.no_local ? 1 : 0) | (options.retain_as_published ? 2 : 0) |
                            (options.retain_handling & 3) << 2));
  w.u32(options.subscription_id);
  w.str(filter);
  return w.take();
}

bool decode_subscribe(std::span<const uint8_t> body, SubscriptionRecord& out, std::string& why) {
  FieldReader r(body);
  uint8_t flags = 0;
  if (!r.key(out.key) || !r.u8(out.options.max_qos) || out.options.max_qos > 2 ||
      !r.u8(flags) || (flags & ~0x0F) != 0 || ((flags >> 2) & 3) == 3 ||
      !r.u32(out.options.subscription_id) || out.options.subscription_id > 268435455 ||
      !r.str(out.filter) || !mqtt::valid_topic_filter(out.filter) || !r.at_end()) {
    why = "a subscription record that does not read";
    return false;
  }
  out.options.no_local = (flags & 1) != 0;
  out.options.retain_as_published = (flags & 2) != 0;
  out.options.retain_handling = static_cast<uint8_t>((flags >> 2) & 3);
  return true;
}

std::string encode_unsubscribe(const SessionKey& key, std::string_view filter) {
  FieldWriter w;
  w.key(key);
  w.str(filter);
  return w.take();
}

bool decode_unsubscribe(std::span<const uint8_t> body, SubscriptionRecord& out,
                        std::string& why) {
  FieldReader r(body);
  if (!r.key(out.key) || !r.str(out.filter) || !mqtt::valid_topic_filter(out.filter) ||
      !r.at_end()) {
    why = "an unsubscribe record that does not read";
    return false;
  }
  return true;
}

std::string encode_deliver(const DeliveryRecord& record) {
  FieldWriter w;
  w.key(record.key);
  w.u64(record.seq);
  w.u64(record.message.epoch);
  w.u64(record.message.counter);
  w.u8(record.qos);
  w.u8(record.retain ? 1 : 0);
  w.u16(record.packet_id);
  PG_ASSERT(record.subscription_ids.size() <= 0xFFFF);
  w.u16(static_cast<uint16_t>(record.subscription_ids.size()));
  for (uint32_t id : record.subscription_ids) w.u32(id);
  return w.take();
}

bool decode_deliver(std::span<const uint8_t> body, DeliveryRecord& out, std::string& why) {
  FieldReader r(body);
  uint8_t flags = 0;
  uint16_t ids = 0;
  if (!r.key(out.key) || !r.u64(out.seq) || out.seq == 0 || !r.u64(out.message.epoch) ||
      !r.u64(out.message.counter) || !r.u8(out.qos) || out.qos < 1 || out.qos > 2 ||
      !r.u8(flags) || (flags & ~1) != 0 || !r.u16(out.packet_id) || !r.u16(ids)) {
    why = "a delivery record whose fixed fields do not read";
    return false;
  }
  out.retain = (flags & 1) != 0;
  out.subscription_ids.resize(ids);
  for (uint32_t& id : out.subscription_ids) {
    if (!r.u32(id) || id == 0 || id > 268435455) {
      why = "a delivery record whose subscription identifiers do not read";
      return false;
    }
  }
  if (!r.at_end()) {
    why = "a delivery record with bytes after its fields";
    return false;
  }
  return true;
}

std::string encode_released(const SessionKey& key, uint64_t seq, uint16_t packet_id) {
  FieldWriter w;
  w.key(key);
  w.u64(seq);
  w.u16(packet_id);
  return w.take();
}

std::string encode_done(const SessionKey& key, uint64_t seq) {
  FieldWriter w;
  w.key(key);
  w.u64(seq);
  return w.take();
}

bool decode_released(std::span<const uint8_t> body, DeliveryStep& out, std::string& why) {
  FieldReader r(body);
  if (!r.key(out.key) || !r.u64(out.seq) || out.seq == 0 || !r.u16(out.packet_id) ||
      out.packet_id == 0 || !r.at_end()) {
    why = "a released record that does not read";
    return false;
  }
  return true;
}

bool decode_done(std::span<const uint8_t> body, DeliveryStep& out, std::string& why) {
  FieldReader r(body);
  if (!r.key(out.key) || !r.u64(out.seq) || out.seq == 0 || !r.at_end()) {
    why = "a done record that does not read";
    return false;
  }
  return true;
}

std::string encode_inbound(const SessionKey& key, uint16_t packet_id, bool awaiting_release) {
  FieldWriter w;
  w.key(key);
  w.u16(packet_id);
  w.u8(awaiting_release ? 1 : 0);
  return w.take();
}

bool decode_inbound(std::span<const uint8_t> body, InboundRecord& out, std::string& why) {
  FieldReader r(body);
  uint8_t awaiting = 0;
  if (!r.key(out.key) || !r.u16(out.packet_id) || out.packet_id == 0 || !r.u8(awaiting) ||
      awaiting > 1 || !r.at_end()) {
    why = "an inbound record that does not read";
    return false;
  }
  out.awaiting_release = awaiting == 1;
  return true;
}

std::string encode_will(const SessionKey& key, const Message* will, int64_t due_wall_ms,
                        uint64_t now_ms, int64_t now_wall_ms) {
  FieldWriter w;
  w.key(key);
  w.u8(will != nullptr ? 1 : 0);
  if (will == nullptr) {
    return w.take();
  }
  w.u64(static_cast<uint64_t>(std::max<int64_t>(due_wall_ms, 0)));
  return w.take() + encode_message({}, *will, now_ms, now_wall_ms);
}

bool decode_will(std::span<const uint8_t> body, WillRecord& out, std::string& why) {
  FieldReader r(body);
  uint8_t set = 0;
  if (!r.key(out.key) || !r.u8(set) || set > 1) {
    why = "a will record that does not read";
    return false;
  }
  out.set = set == 1;
  if (!out.set) {
    if (!r.at_end()) {
      why = "a will record with bytes after its fields";
      return false;
    }
    return true;
  }
  uint64_t due = 0;
  if (!r.u64(due)) {
    why = "a will record without its time";
    return false;
  }
  out.due_wall_ms = static_cast<int64_t>(std::min<uint64_t>(due, INT64_MAX));
  out.message = body.subspan(r.position());
  return true;
}

bool known_record_type(uint8_t type) {
  return type >= static_cast<uint8_t>(RecordType::kRetained) &&
         type <= static_cast<uint8_t>(RecordType::kWill);
}

std::optional<uint64_t> record_owners(uint8_t type, std::span<const uint8_t> body,
                                      uint16_t shards, int64_t now_wall_ms, std::string& why) {
  // Every record of a session belongs to its home.
  const auto home = [&](const SessionKey& key) -> std::optional<uint64_t> {
    return uint64_t{1} << shard_for(key.client_id, shards);
  };
  switch (static_cast<RecordType>(type)) {
    case RecordType::kRetained: {
      DecodedRetained decoded = decode_retained(body, now_wall_ms, 0);
      if (decoded.outcome != DecodedRetained::Outcome::kMessage) {
        why = decoded.why;
        return std::nullopt;  // expired, or unreadable (logged when replayed as it is)
      }
      const uint16_t shard = shard_for(decoded.message->routing_topic(), shards);
      decoded.message->unref();
      return uint64_t{1} << shard;
    }
    case RecordType::kMessage: {
      DecodedMessage decoded = decode_message(body, now_wall_ms, 0);
      if (decoded.outcome != DecodedMessage::Outcome::kMessage) {
        why = decoded.why;
        return std::nullopt;
      }
      decoded.message->unref();
      return ~uint64_t{0};  // any shard's sessions may hold it: each drops it if none do
    }
    case RecordType::kSession:
    case RecordType::kSessionEnd:
    case RecordType::kSubscribe:
    case RecordType::kUnsubscribe:
    case RecordType::kDeliver:
    case RecordType::kReleased:
    case RecordType::kDone:
    case RecordType::kInbound:
    case RecordType::kWill: {
      // Each names its session's key first (after kSession's flags byte); the rest is
      // read when replayed where it lands.
      FieldReader r(body);
      uint8_t flags = 0;
      SessionKey key;
      if ((static_cast<RecordType>(type) == RecordType::kSession && !r.u8(flags)) ||
          !r.key(key)) {
        why = "a session record whose key does not read";
        return std::nullopt;
      }
      return home(key);
    }
  }
  why = "a log record of unknown type " + std::to_string(type);
  return std::nullopt;
}

namespace {

// The message as a v5 PUBLISH packet (packet id 1 when QoS > 0), appended to `out`.
void append_packet(std::string& out, mqtt::Publish publish, std::span<const uint8_t> payload) {
  publish.dup = false;
  publish.packet_id = publish.qos > 0 ? 1 : 0;
  std::vector<uint8_t> head;
  mqtt::encode_publish_head(mqtt::ProtocolVersion::kV5, publish, payload.size(), head);
  out.append(reinterpret_cast<const char*>(head.data()), head.size());
  out.append(reinterpret_cast<const char*>(payload.data()), payload.size());
}

void append_wall_and_tenant(std::string& out, int64_t wall_ms, std::string_view tenant) {
  PG_ASSERT(tenant.size() <= kMaxTenantNameBytes);
  const auto wall = static_cast<uint64_t>(wall_ms);
  for (size_t i = 0; i < kWallBytes; i++) {
    out.push_back(static_cast<char>(wall >> (8 * i)));
  }
  out.push_back(static_cast<char>(tenant.size() & 0xFF));
  out.push_back(static_cast<char>(tenant.size() >> 8));
  out.append(tenant);
}

enum class Stored : uint8_t { kMessage, kExpired, kMalformed };

// A stored message back in memory: its topic behind its broker's scope, if any.
Message* create_scoped(mqtt::Publish& publish, std::string_view tenant, uint64_t now_ms) {
  if (tenant.empty()) {
    return Message::create(publish, 0, now_ms);
  }
  const std::string topic = mqtt::scoped(mqtt::make_scope(tenant), publish.topic);
  publish.topic = topic;
  return Message::create(publish, 0, now_ms);
}

// The wall time, tenant and PUBLISH of a stored message, its expiry what is left of it at
// `now_wall_ms`. `publish` refers into `body`.
Stored read_stored(std::span<const uint8_t> body, int64_t now_wall_ms, mqtt::Publish& publish,
                   std::string& tenant, std::string& why) {
  if (body.size() < kWallBytes + 2) {
    why = "shorter than its time and tenant";
    return Stored::kMalformed;
  }
  uint64_t wall = 0;
  for (size_t i = 0; i < kWallBytes; i++) {
    wall |= static_cast<uint64_t>(body[i]) << (8 * i);
  }
  const size_t tenant_size = body[kWallBytes] | static_cast<size_t>(body[kWallBytes + 1]) << 8;
  if (tenant_size > kMaxTenantNameBytes || body.size() < kWallBytes + 2 + tenant_size) {
    why = "a tenant name over 255 bytes or past the end";
    return Stored::kMalformed;
  }
  const mqtt::Bytes name = body.subspan(kWallBytes + 2, tenant_size);
  tenant.assign(reinterpret_cast<const char*>(name.data()), name.size());
  if (!valid_tenant(tenant)) {
    why = "a tenant name that is not a virtual broker's";
    return Stored::kMalformed;
  }
  const mqtt::Bytes packet = body.subspan(kWallBytes + 2 + tenant_size);
  const mqtt::Frame frame = mqtt::read_frame(packet, UINT32_MAX);
  if (frame.status != mqtt::FrameStatus::kComplete ||
      frame.header.type != mqtt::PacketType::kPublish ||
      frame.header.total_length() != packet.size()) {
    why = "not one whole PUBLISH packet";
    return Stored::kMalformed;
  }
  if (mqtt::decode_publish(mqtt::ProtocolVersion::kV5, frame.header.flags,
                           packet.subspan(frame.header.header_length), publish) !=
          mqtt::ReasonCode::kSuccess ||
      publish.topic.empty() || !mqtt::valid_topic_name(publish.topic) ||
      publish.properties.topic_alias.has_value()) {
    why = "a PUBLISH that is not a stored message";
    return Stored::kMalformed;
  }
  if (publish.properties.message_expiry_interval) {
    // What is left of the interval now; the clock may have gone back: nothing elapsed.
    const uint64_t now = static_cast<uint64_t>(std::max<int64_t>(now_wall_ms, 0));
    const int64_t elapsed_ms = wall >= now ? 0 : static_cast<int64_t>(now - wall);
    const int64_t left_s =
        static_cast<int64_t>(*publish.properties.message_expiry_interval) - elapsed_ms / 1000;
    if (left_s <= 0) {
      return Stored::kExpired;
    }
    publish.properties.message_expiry_interval = static_cast<uint32_t>(left_s);
  }
  return Stored::kMessage;
}

}  // namespace

std::string encode_retained(const Message& message, int64_t received_wall_ms) {
  const std::string_view tenant = mqtt::scope_name(message.scope());
  mqtt::Publish publish = message.to_publish();
  publish.retain = true;
  std::string out;
  out.reserve(kWallBytes + 2 + tenant.size() + 64 + message.payload().size());
  append_wall_and_tenant(out, received_wall_ms, tenant);
  append_packet(out, std::move(publish), message.payload());
  return out;
}

DecodedRetained decode_retained(std::span<const uint8_t> body, int64_t now_wall_ms,
                                uint64_t now_ms) {
  DecodedRetained out;
  mqtt::Publish publish;
  switch (read_stored(body, now_wall_ms, publish, out.tenant, out.why)) {
    case Stored::kMalformed:
      return out;
    case Stored::kExpired:
      out.outcome = DecodedRetained::Outcome::kExpired;
      return out;
    case Stored::kMessage:
      break;
  }
  if (!publish.retain) {
    out.why = "a PUBLISH that is not a retained message";
    return out;
  }
  out.message = create_scoped(publish, out.tenant, now_ms);
  out.outcome = DecodedRetained::Outcome::kMessage;
  return out;
}

std::string encode_message(const MessageKey& key, const Message& message, uint64_t now_ms,
                           int64_t now_wall_ms) {
  const std::string_view tenant = mqtt::scope_name(message.scope());
  mqtt::Publish publish = message.to_publish();
  if (const std::optional<uint32_t> left = message.expiry_left(now_ms)) {
    publish.properties.message_expiry_interval = std::max<uint32_t>(*left, 1);
  }
  std::string out;
  out.reserve(16 + kWallBytes + 2 + tenant.size() + 64 + message.payload().size());
  for (uint64_t v : {key.epoch, key.counter}) {
    for (size_t i = 0; i < 8; i++) {
      out.push_back(static_cast<char>(v >> (8 * i)));
    }
  }
  append_wall_and_tenant(out, now_wall_ms, tenant);
  append_packet(out, std::move(publish), message.payload());
  return out;
}

DecodedMessage decode_message(std::span<const uint8_t> body, int64_t now_wall_ms,
                              uint64_t now_ms) {
  DecodedMessage out;
  if (body.size() < 16) {
    out.why = "shorter than its key";
    return out;
  }
  for (size_t i = 0; i < 8; i++) {
    out.key.epoch |= static_cast<uint64_t>(body[i]) << (8 * i);
    out.key.counter |= static_cast<uint64_t>(body[8 + i]) << (8 * i);
  }
  mqtt::Publish publish;
  switch (read_stored(body.subspan(16), now_wall_ms, publish, out.tenant, out.why)) {
    case Stored::kMalformed:
      return out;
    case Stored::kExpired:
      out.outcome = DecodedMessage::Outcome::kExpired;
      return out;
    case Stored::kMessage:
      break;
  }
  out.message = create_scoped(publish, out.tenant, now_ms);
  out.outcome = DecodedMessage::Outcome::kMessage;
  return out;
}

}  // namespace peregrine::broker
