// What the broker writes in its shards' durable logs (include/peregrine/durable_log.h):
// the record types and their bodies. The store sees only bytes; this file is the one
// place that gives them meaning, both ways. Pure.
//
//   kRetained  u64 LE wall-clock milliseconds the message was received at; u16 LE length
//              and the name of the virtual broker it belongs to ("": the default one;
//              else "<broker>.<namespace>"); then the message as a complete MQTT 5
//              PUBLISH packet (retain set; packet id 1 when QoS > 0; its properties; its
//              payload). An empty payload clears the topic.
//   kSession   A persistent session (v5 Session Expiry > 0, 3.1.1 clean session 0), keyed
//              by (virtual broker, client id): u8 flags (bit 0: a full image, whose
//              subscriptions follow as kSubscribe records: the ones held before are
//              forgotten; else only these fields change), key, u32 LE expiry interval
//              (s), u64 LE wall-clock ms its connection ended (0: connected), then the
//              identity its last connection proved (SessionIdentity, below).
//   kSessionEnd  key: the session ended (expiry, a clean start, expiry set to 0).
//   kSubscribe   key, u8 maximum QoS, u8 options (bit 0 No Local, bit 1 Retain As
//              Published, bits 2-3 Retain Handling), u32 LE Subscription Identifier (0:
//              none), then the filter (as written, $share/ included).
//   kUnsubscribe key, then the filter.
//   kMessage   A message that durable sessions of this shard hold, stored once however
//              many hold it: u64 LE epoch and u64 LE counter (its MessageKey: unique
//              across the shards and starts of one state_dir), u64 LE wall-clock ms it
//              was written at, tenant, then the message as a v5 PUBLISH packet (its
//              Message Expiry Interval what was left of it then).
//   kDeliver   A QoS 1/2 delivery a durable session holds (queued, or sent and not yet
//              acknowledged): key, u64 LE seq (the session's numbering), the MessageKey,
//              u8 QoS, u8 flags (bit 0 retain), u16 LE packet id (0: the one its seq
//              gives), u16 LE count and u32 LE Subscription Identifiers.
//   kReleased  key, u64 LE seq, u16 LE packet id: PUBREC came and PUBREL went; only the
//              id is kept until PUBCOMP.
//   kDone      key, u64 LE seq: the delivery is over (acknowledged, expired, dropped).
//   kInbound   key, u16 LE packet id, u8 1 (a QoS 2 PUBLISH received, awaiting PUBREL)
//              or 0 (released).
//   kWill      key, u8 1 and u64 LE wall-clock ms it is due then the message (a kMessage
//              body, its key unused): the delayed will of an offline session; or u8 0:
//              none any more (sent, or dropped by a new connection).
//   A key is u16 LE length + virtual broker name, u16 LE length + client id; strings are
//   u16 LE length + bytes (UTF-8).
//
// Record types are never reused; a reader meeting one it does not know stops the start
// (a newer broker wrote it) rather than drop state silently.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "include/peregrine/authorizer.h"
#include "src/broker/message.h"
#include "src/broker/session.h"

