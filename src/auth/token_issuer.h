// The built-in TokenIssuer (include/peregrine/token_issuer.h): Ed25519 keys made with
// wolfCrypt's RNG, EdDSA-signed JWTs whose claims this broker's own verifier accepts
// (the configured iss and aud included), and the key file in state_dir.
//
// The key file, `signing-keys.json`, is a JWKS whose keys keep their private halves (RFC
// 8037 "d"), plus the time each was made: {"version":1,"keys":[{"kty":"OKP","crv":
// "Ed25519","alg":"EdDSA","kid":..,"x":..,"d":..,"created":SECONDS}]}. Read strictly: a
// member twice, a key whose "x" is not the public half of its "d", or two keys with one
// kid make the file refused (the broker does not start on a damaged key file rather than
// forget keys whose tokens are out there).
//
// Single-threaded: one issuer, used by shard 0's thread (and the main thread before it).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "include/peregrine/token_issuer.h"
#include "src/auth/jws_key.h"
#include "src/auth/jwt.h"

namespace peregrine::auth {

class Ed25519TokenIssuer final : public TokenIssuer {
 public:
  explicit Ed25519TokenIssuer(JwtPolicy policy);
  ~Ed25519TokenIssuer() override;
  Ed25519TokenIssuer(const Ed25519TokenIssuer&) = delete;
  Ed25519TokenIssuer& operator=(const Ed25519TokenIssuer&) = delete;

  bool generate_key(int64_t now_s, BrokerKey& out, std::string& error) override;
  std::string public_jwk(const BrokerKey& key) const override;
  std::string make_client_id(int64_t now_ms) override;
  std::string issue(const BrokerKey& key, const std::string& client_id,
                    const CredentialRequest& request, int64_t now_s) override;
  std::string encode_key_file(const std::vector<BrokerKey>& keys) const override;

 private:
  std::string random_bytes(size_t n);

  JwtPolicy _policy;
  struct Rng;
  std::unique_ptr<Rng> _rng;
};

// The key file's text back into keys (private halves included); false with `error`.
bool decode_key_file(std::string_view text, std::vector<BrokerKey>& out, std::string& error);

// What a shard verifies a broker key's tokens with.
JwsKey verification_key(const BrokerKey& key);

}  // namespace peregrine::auth
