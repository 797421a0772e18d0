#include "src/mqtt/properties.h"

#include <algorithm>

#include "src/mqtt/property_codec.h"

namespace peregrine::mqtt {

namespace {

constexpr uint16_t bit(PropertyContext c) { return uint16_t{1} << static_cast<int>(c); }

constexpr uint16_t kPublishOrWill = bit(PropertyContext::kPublish) | bit(PropertyContext::kWill);
constexpr uint16_t kConnectOrConnack =
    bit(PropertyContext::kConnect) | bit(PropertyContext::kConnack);
constexpr uint16_t kConnackOnly = bit(PropertyContext::kConnack);
constexpr uint16_t kEverywhere =
    (uint16_t{1} << (static_cast<int>(PropertyContext::kAuth) + 1)) - 1;

// The spec's §2.2.2.2 table: the places each property may appear; 0 for unknown ids.
uint16_t allowed_contexts(uint8_t id) {
  using C = PropertyContext;
  switch (static_cast<PropertyId>(id)) {
    case PropertyId::kPayloadFormatIndicator:
    case PropertyId::kMessageExpiryInterval:
    case PropertyId::kContentType:
    case PropertyId::kResponseTopic:
    case PropertyId::kCorrelationData:
      return kPublishOrWill;
    case PropertyId::kSubscriptionIdentifier:
      return bit(C::kPublish) | bit(C::kSubscribe);
    case PropertyId::kSessionExpiryInterval:
      return kConnectOrConnack | bit(C::kDisconnect);
    case PropertyId::kAssignedClientIdentifier:
    case PropertyId::kServerKeepAlive:
    case PropertyId::kResponseInformation:
    case PropertyId::kMaximumQos:
    case PropertyId::kRetainAvailable:
    case PropertyId::kWildcardSubscriptionAvailable:
    case PropertyId::kSubscriptionIdentifierAvailable:
    case PropertyId::kSharedSubscriptionAvailable:
      return kConnackOnly;
    case PropertyId::kAuthenticationMethod:
    case PropertyId::kAuthenticationData:
      return kConnectOrConnack | bit(C::kAuth);
    case PropertyId::kRequestProblemInformation:
    case PropertyId::kRequestResponseInformation:
      return bit(C::kConnect);
    case PropertyId::kWillDelayInterval:
      return bit(C::kWill);
    case PropertyId::kServerReference:
      return kConnackOnly | bit(C::kDisconnect);
    case PropertyId::kReasonString:
      return kConnackOnly | bit(C::kAck) | bit(C::kSuback) | bit(C::kUnsuback) |
             bit(C::kDisconnect) | bit(C::kAuth);
    case PropertyId::kReceiveMaximum:
    case PropertyId::kTopicAliasMaximum:
    case PropertyId::kMaximumPacketSize:
      return kConnectOrConnack;
    case PropertyId::kTopicAlias:
      return bit(C::kPublish);
    case PropertyId::kUserProperty:
      return kEverywhere;
  }
  return 0;
}

// Byte properties are all booleans on the wire except Maximum QoS, which is 0 or 1 too
// (a server supporting QoS 2 omits it) [MQTT-3.2.2-9].
ReasonCode read_flag(Reader& r, std::optional<uint8_t>& slot) {
  uint8_t v = 0;
  if (!r.u8(v)) {
    return ReasonCode::kMalformedPacket;
  }
  if (slot.has_value() || v > 1) {
    return ReasonCode::kProtocolError;
  }
  slot = v;
  return ReasonCode::kSuccess;
}

// `nonzero`: Receive Maximum 0 is a Protocol Error (spec §3.1.2.11.3, §3.2.2.3.3).
ReasonCode read_two(Reader& r, std::optional<uint16_t>& slot, bool nonzero) {
  uint16_t v = 0;
  if (!r.u16(v)) {
    return ReasonCode::kMalformedPacket;
  }
  if (slot.has_value() || (nonzero && v == 0)) {
    return ReasonCode::kProtocolError;
  }
  slot = v;
  return ReasonCode::kSuccess;
}

// `nonzero`: Maximum Packet Size 0 is a Protocol Error (spec §3.1.2.11.4, §3.2.2.3.6).
ReasonCode read_four(Reader& r, std::optional<uint32_t>& slot, bool nonzero) {
  uint32_t v = 0;
  if (!r.u32(v)) {
    return ReasonCode::kMalformedPacket;
  }
  if (slot.has_value() || (nonzero && v == 0)) {
    return ReasonCode::kProtocolError;
  }
  slot = v;
  return ReasonCode::kSuccess;
}

ReasonCode read_text(Reader& r, std::optional<std::string_view>& slot) {
  std::string_view v;
  if (!r.utf8(v)) {
    return ReasonCode::kMalformedPacket;
  }
  if (slot.has_value()) {
    return ReasonCode::kProtocolError;
  }
  slot = v;
  return ReasonCode::kSuccess;
}

ReasonCode read_data(Reader& r, std::optional<Bytes>& slot) {
  Bytes v;
  if (!r.binary(v)) {
    return ReasonCode::kMalformedPacket;
  }
  if (slot.has_value()) {
    return ReasonCode::kProtocolError;
  }
  slot = v;
  return ReasonCode::kSuccess;
}

ReasonCode read_response_topic(Reader& r, Properties& out) {
  const ReasonCode rc = read_text(r, out.response_topic);
  if (rc != ReasonCode::kSuccess) {
    return rc;
  }
  // The Response Topic is a Topic Name: no wildcards [MQTT-3.3.2-14].
  return valid_topic_name(*out.response_topic) ? ReasonCode::kSuccess
                                              : ReasonCode::kProtocolError;
}

ReasonCode read_subscription_id(Reader& r, PropertyContext context, Properties& out) {
  uint32_t v = 0;
  if (!r.varint(v)) {
    return ReasonCode::kMalformedPacket;
  }
  // Only a PUBLISH may carry several, one per matching subscription [MQTT-3.3.4-4].
  if (v == 0 || (context != PropertyContext::kPublish && !out.subscription_identifiers.empty())) {
    return ReasonCode::kProtocolError;
  }
  out.subscription_identifiers.push_back(v);
  return ReasonCode::kSuccess;
}

ReasonCode read_user_property(Reader& r, Properties& out) {
  UserProperty up;
  if (!r.utf8(up.key) || !r.utf8(up.value)) {
    return ReasonCode::kMalformedPacket;
  }
  out.user_properties.push_back(up);
  return ReasonCode::kSuccess;
}

ReasonCode read_topic_alias(Reader& r, Properties& out) {
  uint16_t v = 0;
  if (!r.u16(v)) {
    return ReasonCode::kMalformedPacket;
  }
  if (out.topic_alias.has_value()) {
    return ReasonCode::kProtocolError;
  }
  if (v == 0) {
    return ReasonCode::kTopicAliasInvalid;  // [MQTT-3.3.2-8]
  }
  out.topic_alias = v;
  return ReasonCode::kSuccess;
}

// Reads the value of one property whose id is allowed in `context`.
ReasonCode read_value(Reader& r, PropertyId id, PropertyContext context, Properties& out) {
  switch (id) {
    case PropertyId::kPayloadFormatIndicator: return read_flag(r, out.payload_format_indicator);
    case PropertyId::kMessageExpiryInterval:
      return read_four(r, out.message_expiry_interval, false);
    case PropertyId::kContentType: return read_text(r, out.content_type);
    case PropertyId::kResponseTopic: return read_response_topic(r, out);
    case PropertyId::kCorrelationData: return read_data(r, out.correlation_data);
    case PropertyId::kSubscriptionIdentifier: return read_subscription_id(r, context, out);
    case PropertyId::kSessionExpiryInterval:
      return read_four(r, out.session_expiry_interval, false);
    case PropertyId::kAssignedClientIdentifier:
      return read_text(r, out.assigned_client_identifier);
    case PropertyId::kServerKeepAlive: return read_two(r, out.server_keep_alive, false);
    case PropertyId::kAuthenticationMethod: return read_text(r, out.authentication_method);
    case PropertyId::kAuthenticationData: return read_data(r, out.authentication_data);
    case PropertyId::kRequestProblemInformation:
      return read_flag(r, out.request_problem_information);
    case PropertyId::kWillDelayInterval: return read_four(r, out.will_delay_interval, false);
    case PropertyId::kRequestResponseInformation:
      return read_flag(r, out.request_response_information);
    case PropertyId::kResponseInformation: return read_text(r, out.response_information);
    case PropertyId::kServerReference: return read_text(r, out.server_reference);
    case PropertyId::kReasonString: return read_text(r, out.reason_string);
    case PropertyId::kReceiveMaximum: return read_two(r, out.receive_maximum, true);
    case PropertyId::kTopicAliasMaximum: return read_two(r, out.topic_alias_maximum, false);
    case PropertyId::kTopicAlias: return read_topic_alias(r, out);
    case PropertyId::kMaximumQos: return read_flag(r, out.maximum_qos);
    case PropertyId::kRetainAvailable: return read_flag(r, out.retain_available);
    case PropertyId::kUserProperty: return read_user_property(r, out);
    case PropertyId::kMaximumPacketSize: return read_four(r, out.maximum_packet_size, true);
    case PropertyId::kWildcardSubscriptionAvailable:
      return read_flag(r, out.wildcard_subscription_available);
    case PropertyId::kSubscriptionIdentifierAvailable:
      return read_flag(r, out.subscription_identifier_available);
    case PropertyId::kSharedSubscriptionAvailable:
      return read_flag(r, out.shared_subscription_available);
  }
  return ReasonCode::kMalformedPacket;
}

bool same_bytes(const std::optional<Bytes>& a, const std::optional<Bytes>& b) {
  if (a.has_value() != b.has_value()) {
    return false;
  }
  return !a.has_value() || std::equal(a->begin(), a->end(), b->begin(), b->end());
}

// One routine for both passes so size and bytes cannot disagree.
template <class W>
void put_properties(W& w, const Properties& p) {
  auto flag = [&w](PropertyId id, const std::optional<uint8_t>& v) {
    if (v.has_value()) {
      w.u8(static_cast<uint8_t>(id));
      w.u8(*v);
    }
  };
  auto two = [&w](PropertyId id, const std::optional<uint16_t>& v) {
    if (v.has_value()) {
      w.u8(static_cast<uint8_t>(id));
      w.u16(*v);
    }
  };
  auto four = [&w](PropertyId id, const std::optional<uint32_t>& v) {
    if (v.has_value()) {
      w.u8(static_cast<uint8_t>(id));
      w.u32(*v);
    }
  };
  auto text = [&w](PropertyId id, const std::optional<std::string_view>& v) {
    if (v.has_value()) {
      w.u8(static_cast<uint8_t>(id));
      w.string(*v);
    }
  };
  auto data = [&w](PropertyId id, const std::optional<Bytes>& v) {
    if (v.has_value()) {
      w.u8(static_cast<uint8_t>(id));
      w.binary(*v);
    }
  };
  flag(PropertyId::kPayloadFormatIndicator, p.payload_format_indicator);
  four(PropertyId::kMessageExpiryInterval, p.message_expiry_interval);
  text(PropertyId::kContentType, p.content_type);
  text(PropertyId::kResponseTopic, p.response_topic);
  data(PropertyId::kCorrelationData, p.correlation_data);
  for (uint32_t id : p.subscription_identifiers) {
    w.u8(static_cast<uint8_t>(PropertyId::kSubscriptionIdentifier));
    w.varint(id);
  }
  four(PropertyId::kSessionExpiryInterval, p.session_expiry_interval);
  text(PropertyId::kAssignedClientIdentifier, p.assigned_client_identifier);
  two(PropertyId::kServerKeepAlive, p.server_keep_alive);
  text(PropertyId::kAuthenticationMethod, p.authentication_method);
  data(PropertyId::kAuthenticationData, p.authentication_data);
  flag(PropertyId::kRequestProblemInformation, p.request_problem_information);
  four(PropertyId::kWillDelayInterval, p.will_delay_interval);
  flag(PropertyId::kRequestResponseInformation, p.request_response_information);
  text(PropertyId::kResponseInformation, p.response_information);
  text(PropertyId::kServerReference, p.server_reference);
  text(PropertyId::kReasonString, p.reason_string);
  two(PropertyId::kReceiveMaximum, p.receive_maximum);
  two(PropertyId::kTopicAliasMaximum, p.topic_alias_maximum);
  two(PropertyId::kTopicAlias, p.topic_alias);
  flag(PropertyId::kMaximumQos, p.maximum_qos);
  flag(PropertyId::kRetainAvailable, p.retain_available);
  for (const UserProperty& up : p.user_properties) {
    w.u8(static_cast<uint8_t>(PropertyId::kUserProperty));
    w.string(up.key);
    w.string(up.value);
  }
  four(PropertyId::kMaximumPacketSize, p.maximum_packet_size);
  flag(PropertyId::kWildcardSubscriptionAvailable, p.wildcard_subscription_available);
  flag(PropertyId::kSubscriptionIdentifierAvailable, p.subscription_identifier_available);
  flag(PropertyId::kSharedSubscriptionAvailable, p.shared_subscription_available);
}

}  // namespace

ReasonCode read_properties(Reader& r, PropertyContext context, Properties& out) {
  uint32_t length = 0;
  if (!r.varint(length) || length > r.left()) {
    return ReasonCode::kMalformedPacket;
  }
  Reader block(r.pos, r.pos + length);
  r.pos += length;
  const uint16_t here = bit(context);
  while (!block.at_end()) {
    const uint8_t id = *block.pos++;
    // Ids are one-byte varints; a set top bit is an unknown id or a non-minimal one.
    if ((allowed_contexts(id) & here) == 0) {
      return ReasonCode::kMalformedPacket;
    }
    const ReasonCode rc = read_value(block, static_cast<PropertyId>(id), context, out);
    if (rc != ReasonCode::kSuccess) {
      return rc;
    }
  }
  return ReasonCode::kSuccess;
}

void clear_properties(Properties& props) {
  // Field by field: resetting an optional is one store, and the vectors keep their
  // capacity; assigning a fresh Properties would construct and move ~400 bytes per packet.
  props.payload_format_indicator.reset();
  props.message_expiry_interval.reset();
  props.content_type.reset();
  props.response_topic.reset();
  props.correlation_data.reset();
  props.subscription_identifiers.clear();
  props.session_expiry_interval.reset();
  props.assigned_client_identifier.reset();
  props.server_keep_alive.reset();
  props.authentication_method.reset();
  props.authentication_data.reset();
  props.request_problem_information.reset();
  props.will_delay_interval.reset();
  props.request_response_information.reset();
  props.response_information.reset();
  props.server_reference.reset();
  props.reason_string.reset();
  props.receive_maximum.reset();
  props.topic_alias_maximum.reset();
  props.topic_alias.reset();
  props.maximum_qos.reset();
  props.retain_available.reset();
  props.user_properties.clear();
  props.maximum_packet_size.reset();
  props.wildcard_subscription_available.reset();
  props.subscription_identifier_available.reset();
  props.shared_subscription_available.reset();
}

size_t properties_body_size(const Properties& props) {
  if (props.empty()) {
    return 0;
  }
  Counter c;
  put_properties(c, props);
  return c.n;
}

void write_properties(Writer& w, const Properties& props) {
  const size_t body = properties_body_size(props);
  PG_ASSERT(body <= kMaxRemainingLength);
  w.varint(static_cast<uint32_t>(body));
  if (body != 0) {
    [[maybe_unused]] uint8_t* const start = w.p;
    put_properties(w, props);
    PG_DASSERT(static_cast<size_t>(w.p - start) == body);
  }
}

bool Properties::empty() const {
  return !payload_format_indicator && !message_expiry_interval && !content_type &&
         !response_topic && !correlation_data && subscription_identifiers.empty() &&
         !session_expiry_interval && !assigned_client_identifier && !server_keep_alive &&
         !authentication_method && !authentication_data && !request_problem_information &&
         !will_delay_interval && !request_response_information && !response_information &&
         !server_reference && !reason_string && !receive_maximum && !topic_alias_maximum &&
         !topic_alias && !maximum_qos && !retain_available && user_properties.empty() &&
         !maximum_packet_size && !wildcard_subscription_available &&
         !subscription_identifier_available && !shared_subscription_available;
}

bool operator==(const Properties& a, const Properties& b) {
  return a.payload_format_indicator == b.payload_format_indicator &&
         a.message_expiry_interval == b.message_expiry_interval &&
         a.content_type == b.content_type && a.response_topic == b.response_topic &&
         same_bytes(a.correlation_data, b.correlation_data) &&
         a.subscription_identifiers == b.subscription_identifiers &&
         a.session_expiry_interval == b.session_expiry_interval &&
         a.assigned_client_identifier == b.assigned_client_identifier &&
         a.server_keep_alive == b.server_keep_alive &&
         a.authentication_method == b.authentication_method &&
         same_bytes(a.authentication_data, b.authentication_data) &&
         a.request_problem_information == b.request_problem_information &&
         a.will_delay_interval == b.will_delay_interval &&
         a.request_response_information == b.request_response_information &&
         a.response_information == b.response_information &&
         a.server_reference == b.server_reference && a.reason_string == b.reason_string &&
         a.receive_maximum == b.receive_maximum &&
         a.topic_alias_maximum == b.topic_alias_maximum && a.topic_alias == b.topic_alias &&
         a.maximum_qos == b.maximum_qos && a.retain_available == b.retain_available &&
         a.user_properties == b.user_properties &&
         a.maximum_packet_size == b.maximum_packet_size &&
         a.wildcard_subscription_available == b.wildcard_subscription_available &&
         a.subscription_identifier_available == b.subscription_identifier_available &&
         a.shared_subscription_available == b.shared_subscription_available;
}

}  // namespace peregrine::mqtt
