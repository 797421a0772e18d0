// libFuzzer target for the JWS/JWT path an attacker reaches first: a CONNECT password or
// a bearer token, and key files. Byte 0 picks what the rest is:
//   0-3: a token, verified against RFC keys of each algorithm (RFC 7515 A.1-A.3, RFC 8037);
//   4:   key text (PEM, JWK, JWKS), loaded with and without a pinned algorithm;
//   5-7: JSON, base64url, password-file and broker key-file text.
// Checks: no crash or leak (ASan); verification is deterministic; an accepted token's
// grant holds only valid filters; base64url is canonical both ways (what decodes
// re-encodes to the same text, and every byte string round-trips); a loaded key's
// public JWK loads back to the same key; a password file that parses knows only users
// whose lines it read, and checks a password without crashing; a key file that loads
// writes back to one that loads to the same keys.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "src/auth/base64url.h"
#include "src/auth/jws_verifier.h"
#include "src/auth/jwt.h"
#include "src/auth/password_file.h"
#include "src/auth/strict_json.h"
#include "src/auth/token_issuer.h"
#include "src/base/assert.h"
#include "src/mqtt/codec.h"

namespace {

using namespace peregrine::auth;

std::vector<JwsKey> rfc_keys() {
  std::vector<JwsKey> keys;
  std::string error;
  const char* jwks[] = {
      R"({"kty":"oct","alg":"HS256","kid":"hs","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"})",
      R"({"kty":"RSA","alg":"RS256","kid":"rs","e":"AQAB","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"})",
      R"({"kty":"EC","alg":"ES256","kid":"ec","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})",
      R"({"kty":"OKP","alg":"EdDSA","kid":"ed","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})",
  };
  for (const char* text : jwks) {
    PG_ASSERT(load_jws_keys(text, std::nullopt, "", keys, error));
  }
  return keys;
}

void fuzz_token(std::string_view token, uint8_t mode) {
  static JwsVerifier verifier(rfc_keys());
  const JwtPolicy policy{.leeway_s = mode & 1, .issuer = (mode & 2) ? "joe" : "", .audience = ""};
  TokenClaims claims;
  const TokenRefusal first = verify_jwt(token, verifier, policy, 1'300'819'000, claims);
  TokenClaims again;
  PG_ASSERT(verify_jwt(token, verifier, policy, 1'300'819'000, again) == first);
  if (first == TokenRefusal::kNone && claims.grant) {
    for (const std::string& f : claims.grant->publish) {
      PG_ASSERT(peregrine::mqtt::valid_topic_filter(f));
    }
    for (const std::string& f : claims.grant->subscribe) {
      PG_ASSERT(peregrine::mqtt::valid_topic_filter(f));
    }
  }
  PG_ASSERT(first != TokenRefusal::kNone || token.size() <= kMaxTokenBytes);
}

void fuzz_keys(std::string_view text) {
  for (const auto alg : {std::optional<JwsAlgorithm>(), std::optional(JwsAlgorithm::kEdDSA),
                         std::optional(JwsAlgorithm::kES256), std::optional(JwsAlgorithm::kRS256),
                         std::optional(JwsAlgorithm::kHS256)}) {
    std::vector<JwsKey> keys;
    std::string error;
    if (!load_jws_keys(text, alg, "", keys, error)) {
      PG_ASSERT(keys.empty() && !error.empty());
      continue;
    }
    JwsVerifier verifier(keys);  // every loaded key must build
    for (const JwsKey& key : keys) {
      if (key.symmetric()) {
        continue;
      }
      std::vector<JwsKey> back;
      PG_ASSERT(load_jws_keys(key.public_jwk(), std::nullopt, "", back, error));
      PG_ASSERT(back.size() == 1 && back[0].material == key.material &&
                back[0].exponent == key.exponent && back[0].kid == key.kid &&
                back[0].alg == key.alg);
    }
  }
}

void fuzz_text(std::string_view text) {
  (void)parse_strict_object(text);
  (void)parse_strict_object(text, 2);
  if (const std::optional<std::string> bytes = base64url_decode(text)) {
    PG_ASSERT(base64url_encode(*bytes) == text);
  }
  PG_ASSERT(base64url_decode(base64url_encode(text)) == std::string(text));
  std::string error;
  if (const std::optional<PasswordFile> file = PasswordFile::parse(text, error)) {
    PG_ASSERT(file->size() == 0 || text.find(':') != std::string_view::npos);
    (void)file->check(text.substr(0, text.find(':')), "password");
  } else {
    PG_ASSERT(!error.empty());
  }
  std::vector<peregrine::BrokerKey> keys;
  if (decode_key_file(text, keys, error)) {
    static Ed25519TokenIssuer issuer({});
    std::vector<peregrine::BrokerKey> back;
    PG_ASSERT(decode_key_file(issuer.encode_key_file(keys), back, error));
    PG_ASSERT(back.size() == keys.size());
    for (size_t i = 0; i < keys.size(); i++) {
      PG_ASSERT(back[i].kid == keys[i].kid && back[i].private_key == keys[i].private_key &&
                back[i].public_key == keys[i].public_key &&
                back[i].created_s == keys[i].created_s);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const uint8_t mode = data[0] % 8;
  if (mode < 4) {
    fuzz_token(rest, mode);
  } else if (mode == 4) {
    fuzz_keys(rest);
  } else {
    fuzz_text(rest);
  }
  return 0;
}
