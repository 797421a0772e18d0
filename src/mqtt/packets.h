// The 15 MQTT control packets of 3.1, 3.1.1 and 5.0 as plain values. Decoded strings and
// binary fields are views into the input buffer; for encoding they may point anywhere
// that outlives the encode call. Pure, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "src/mqtt/bytes.h"
#include "src/mqtt/properties.h"
#include "src/mqtt/reason_code.h"

namespace peregrine::mqtt {

enum class PacketType : uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
  kAuth = 15,  // v5 only; reserved (malformed) in 3.1/3.1.1
};

// Protocol level byte of CONNECT: 3 = MQTT 3.1 ("MQIsdp"), 4 = 3.1.1, 5 = 5.0.
enum class ProtocolVersion : uint8_t { kV31 = 3, kV311 = 4, kV5 = 5 };

struct Will {
  uint8_t qos = 0;
  bool retain = false;
  std::string_view topic;
  Bytes payload;
  Properties properties;  // v5 will properties
};

struct Connect {
  ProtocolVersion version = ProtocolVersion::kV311;
  bool clean_start = true;  // "clean session" in 3.1/3.1.1
  uint16_t keep_alive = 0;
  std::string_view client_id;
  std::optional<Will> will;
  std::optional<std::string_view> username;
  std::optional<Bytes> password;
  Properties properties;
};

struct Connack {
  bool session_present = false;
  // v5 reason; for 3.1/3.1.1 it is encoded through to_connack_v3() and decoded back to
  // kSuccess / kUnsupportedProtocolVersion / kClientIdentifierNotValid /
  // kServerUnavailable / kBadUserNameOrPassword / kNotAuthorized.
  ReasonCode reason = ReasonCode::kSuccess;
  Properties properties;
};

struct Publish {
  uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
  std::string_view topic;  // may be empty in v5 when a Topic Alias is given
  uint16_t packet_id = 0;  // only present when qos > 0
  Properties properties;
  Bytes payload;
  // False only while `properties` is known to be empty, as decode_publish() leaves it
  // after a PUBLISH without properties; a Publish filled any other way counts as dirty.
  // Decoding into the same object again then skips clear_properties() (about 30 stores,
  // 3 % of a 3.1.1 broker's own instructions a message).
  bool properties_dirty = true;
};

// PUBACK, PUBREC, PUBREL, PUBCOMP share one shape.
struct Ack {
  PacketType type = PacketType::kPuback;
  uint16_t packet_id = 0;
  ReasonCode reason = ReasonCode::kSuccess;
  Properties properties;
  // As Publish::properties_dirty: decode_ack() clears `properties` only when set.
  bool properties_dirty = true;
};

struct SubscriptionRequest {
  std::string_view filter;
  uint8_t max_qos = 0;
  bool no_local = false;             // v5
  bool retain_as_published = false;  // v5
  uint8_t retain_handling = 0;       // v5: 0, 1 or 2
  bool operator==(const SubscriptionRequest&) const = default;
};

struct Subscribe {
  uint16_t packet_id = 0;
  Properties properties;
  std::vector<SubscriptionRequest> subscriptions;  // never empty once decoded
};

struct Suback {
  uint16_t packet_id = 0;
  Properties properties;
  std::vector<ReasonCode> reasons;  // v3: 0x00-0x02 or 0x80
};

struct Unsubscribe {
  uint16_t packet_id = 0;
  Properties properties;
  std::vector<std::string_view> filters;  // never empty once decoded
};

struct Unsuback {
  uint16_t packet_id = 0;
  Properties properties;
  std::vector<ReasonCode> reasons;  // v5 only; v3 UNSUBACK has no payload
};

struct Pingreq {};
struct Pingresp {};

struct Disconnect {
  ReasonCode reason = ReasonCode::kSuccess;
  Properties properties;
};

struct Auth {
  ReasonCode reason = ReasonCode::kSuccess;
  Properties properties;
};

using Packet = std::variant<Connect, Connack, Publish, Ack, Subscribe, Suback, Unsubscribe,
                            Unsuback, Pingreq, Pingresp, Disconnect, Auth>;

PacketType packet_type(const Packet& packet);

}  // namespace peregrine::mqtt
