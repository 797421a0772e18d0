// What the broker writes in its shards' durable logs (include/peregrine/durable_log.h):
// the record types and their bodies. The store sees only bytes; this file is the one
// place that gives them meaning, both ways. Pure.
//
//   kRetained  u64 LE wall-clock milliseconds the message was received at; u16 LE length
//              and the name of the virtual broker it belongs to ("": the default one,
//              the only one until tenancy lands); then the message as a complete MQTT 5
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
};

bool known_record_type(uint8_t type);

// The shard a record belongs to under `shards` shards (its retained topic's owner, its
// session's home), as of `now_wall_ms`; nullopt: none (expired), with `why` set when the
// body does not read (not ours, or a newer broker's type).
std::optional<uint16_t> record_owner(uint8_t type, std::span<const uint8_t> body,
                                     uint16_t shards, int64_t now_wall_ms, std::string& why);

// The body of a kRetained record for `message`, received `received_wall_ms` (epoch ms),
// of the virtual broker `tenant` ("": the default).
std::string encode_retained(const Message& message, int64_t received_wall_ms,
                            std::string_view tenant = {});
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
  std::string tenant;  // "": the default virtual broker
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

// Decoders: false (with `why`) for a body that is not one of ours.
bool decode_session(std::span<const uint8_t> body, SessionRecord& out, std::string& why);
bool decode_session_end(std::span<const uint8_t> body, SessionKey& out, std::string& why);
bool decode_subscribe(std::span<const uint8_t> body, SubscriptionRecord& out, std::string& why);
bool decode_unsubscribe(std::span<const uint8_t> body, SubscriptionRecord& out,
                        std::string& why);

}  // namespace peregrine::broker
