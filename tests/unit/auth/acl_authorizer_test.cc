// The config-file ACL: rules that name a client apply to proven identities only, and
// Mosquitto's %u / %c patterns.
#include "src/auth/acl_authorizer.h"

#include <gtest/gtest.h>

namespace peregrine::auth {
namespace {

AclRule deny(std::string topic, std::string username = "", std::string client_id = "") {
  AclRule rule;
  rule.topic = std::move(topic);
  rule.read = true;
  rule.write = true;
  rule.username = std::move(username);
  rule.client_id = std::move(client_id);
  return rule;
}

ClientIdentity identity(std::string_view client_id, std::optional<std::string_view> username,
                        bool verified) {
  ClientIdentity id;
  id.client_id = client_id;
  id.username = username;
  id.verified = verified;
  return id;
}

TEST(AclAuthorizer, NamedRulesApplyToProvenIdentitiesOnly) {
  Acl acl;
  acl.deny = {deny("admin/#", "guest"), deny("ops/#", "", "c1"), deny("secret/#")};
  const AclAuthorizer authorizer(acl);
  EXPECT_FALSE(authorizer.allow_publish(identity("x", "guest", true), "admin/a"));
  EXPECT_TRUE(authorizer.allow_publish(identity("x", "guest", false), "admin/a"));
  EXPECT_FALSE(authorizer.allow_subscribe(identity("c1", std::nullopt, true), "ops/+"));
  EXPECT_TRUE(authorizer.allow_subscribe(identity("c1", std::nullopt, false), "ops/+"));
  // An unnamed rule applies to everyone.
  EXPECT_FALSE(authorizer.allow_read(identity("x", std::nullopt, false), "secret/a"));
}

TEST(AclAuthorizer, PatternsAreTheProvenNamesOrAnyLevel) {
  Acl acl;
  acl.deny = {deny("devices/%c/config"), deny("users/%u/#")};
  const AclAuthorizer authorizer(acl);
  const ClientIdentity proven = identity("d1", "ann", true);
  EXPECT_FALSE(authorizer.allow_publish(proven, "devices/d1/config"));
  EXPECT_TRUE(authorizer.allow_publish(proven, "devices/d2/config"));
  EXPECT_FALSE(authorizer.allow_publish(proven, "users/ann/x"));
  EXPECT_TRUE(authorizer.allow_publish(proven, "users/bob/x"));
  // Proving nothing, a claimed name cannot steer a rule away: any level is covered.
  const ClientIdentity claimed = identity("d1", "ann", false);
  EXPECT_FALSE(authorizer.allow_publish(claimed, "devices/d2/config"));
  EXPECT_FALSE(authorizer.allow_publish(claimed, "users/bob/x"));
  // A proven client without a username: %u covers any level.
  EXPECT_FALSE(authorizer.allow_publish(identity("d1", std::nullopt, true), "users/bob/x"));
  // Not a pattern: "%user" is a literal level.
  Acl literal;
  literal.deny = {deny("a/%user")};
  EXPECT_TRUE(AclAuthorizer(literal).allow_publish(proven, "a/ann"));
  EXPECT_FALSE(AclAuthorizer(literal).allow_publish(proven, "a/%user"));
}

}  // namespace
}  // namespace peregrine::auth
