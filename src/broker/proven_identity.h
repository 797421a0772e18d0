// What a connection's credential proved, beyond its client id and username: the token
// it used (for revocation), when that stops being valid, and the topics its claims allow.
// Made by the Client when authentication verifies a credential (token, SCRAM, TLS
// certificate), then owned by the Session of that connection until the next one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "include/peregrine/authorizer.h"
#include "src/mqtt/codec.h"

namespace peregrine::broker {

struct ProvenIdentity {
  std::string subject;   // the client id the credential is for ("": any)
  std::string token_id;  // jti ("": none, or not a token)
  std::string broker_key_id;  // the broker key that signed the token ("": another)
  uint64_t deadline_ms = 0;  // the shard clock's time the credential expires; 0: never
  std::optional<TopicGrant> grant;
};

// The token's topic claims, checked before the Authorizer: no grant (nullptr) allows
// everything, at the cost of one pointer test on the PUBLISH path.
inline bool grant_allows_publish(const TopicGrant* grant, std::string_view topic) {
  if (grant == nullptr) {
    return true;
  }
  for (const std::string& filter : grant->publish) {
    if (mqtt::topic_matches(filter, topic)) {
      return true;
    }
  }
  return false;
}

// A subscription is allowed when one granted filter covers it whole (a shared
// subscription by its inner filter): "#" under a grant of "a/#" is refused, not narrowed.
inline bool grant_allows_subscribe(const TopicGrant* grant, std::string_view filter) {
  if (grant == nullptr) {
    return true;
  }
  std::string_view group;
  std::string_view inner;
  if (mqtt::parse_shared_filter(filter, group, inner)) {
    filter = inner;
  }
  for (const std::string& granted : grant->subscribe) {
    if (mqtt::filter_covers(granted, filter)) {
      return true;
    }
  }
  return false;
}

}  // namespace peregrine::broker
