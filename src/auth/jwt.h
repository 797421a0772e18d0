// JSON Web Tokens (RFC 7519) signed as compact JWS (RFC 7515): the checks a token passes
// before the broker trusts anything in it, and the claims it then carries. Pure apart
// from the signature check's CPU (jws_verifier.h); single-threaded, one per shard.
//
// Refused, each with its own TokenRefusal (counted and logged by the caller, never with
// the token): more than 4,096 bytes; not three base64url segments (strict: no padding,
// no stray bits); a header or claims set that is not one JSON object, or repeats a member
// name; "crit" (no extension is understood), "jwk", "jku", "x5u", "x5c", "b64", "zip" in
// the header (keys are never taken from the token); an alg that is absent, "none",
// unknown, or not the one the selected key is pinned to; a kid longer than 256 bytes or
// naming no key; a signature of the wrong length or that does not verify; registered
// claims of the wrong type; exp passed, nbf not reached (both with the leeway); iss or
// aud other than configured (an aud that does not name us is refused even when no
// audience is configured, as RFC 7519 §4.1.3 requires); topic claims that are not lists
// of valid topic filters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "include/peregrine/authorizer.h"
#include "src/auth/jws_verifier.h"

namespace peregrine::auth {

constexpr size_t kMaxTokenBytes = 4096;

enum class TokenRefusal : uint8_t {
  kNone,
  kTooLarge,
  kMalformed,    // shape, base64url or JSON
  kHeader,       // a header member we refuse, or a kid over its bound
  kAlgorithm,    // none, unknown, or not the key's
  kUnknownKey,   // no key has the kid (or no kid with several keys)
  kSignature,
  kClaims,       // a claim of the wrong type, or bad topic filters
  kExpired,
  kNotYetValid,
  kIssuer,
  kAudience,
};
constexpr size_t kTokenRefusals = static_cast<size_t>(TokenRefusal::kAudience) + 1;

// Short name for counters and debug logs ("expired", "signature", ...).
const char* refusal_name(TokenRefusal refusal);

struct JwtPolicy {
  int64_t leeway_s = 0;   // allowed clock skew on exp and nbf
  std::string issuer;     // non-empty: iss must equal it
  std::string audience;   // non-empty: aud must name it
};

struct TokenClaims {
  std::string subject;   // sub: the client id the token is for ("" when absent)
  std::string token_id;  // jti: what revocation names ("" when absent)
  std::string key_id;    // the kid of the key that verified it
  std::optional<int64_t> expires_at;  // exp, seconds since the epoch
  std::optional<int64_t> issued_at;   // iat
  // Set when any topic claim is present: Cloudflare's "topicAcl" (both ways), Fastly's
  // "x-fastly-read" / "x-fastly-write", and ours, {"peregrine": {"pub": [...], "sub":
  // [...]}} (nested, because a top-level "sub" is the subject). Their union per direction.
  std::optional<TopicGrant> grant;
};

TokenRefusal verify_jwt(std::string_view token, JwsVerifier& verifier, const JwtPolicy& policy,
                        int64_t now_s, TokenClaims& claims);

}  // namespace peregrine::auth
