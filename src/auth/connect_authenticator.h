// The built-in Authenticator: password files, JWTs in the CONNECT password (tokens), and
// the anonymous policy. One per shard (ConnectAuthenticatorFactory::make), each with its
// own wolfCrypt keys and caches; the factory's settings are immutable, shared read-only,
// and outlive every authenticator made from them.
//
// Decision, in order:
//  1. A username the broker knows (password file, SCRAM user) must come with its
//     password (or CONNACK 0x86), even where anonymous access is allowed: a credential
//     the broker can check is checked. SCRAM users prove themselves only through the
//     AUTH exchange.
//  2. A password shaped like a JWT (two dots) is a token: it verifies with a configured
//     key or one of the broker's own (or 0x86, also when there is no key at all: a token
//     whose key was deleted must not pass as anonymous) and its subject must match the
//     client id and the username when those are given (or 0x87).
//  3. A TLS certificate identity, or an enhanced authentication exchange, proves the
//     client by other means: let through (the exchange still has to succeed).
//  4. Anything else is anonymous: allowed by `allow_anonymous`, otherwise 0x86 (a client
//     that presented nothing is asked for credentials: HTTP 401).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "include/peregrine/authenticator.h"
#include "src/auth/jws_key.h"
#include "src/auth/jwt.h"
#include "src/auth/password_file.h"

namespace peregrine::auth {

struct AuthSettings {
  bool allow_anonymous = true;
  std::vector<JwsKey> jwt_keys;
  JwtPolicy jwt_policy;
  uint32_t token_cache_entries = 4096;  // per shard; 0: no cache
  std::optional<PasswordFile> passwords;
  std::vector<std::string> scram_users;  // known users that must use SCRAM
  int64_t (*clock)() = nullptr;         // seconds since the epoch; nullptr: the real one
};

class ConnectAuthenticatorFactory final : public AuthenticatorFactory {
 public:
  explicit ConnectAuthenticatorFactory(AuthSettings settings) : _settings(std::move(settings)) {}
  std::unique_ptr<Authenticator> make() const override;
  const AuthSettings& settings() const { return _settings; }

 private:
  AuthSettings _settings;
};

// How one token check went, for counters: the refusal a TokenRefusal becomes.
AuthRefusal auth_refusal(TokenRefusal refusal);

}  // namespace peregrine::auth
