#include "src/auth/acl_authorizer.h"

#include "src/mqtt/codec.h"

namespace peregrine::auth {

namespace {

// The rule's topic with %u and %c replaced level by level; "+" for a name the client did
// not prove (or does not have).
std::string substitute(std::string_view topic, const ClientIdentity& client) {
  std::string out;
  size_t start = 0;
  while (true) {
    const size_t end = topic.find('/', start);
    const std::string_view level =
        topic.substr(start, end == std::string_view::npos ? end : end - start);
    if (level == "%u") {
      out += client.verified && client.username ? *client.username : std::string_view("+");
    } else if (level == "%c") {
      out += client.verified ? client.client_id : std::string_view("+");
    } else {
      out += level;
    }
    if (end == std::string_view::npos) {
      return out;
    }
    out += '/';
    start = end + 1;
  }
}

bool has_pattern(std::string_view topic) {
  return topic == "%u" || topic == "%c" || topic.starts_with("%u/") ||
         topic.starts_with("%c/") || topic.ends_with("/%u") || topic.ends_with("/%c") ||
         topic.find("/%u/") != std::string_view::npos ||
         topic.find("/%c/") != std::string_view::npos;
}

}  // namespace

AclAuthorizer::AclAuthorizer(Acl acl) : _acl(std::move(acl)) {
  for (const AclRule& rule : _acl.deny) {
    _denies_reads = _denies_reads || rule.read;
    _patterned.push_back(has_pattern(rule.topic));
  }
}

bool AclAuthorizer::covers(const AclRule& rule, const ClientIdentity& client,
                           std::string_view target) const {
  const size_t index = static_cast<size_t>(&rule - _acl.deny.data());
  if (!_patterned[index]) {
    return mqtt::topic_matches(rule.topic, target);
  }
  return mqtt::topic_matches(substitute(rule.topic, client), target);
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
    if (rule.write && applies(rule, client) && covers(rule, client, topic)) {
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
    if (rule.read && applies(rule, client) && covers(rule, client, filter)) {
      return false;
    }
  }
  return true;
}

bool AclAuthorizer::allow_read(const ClientIdentity& client, std::string_view topic) const {
  for (const AclRule& rule : _acl.deny) {
    if (rule.read && applies(rule, client) && covers(rule, client, topic)) {
      return false;
    }
  }
  return true;
}

}  // namespace peregrine::auth
