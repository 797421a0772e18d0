#include "src/auth/acl_authorizer.h"

#include "src/mqtt/codec.h"

namespace peregrine::auth {

AclAuthorizer::AclAuthorizer(Acl acl) : _acl(std::move(acl)) {
  for (const AclRule& rule : _acl.deny) {
    _denies_reads = _denies_reads || rule.read;
  }
}

bool AclAuthorizer::applies(const AclRule& rule, const ClientIdentity& client) const {
  // A rule that names a client applies to one that proved it is that client: an id or
  // username merely claimed matches no named rule (unnamed rules apply to everyone).
  if ((!rule.client_id.empty() || !rule.username.empty()) && !client.verified) {
    return false;
  }
  if (!rule.client_id.empty() && rule.client_id != client.client_id) {
    return false;
  }
  if (!rule.username.empty() && (!client.username || *client.username != rule.username)) {
    return false;
  }
  return true;
}

bool AclAuthorizer::allow_publish(const ClientIdentity& client, std::string_view topic) const {
  for (const AclRule& rule : _acl.deny) {
    if (rule.write && applies(rule, client) && mqtt::topic_matches(rule.topic, topic)) {
      return false;
    }
  }
  return true;
}

bool AclAuthorizer::allow_subscribe(const ClientIdentity& client,
                                    std::string_view filter) const {
  // A filter is refused when a rule covers it as written ("secret/#" covers "secret/+").
  // A broader filter ("#") is granted, and allow_read() keeps the denied topics out of it.
  std::string_view group;
  std::string_view inner;
  if (mqtt::parse_shared_filter(filter, group, inner)) {
    filter = inner;
  }
  for (const AclRule& rule : _acl.deny) {
    if (rule.read && applies(rule, client) && mqtt::topic_matches(rule.topic, filter)) {
      return false;
    }
  }
  return true;
}

bool AclAuthorizer::allow_read(const ClientIdentity& client, std::string_view topic) const {
  for (const AclRule& rule : _acl.deny) {
    if (rule.read && applies(rule, client) && mqtt::topic_matches(rule.topic, topic)) {
      return false;
    }
  }
  return true;
}

}  // namespace peregrine::auth