namespace peregrine::broker {

enum class RecordType : uint8_t {
  kRetained = 1,
  kSession = 2,
  kSessionEnd = 3,
  kSubscribe = 4,
  kUnsubscribe = 5,
  kMessage = 6,
  kDeliver = 7,
  kReleased = 8,
  kDone = 9,
  kInbound = 10,
  kWill = 11,
};

bool known_record_type(uint8_t type);

// The shards a record belongs to under `shards` shards, as a mask (its retained topic's
// owner, its session's home; a stored message every shard, for the sessions of any may
// hold it), as of `now_wall_ms`; nullopt: none (expired), with `why` set when the body
// does not read (not ours, or a newer broker's type).
std::optional<uint64_t> record_owners(uint8_t type, std::span<const uint8_t> body,
                                      uint16_t shards, int64_t now_wall_ms, std::string& why);

// The body of a kRetained record for `message`, received `received_wall_ms` (epoch ms);
// its tenant is the virtual broker its topic is scoped to (scope.h; "": the default).
std::string encode_retained(const Message& message, int64_t received_wall_ms);
constexpr size_t kMaxTenantNameBytes = 255;

struct DecodedRetained {
  enum class Outcome : uint8_t { kMessage, kExpired, kMalformed } outcome = Outcome::kMalformed;
  Message* message = nullptr;  // kMessage: one reference, received "now" on the shard clock
  std::string tenant;          // kMessage: its virtual broker ("": the default)
  std::string why;             // kMalformed
};
// A kRetained body back into a message as of `now_wall_ms`; its Message Expiry Interval,
// if any, is what is left of it then (kExpired when nothing is).
DecodedRetained decode_retained(std::span<const uint8_t> body, int64_t now_wall_ms,
                                uint64_t now_ms);

// ---- sessions --------------------------------------------------------------------------

struct SessionKey {
  std::string tenant;  // read: its virtual broker ("": the default); not written from
  // The session's key in memory: the client id behind its broker's scope (scope.h).
  // Written as the tenant and the client id apart, and read back into this form.
  std::string client_id;
};

// What a session's last connection proved (ProvenIdentity, less its live deadline), kept
// so that what an offline session receives is checked as it was for its connection.
struct SessionIdentity {
  std::optional<std::string> username;
  bool proven = false;
  std::string subject;
  std::string token_id;
  std::string broker_key_id;
  std::optional<TopicGrant> grant;
};

struct SessionRecord {
  bool full_image = false;
  SessionKey key;
  uint32_t expiry_interval = 0;
  int64_t offline_since_wall_ms = 0;  // 0: connected when written
  SessionIdentity identity;
};

struct SubscriptionRecord {
  SessionKey key;
  std::string filter;
  SubscriptionOptions options;  // kSubscribe only
};

std::string encode_session(const SessionRecord& record);
std::string encode_session_end(const SessionKey& key);
std::string encode_subscribe(const SessionKey& key, std::string_view filter,
                             const SubscriptionOptions& options);
std::string encode_unsubscribe(const SessionKey& key, std::string_view filter);

// ---- QoS 1/2 state of durable sessions -------------------------------------------------

struct MessageKey {
  uint64_t epoch = 0;    // drawn at random when the shard's log is opened
  uint64_t counter = 0;  // the shard's, since then
  bool operator==(const MessageKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const MessageKey& k) {
    return H::combine(std::move(h), k.epoch, k.counter);
  }
};

std::string encode_message(const MessageKey& key, const Message& message, uint64_t now_ms,
                           int64_t now_wall_ms);
struct DecodedMessage {
  enum class Outcome : uint8_t { kMessage, kExpired, kMalformed } outcome = Outcome::kMalformed;
  MessageKey key;
  Message* message = nullptr;  // kMessage: one reference, received "now" on the shard clock
  std::string tenant;
  std::string why;  // kMalformed
};
DecodedMessage decode_message(std::span<const uint8_t> body, int64_t now_wall_ms,
                              uint64_t now_ms);

struct DeliveryRecord {
  SessionKey key;
  uint64_t seq = 0;
  MessageKey message;
  uint8_t qos = 1;
  bool retain = false;
  uint16_t packet_id = 0;  // 0: the one its seq gives
  std::vector<uint32_t> subscription_ids;
};
std::string encode_deliver(const DeliveryRecord& record);
bool decode_deliver(std::span<const uint8_t> body, DeliveryRecord& out, std::string& why);

// kReleased (with its packet id) and kDone.
struct DeliveryStep {
  SessionKey key;
  uint64_t seq = 0;
  uint16_t packet_id = 0;  // kReleased
};
std::string encode_released(const SessionKey& key, uint64_t seq, uint16_t packet_id);
std::string encode_done(const SessionKey& key, uint64_t seq);
bool decode_released(std::span<const uint8_t> body, DeliveryStep& out, std::string& why);
bool decode_done(std::span<const uint8_t> body, DeliveryStep& out, std::string& why);

struct InboundRecord {
  SessionKey key;
  uint16_t packet_id = 0;
  bool awaiting_release = false;
};
std::string encode_inbound(const SessionKey& key, uint16_t packet_id, bool awaiting_release);
bool decode_inbound(std::span<const uint8_t> body, InboundRecord& out, std::string& why);

struct WillRecord {
  SessionKey key;
  bool set = false;
  int64_t due_wall_ms = 0;
  std::span<const uint8_t> message;  // set: a kMessage body (decode_message), into the body
};
std::string encode_will(const SessionKey& key, const Message* will, int64_t due_wall_ms,
                        uint64_t now_ms, int64_t now_wall_ms);
bool decode_will(std::span<const uint8_t> body, WillRecord& out, std::string& why);

// Decoders: false (with `why`) for a body that is not one of ours.
bool decode_session(std::span<const uint8_t> body, SessionRecord& out, std::string& why);
bool decode_session_end(std::span<const uint8_t> body, SessionKey& out, std::string& why);
bool decode_subscribe(std::span<const uint8_t> body, SubscriptionRecord& out, std::string& why);
bool decode_unsubscribe(std::span<const uint8_t> body, SubscriptionRecord& out,
                        std::string& why);

}  // namespace peregrine::broker
