// The authorization hook point: every SUBSCRIBE filter and PUBLISH topic passes through
// an Authorizer, and, when it may deny reading, every delivery of a concrete topic. One
// Authorizer is shared, read-only, by all shards: its calls must not mutate shared state
// (an implementation that learns at run time keeps per-shard state of its own).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace peregrine {

// What a verified token's topic claims allow (topicAcl, x-fastly-read/-write, Peregrine's
// own lists): topic filters, '+' and '#' as in MQTT. A publish is allowed when its topic
// matches one of `publish`; a subscription when one of `subscribe` covers its filter
// (mqtt::filter_covers). Checked by the broker before the Authorizer is asked.
struct TopicGrant {
  std::vector<std::string> publish;
  std::vector<std::string> subscribe;
};

struct ClientIdentity {
  std::string_view client_id;
  std::optional<std::string_view> username;
  // The client id and username were proven (token, password, SCRAM or certificate)
  // rather than merely claimed; rules keyed on them apply to verified identities only.
  bool verified = false;
  const TopicGrant* grant = nullptr;  // nullptr: the credential limits no topics
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // May `client` publish to `topic`?
  virtual bool allow_publish(const ClientIdentity& client, std::string_view topic) const = 0;
  // May `client` subscribe to `filter` (wildcards as written)?
  virtual bool allow_subscribe(const ClientIdentity& client, std::string_view filter) const = 0;
  // May `client` receive a message published on `topic`? Asked per delivery only when
  // may_deny_reads() is true, so that an allow-all authorizer costs nothing per message.
  virtual bool allow_read(const ClientIdentity& client, std::string_view topic) const = 0;
  virtual bool may_deny_reads() const = 0;
};

}  // namespace peregrine
