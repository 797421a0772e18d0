#include "src/mqtt/reason_code.h"

namespace peregrine::mqtt {

ConnackV3 to_connack_v3(ReasonCode reason) {
  switch (reason) {
    case ReasonCode::kSuccess: return ConnackV3::kAccepted;
    case ReasonCode::kUnsupportedProtocolVersion: return ConnackV3::kUnacceptableProtocolVersion;
    case ReasonCode::kClientIdentifierNotValid: return ConnackV3::kIdentifierRejected;
    case ReasonCode::kBadUserNameOrPassword:
    case ReasonCode::kBadAuthenticationMethod:
      return ConnackV3::kBadUserNameOrPassword;
    case ReasonCode::kNotAuthorized:
    case ReasonCode::kBanned:
      return ConnackV3::kNotAuthorized;
    default:
      // Busy, moving, rate limits and every other refusal: a v3 client can only be told
      // to try again later.
      return ConnackV3::kServerUnavailable;
  }
}

const char* reason_name(ReasonCode reason) {
  switch (reason) {
    case ReasonCode::kSuccess: return "success";
    case ReasonCode::kGrantedQos1: return "granted_qos_1";
    case ReasonCode::kGrantedQos2: return "granted_qos_2";
    case ReasonCode::kDisconnectWithWill: return "disconnect_with_will";
    case ReasonCode::kNoMatchingSubscribers: return "no_matching_subscribers";
    case ReasonCode::kNoSubscriptionExisted: return "no_subscription_existed";
    case ReasonCode::kContinueAuthentication: return "continue_authentication";
    case ReasonCode::kReAuthenticate: return "re_authenticate";
    case ReasonCode::kUnspecifiedError: return "unspecified_error";
    case ReasonCode::kMalformedPacket: return "malformed_packet";
    case ReasonCode::kProtocolError: return "protocol_error";
    case ReasonCode::kImplementationSpecificError: return "implementation_specific_error";
    case ReasonCode::kUnsupportedProtocolVersion: return "unsupported_protocol_version";
    case ReasonCode::kClientIdentifierNotValid: return "client_identifier_not_valid";
    case ReasonCode::kBadUserNameOrPassword: return "bad_user_name_or_password";
    case ReasonCode::kNotAuthorized: return "not_authorized";
    case ReasonCode::kServerUnavailable: return "server_unavailable";
    case ReasonCode::kServerBusy: return "server_busy";
    case ReasonCode::kBanned: return "banned";
    case ReasonCode::kServerShuttingDown: return "server_shutting_down";
    case ReasonCode::kBadAuthenticationMethod: return "bad_authentication_method";
    case ReasonCode::kKeepAliveTimeout: return "keep_alive_timeout";
    case ReasonCode::kSessionTakenOver: return "session_taken_over";
    case ReasonCode::kTopicFilterInvalid: return "topic_filter_invalid";
    case ReasonCode::kTopicNameInvalid: return "topic_name_invalid";
    case ReasonCode::kPacketIdentifierInUse: return "packet_identifier_in_use";
    case ReasonCode::kPacketIdentifierNotFound: return "packet_identifier_not_found";
    case ReasonCode::kReceiveMaximumExceeded: return "receive_maximum_exceeded";
    case ReasonCode::kTopicAliasInvalid: return "topic_alias_invalid";
    case ReasonCode::kPacketTooLarge: return "packet_too_large";
    case ReasonCode::kMessageRateTooHigh: return "message_rate_too_high";
    case ReasonCode::kQuotaExceeded: return "quota_exceeded";
    case ReasonCode::kAdministrativeAction: return "administrative_action";
    case ReasonCode::kPayloadFormatInvalid: return "payload_format_invalid";
    case ReasonCode::kRetainNotSupported: return "retain_not_supported";
    case ReasonCode::kQosNotSupported: return "qos_not_supported";
    case ReasonCode::kUseAnotherServer: return "use_another_server";
    case ReasonCode::kServerMoved: return "server_moved";
    case ReasonCode::kSharedSubscriptionsNotSupported: return "shared_subscriptions_not_supported";
    case ReasonCode::kConnectionRateExceeded: return "connection_rate_exceeded";
    case ReasonCode::kMaximumConnectTime: return "maximum_connect_time";
    case ReasonCode::kSubscriptionIdentifiersNotSupported:
      return "subscription_identifiers_not_supported";
    case ReasonCode::kWildcardSubscriptionsNotSupported:
      return "wildcard_subscriptions_not_supported";
  }
  return "unknown";
}

}  // namespace peregrine::mqtt
