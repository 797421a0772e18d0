// The broker's own signing keys and the credentials it issues with them (Cloudflare's
// broker keys and `credentials` call): Ed25519 keys the broker generates and keeps in
// state_dir, and JWTs it signs for client ids, for clients to present as their CONNECT
// password. Implemented outside the broker (src/auth); the broker reaches it only
// through this interface: one TokenIssuer, made before the shards start; its non-const
// calls on shard 0's thread alone (the control plane's leader), its const calls pure,
// from any shard.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace peregrine {

// A signing key the broker made. Every shard holds the public half (to verify what it
// signed); only shard 0 holds the private half.
struct BrokerKey {
  std::string kid;          // its RFC 7638 thumbprint
  int64_t created_s = 0;    // seconds since the epoch
  std::string public_key;   // Ed25519, 32 bytes
  std::string private_key;  // Ed25519 seed, 32 bytes; "" outside shard 0

  BrokerKey public_half() const { return {kid, created_s, public_key, {}}; }
};

// What one `credentials` call asks for: a token per client id, either given or made.
struct CredentialRequest {
  static constexpr uint32_t kMaxTokens = 100;  // per call, as Cloudflare's
  static constexpr size_t kMaxFilters = 100;   // per list below

  uint32_t number = 1;                    // tokens to make when no client ids are given
  std::vector<std::string> client_ids;    // given: one token each (number is their count)
  std::optional<int64_t> expires_in_s;    // nullopt: no exp claim
  std::vector<std::string> topic_acl;     // Cloudflare's topicAcl: both directions
  std::vector<std::string> publish;       // Peregrine's own {"peregrine":{"pub":[...]}}
  std::vector<std::string> subscribe;     // ... and "sub"
  std::string kid;                        // the key to sign with; "": the newest
};

class TokenIssuer {
 public:
  virtual ~TokenIssuer() = default;
  // A new Ed25519 key pair, made at `now_s`; false with `error` (the RNG failed).
  virtual bool generate_key(int64_t now_s, BrokerKey& out, std::string& error) = 0;
  // The public half as a JWK (RFC 8037): {"kty":"OKP","crv":"Ed25519","x":..,"alg":"EdDSA",
  // "kid":..,"use":"sig"}.
  virtual std::string public_jwk(const BrokerKey& key) const = 0;
  // A client id for a token whose client id was not given: 23 characters of [0-9A-Z]
  // (the length every MQTT 3.1.1 server must accept), time-ordered like a ULID.
  virtual std::string make_client_id(int64_t now_ms) = 0;
  // A signed compact JWT for `client_id` with `key` (which has its private half): sub,
  // a fresh jti, iat, exp when asked for, the configured iss and aud, and the request's
  // topic claims. "" when signing failed.
  virtual std::string issue(const BrokerKey& key, const std::string& client_id,
                            const CredentialRequest& request, int64_t now_s) = 0;
  // The state_dir file that keeps the keys (private halves included), and back.
  virtual std::string encode_key_file(const std::vector<BrokerKey>& keys) const = 0;
};

}  // namespace peregrine
