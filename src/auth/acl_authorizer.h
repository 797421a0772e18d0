// The built-in Authorizer: the config file's deny rules ([[acl.deny]]), first match wins,
// everything else allowed. Immutable after construction; shared read-only by all shards.
#pragma once

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

  Acl _acl;
  bool _denies_reads = false;
};

}  // namespace peregrine::auth
