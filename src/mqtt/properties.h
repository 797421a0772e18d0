// MQTT 5 properties (spec §2.2.2.2): identifiers, the set of properties a packet may carry,
// and the decoded property block. Strings and binary data are views into the decoded
// buffer. Pure, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "src/mqtt/bytes.h"

namespace peregrine::mqtt {

enum class PropertyId : uint8_t {
  kPayloadFormatIndicator = 0x01,
  kMessageExpiryInterval = 0x02,
  kContentType = 0x03,
  kResponseTopic = 0x08,
  kCorrelationData = 0x09,
  kSubscriptionIdentifier = 0x0B,
  kSessionExpiryInterval = 0x11,
  kAssignedClientIdentifier = 0x12,
  kServerKeepAlive = 0x13,
  kAuthenticationMethod = 0x15,
  kAuthenticationData = 0x16,
  kRequestProblemInformation = 0x17,
  kWillDelayInterval = 0x18,
  kRequestResponseInformation = 0x19,
  kResponseInformation = 0x1A,
  kServerReference = 0x1C,
  kReasonString = 0x1F,
  kReceiveMaximum = 0x21,
  kTopicAliasMaximum = 0x22,
  kTopicAlias = 0x23,
  kMaximumQos = 0x24,
  kRetainAvailable = 0x25,
  kUserProperty = 0x26,
  kMaximumPacketSize = 0x27,
  kWildcardSubscriptionAvailable = 0x28,
  kSubscriptionIdentifierAvailable = 0x29,
  kSharedSubscriptionAvailable = 0x2A,
};

struct UserProperty {
  std::string_view key;
  std::string_view value;
  bool operator==(const UserProperty&) const = default;
};

// Every v5 property. Absent properties are nullopt/empty. Only the properties allowed on
// a packet type are decoded for it; any other is a Malformed Packet (§2.2.2.2).
struct Properties {
  std::optional<uint8_t> payload_format_indicator;
  std::optional<uint32_t> message_expiry_interval;
  std::optional<std::string_view> content_type;
  std::optional<std::string_view> response_topic;
  std::optional<Bytes> correlation_data;
  std::vector<uint32_t> subscription_identifiers;  // several only on PUBLISH (server→client)
  std::optional<uint32_t> session_expiry_interval;
  std::optional<std::string_view> assigned_client_identifier;
  std::optional<uint16_t> server_keep_alive;
  std::optional<std::string_view> authentication_method;
  std::optional<Bytes> authentication_data;
  std::optional<uint8_t> request_problem_information;
  std::optional<uint32_t> will_delay_interval;
  std::optional<uint8_t> request_response_information;
  std::optional<std::string_view> response_information;
  std::optional<std::string_view> server_reference;
  std::optional<std::string_view> reason_string;
  std::optional<uint16_t> receive_maximum;
  std::optional<uint16_t> topic_alias_maximum;
  std::optional<uint16_t> topic_alias;
  std::optional<uint8_t> maximum_qos;
  std::optional<uint8_t> retain_available;
  std::vector<UserProperty> user_properties;
  std::optional<uint32_t> maximum_packet_size;
  std::optional<uint8_t> wildcard_subscription_available;
  std::optional<uint8_t> subscription_identifier_available;
  std::optional<uint8_t> shared_subscription_available;

  bool empty() const;
};

// Equality compares optional views by content (not by address); used by round-trip tests.
bool operator==(const Properties& a, const Properties& b);

}  // namespace peregrine::mqtt
