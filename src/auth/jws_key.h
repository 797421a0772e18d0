// JWS verification keys (RFC 7515, RFC 7518 §3, RFC 8037): what a configured key is, how
// it is read from PEM, JWK or JWKS text, and how it is written back as a public JWK and
// its RFC 7638 thumbprint.
//
// A JwsKey is plain bytes and immutable once loaded: the main thread loads keys, every
// shard builds its own wolfCrypt objects from them (jws_verifier.h), because wolfCrypt's
// key objects keep working state and must not be shared between threads.
//
// Each key pins one algorithm; the token's header never chooses it (RFC 8725 §3.1).
// Refused at load: RSA moduli under 2,048 bits, EC keys not on P-256, HMAC secrets under
// 32 bytes (RFC 7518 §3.2: at least the hash's size).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace peregrine::auth {

enum class JwsAlgorithm : uint8_t { kEdDSA, kES256, kRS256, kPS256, kHS256 };

// Exact, case-sensitive names ("none" is not one).
std::optional<JwsAlgorithm> jws_algorithm(std::string_view name);
std::string_view algorithm_name(JwsAlgorithm alg);

struct JwsKey {
  JwsAlgorithm alg = JwsAlgorithm::kEdDSA;
  std::string kid;
  // EdDSA: the 32-byte public key; ES256: x then y, 32 bytes each; RS256/PS256: the
  // modulus, big-endian without leading zeros; HS256: the secret.
  std::string material;
  std::string exponent;  // RS256/PS256: big-endian without leading zeros

  bool symmetric() const { return alg == JwsAlgorithm::kHS256; }
  // The public JWK as JSON, with "alg", "kid" and "use":"sig" (RFC 7517 §4);
  // "" for an HMAC secret, which is never published.
  std::string public_jwk() const;
  // RFC 7638: base64url(SHA-256(the required members, sorted, no spaces)).
  std::string thumbprint() const;
};

// Reads every key in `text`: a PEM public key ("BEGIN PUBLIC KEY", SPKI), a JWK, or a
// JWKS ({"keys": [...]}). `alg` pins the algorithm when given; a JWK's own "alg" must
// then agree, and without `alg` each JWK must carry one. `kid` names a single key (PEM,
// JWK); otherwise a JWK's "kid" is used, and failing that the key's thumbprint.
// Returns false with `error` set (no secret in it) and `out` untouched.
bool load_jws_keys(std::string_view text, std::optional<JwsAlgorithm> alg, std::string_view kid,
                   std::vector<JwsKey>& out, std::string& error);

// An HMAC secret given as raw bytes (a secret file).
bool hmac_key(std::string_view secret, std::string_view kid, JwsKey& out, std::string& error);

}  // namespace peregrine::auth
