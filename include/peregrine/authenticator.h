// The authentication hook point: who a CONNECT's credentials prove the client to be, and
// whether it may connect at all. Asked once per connection, on the shard that accepted
// it, before the connection moves to its session's shard (a token's subject can choose
// that shard). Each shard has its own Authenticator, made by the factory before the
// shards start and used by that shard's thread only, so an implementation may keep
// caches and crypto objects without locks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "include/peregrine/authorizer.h"
#include "include/peregrine/token_issuer.h"

namespace peregrine {

struct Credentials {
  std::string_view client_id;                // as the CONNECT has it (may be empty)
  std::optional<std::string_view> username;
  std::optional<std::string_view> password;  // bytes, as sent
  bool loopback = false;                     // the peer is on this host
  // A verified TLS client certificate stands for the client (tls.identity is set and the
  // certificate gave one): it is authenticated without a password.
  bool certificate = false;
  // The client runs an enhanced authentication exchange (MQTT 5 AUTH) that proves it.
  bool enhanced = false;
};

// Why a connection was refused; each has its own counter.
enum class AuthRefusal : uint8_t {
  kNone,
  kNoCredentials,    // anonymous access is off and nothing was presented
  kTokenMalformed,   // not a token we read: shape, base64url, JSON, header members
  kTokenKey,         // alg none/unknown/not the key's, or no key has its kid
  kTokenSignature,
  kTokenExpired,
  kTokenNotYetValid,
  kTokenClaims,      // claim types, iss, aud, topic claims
  kTokenRevoked,
  kSubjectMismatch,  // client id or username differs from the token's subject
  kBadPassword,      // a known user with a wrong or missing password
};

struct AuthResult {
  enum class Outcome : uint8_t {
    kAnonymous,       // let in with nothing proven
    kVerified,        // the credential proved who the client is
    kBadCredentials,  // CONNACK 0x86 (3.1.1: 4), HTTP 401
    kNotAuthorized,   // CONNACK 0x87 (3.1.1: 5), HTTP 403
  };
  Outcome outcome = Outcome::kAnonymous;
  AuthRefusal refusal = AuthRefusal::kNone;
  std::string subject;   // verified: the client id the credential is for ("" when none)
  std::string username;  // verified: the username to act as ("" when none)
  std::string token_id;  // jti, for revocation
  // The broker key (token_issuer.h) that signed the token; "" for any other credential.
  // Deleting that key closes the connection.
  std::string broker_key_id;
  int64_t expires_at_s = 0;  // the credential's end (seconds since the epoch); 0: none
  std::optional<TopicGrant> grant;  // topic claims, when the credential has any

  bool refused() const {
    return outcome == Outcome::kBadCredentials || outcome == Outcome::kNotAuthorized;
  }
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual AuthResult authenticate(const Credentials& credentials) = 0;
  // Seconds since the epoch, the clock expiry is judged by.
  virtual int64_t now_s() const = 0;
  // The broker's own signing keys changed (public halves; the whole set): tokens they
  // sign verify from now on, and those of a key no longer in the set do not, even if
  // seen before. Called on the authenticator's shard, at start and after each change.
  virtual void use_broker_keys(const std::vector<BrokerKey>& keys) { (void)keys; }
};

class AuthenticatorFactory {
 public:
  virtual ~AuthenticatorFactory() = default;
  virtual std::unique_ptr<Authenticator> make() const = 0;
};

}  // namespace peregrine
