// The built-in Authorizer: the config file's deny rules ([[acl.deny]]), first match wins,
// everything else allowed. Immutable after construction; shared read-only by all shards.
//
// Identity: a rule naming a client_id or username applies to clients that proved it
// (token, password, SCRAM, certificate); a claimed name matches no named rule. A topic
// may hold Mosquitto's patterns %u (username) and %c (client id), one whole level each:
// for a proven client they are its own names; for one that proved nothing they match
// any level, so that no claimed name slips past a rule.
#pragma once

#include <string_view>
#include <vector>

#include "include/peregrine/authorizer.h"
#include "include/peregrine/options.h"

namespace peregrine::auth {

class AclAuthorizer final : public Authorizer {
 public:
  explicit AclAuthorizer(Acl acl);

  bool allow_publish(const ClientIdentity& client, std::string_view topic) const override;
  bool allow_subscribe(const ClientIdentity& client, std::string_view filter) const override;
  bool allow_read(const ClientIdentity& client, std::string_view topic) const override;
  bool may_deny_reads() const override { return _denies_reads; }

 private:
  bool applies(const AclRule& rule, const ClientIdentity& client) const;
  // Whether `rule`'s topic matches `target` (a topic, or a filter as written) for
  // `client`, its patterns substituted first.
  bool covers(const AclRule& rule, const ClientIdentity& client, std::string_view target) const;

  Acl _acl;
  std::vector<bool> _patterned;  // per rule: its topic holds %u or %c
  bool _denies_reads = false;
};

}  // namespace peregrine::auth
