#include "src/auth/jws_key.h"

#include <picojson.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <array>

#include "src/auth/base64url.h"
#include "src/auth/strict_json.h"

namespace peregrine::auth {

namespace {

constexpr size_t kMinRsaBytes = 2048 / 8;
constexpr size_t kMaxRsaBytes = 8192 / 8;
constexpr size_t kMinHmacBytes = 32;
constexpr size_t kMaxKidBytes = 256;

const byte* bytes_of(std::string_view s) { return reinterpret_cast<const byte*>(s.data()); }

std::string strip_leading_zeros(std::string s) {
  const size_t first = s.find_first_not_of('\0');
  return first == std::string::npos ? std::string() : s.substr(first);
}

// A JSON string literal (base64url text, names, a kid): picojson's escaping.
std::string quoted(std::string_view text) { return picojson::value(std::string(text)).serialize(); }

// The members RFC 7638 §3.2 requires for each key type, in its lexicographic order.
std::string required_members(const JwsKey& key) {
  switch (key.alg) {
    case JwsAlgorithm::kEdDSA:
      return "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":" + quoted(base64url_encode(key.material)) + "}";
    case JwsAlgorithm::kES256:
      return "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":" +
             quoted(base64url_encode(std::string_view(key.material).substr(0, 32))) +
             ",\"y\":" + quoted(base64url_encode(std::string_view(key.material).substr(32))) + "}";
    case JwsAlgorithm::kRS256:
    case JwsAlgorithm::kPS256:
      return "{\"e\":" + quoted(base64url_encode(key.exponent)) + ",\"kty\":\"RSA\",\"n\":" +
             quoted(base64url_encode(key.material)) + "}";
    case JwsAlgorithm::kHS256:
      return "{\"k\":" + quoted(base64url_encode(key.material)) + ",\"kty\":\"oct\"}";
  }
  return {};
}

bool kid_ok(std::string_view kid, std::string& error) {
  if (kid.size() > kMaxKidBytes) {
    error = "kid longer than 256 bytes";
    return false;
  }
  return true;
}

// Checks a key's material and fills in its kid; the common end of every load path.
bool finish_key(JwsKey& key, std::string_view kid, std::string& error) {
  switch (key.alg) {
    case JwsAlgorithm::kEdDSA:
      if (key.material.size() != ED25519_PUB_KEY_SIZE) {
        error = "an Ed25519 public key is 32 bytes";
        return false;
      }
      break;
    case JwsAlgorithm::kES256: {
      if (key.material.size() != 64) {
        error = "an ES256 key is a P-256 point (x and y, 32 bytes each)";
        return false;
      }
      ecc_key ecc;
      wc_ecc_init(&ecc);
      const bool on_curve =
          wc_ecc_import_unsigned(&ecc, bytes_of(key.material), bytes_of(key.material) + 32,
                                 nullptr, ECC_SECP256R1) == 0 &&
          wc_ecc_check_key(&ecc) == 0;
      wc_ecc_free(&ecc);
      wc_ecc_fp_free();  // the loading thread's fixed-point cache (FP_ECC), not kept
      if (!on_curve) {
        error = "the EC key is not a point on P-256";
        return false;
      }
      break;
    }
    case JwsAlgorithm::kRS256:
    case JwsAlgorithm::kPS256:
      key.material = strip_leading_zeros(std::move(key.material));
      key.exponent = strip_leading_zeros(std::move(key.exponent));
      if (key.material.size() < kMinRsaBytes || key.material.size() > kMaxRsaBytes) {
        error = "RSA keys must have a modulus of 2048 to 8192 bits";
        return false;
      }
      if (key.exponent.empty() || key.exponent.size() > 8 ||
          (static_cast<uint8_t>(key.exponent.back()) & 1) == 0) {
        error = "the RSA public exponent is not an odd number of at most 64 bits";
        return false;
      }
      break;
    case JwsAlgorithm::kHS256:
      if (key.material.size() < kMinHmacBytes) {
        error = "an HS256 secret must be at least 32 bytes";
        return false;
      }
      break;
  }
  key.kid = kid.empty() ? key.thumbprint() : std::string(kid);
  return kid_ok(key.kid, error);
}

// A PEM SubjectPublicKeyInfo, turned into raw material for `alg`.
bool key_from_pem(std::string_view pem, JwsAlgorithm alg, JwsKey& key, std::string& error) {
  if (alg == JwsAlgorithm::kHS256) {
    error = "an HS256 key is a secret, not a PEM public key";
    return false;
  }
  std::vector<byte> der(pem.size());
  const int der_size = wc_PubKeyPemToDer(bytes_of(pem), static_cast<int>(pem.size()), der.data(),
                                         static_cast<int>(der.size()));
  if (der_size <= 0) {
    error = "not a PEM public key (BEGIN PUBLIC KEY)";
    return false;
  }
  word32 at = 0;
  key.alg = alg;
  switch (alg) {
    case JwsAlgorithm::kEdDSA: {
      ed25519_key ed;
      wc_ed25519_init(&ed);
      byte raw[ED25519_PUB_KEY_SIZE];
      word32 raw_size = sizeof raw;
      const bool ok = wc_Ed25519PublicKeyDecode(der.data(), &at, &ed, der_size) == 0 &&
                      wc_ed25519_export_public(&ed, raw, &raw_size) == 0;
      wc_ed25519_free(&ed);
      if (!ok) {
        error = "the PEM key is not an Ed25519 public key";
        return false;
      }
      key.material.assign(reinterpret_cast<const char*>(raw), raw_size);
      return true;
    }
    case JwsAlgorithm::kES256: {
      ecc_key ecc;
      wc_ecc_init(&ecc);
      byte x[32];
      byte y[32];
      word32 x_size = sizeof x;
      word32 y_size = sizeof y;
      const bool ok = wc_EccPublicKeyDecode(der.data(), &at, &ecc, der_size) == 0 &&
                      wc_ecc_get_curve_id(ecc.idx) == ECC_SECP256R1 &&
                      wc_ecc_export_public_raw(&ecc, x, &x_size, y, &y_size) == 0 &&
                      x_size == 32 && y_size == 32;
      wc_ecc_free(&ecc);
      if (!ok) {
        error = "the PEM key is not a P-256 public key";
        return false;
      }
      key.material.assign(reinterpret_cast<const char*>(x), 32);
      key.material.append(reinterpret_cast<const char*>(y), 32);
      return true;
    }
    case JwsAlgorithm::kRS256:
    case JwsAlgorithm::kPS256: {
      RsaKey rsa;
      wc_InitRsaKey(&rsa, nullptr);
      std::array<byte, kMaxRsaBytes> n{};
      std::array<byte, 16> e{};
      word32 n_size = n.size();
      word32 e_size = e.size();
      const bool ok = wc_RsaPublicKeyDecode(der.data(), &at, &rsa, der_size) == 0 &&
                      wc_RsaFlattenPublicKey(&rsa, e.data(), &e_size, n.data(), &n_size) == 0;
      wc_FreeRsaKey(&rsa);
      if (!ok) {
        error = "the PEM key is not an RSA public key of at most 8192 bits";
        return false;
      }
      key.material.assign(reinterpret_cast<const char*>(n.data()), n_size);
      key.exponent.assign(reinterpret_cast<const char*>(e.data()), e_size);
      return true;
    }
    case JwsAlgorithm::kHS256:
      break;
  }
  return false;
}

const std::string* string_member(const picojson::object& o, const char* name) {
  const auto it = o.find(name);
  return it != o.end() && it->second.is<std::string>() ? &it->second.get<std::string>() : nullptr;
}

bool decoded_member(const picojson::object& o, const char* name, std::string& out,
                    std::string& error) {
  const std::string* text = string_member(o, name);
  std::optional<std::string> bytes = text ? base64url_decode(*text) : std::nullopt;
  if (!bytes) {
    error = std::string("JWK member \"") + name + "\" missing or not base64url";
    return false;
  }
  out = std::move(*bytes);
  return true;
}

bool key_from_jwk(const picojson::object& jwk, std::optional<JwsAlgorithm> alg,
                  std::string_view kid, JwsKey& key, std::string& error) {
  const std::string* kty = string_member(jwk, "kty");
  const std::string* jwk_alg = string_member(jwk, "alg");
  const std::string* use = string_member(jwk, "use");
  if (kty == nullptr) {
    error = "JWK without \"kty\"";
    return false;
  }
  if (use != nullptr && *use != "sig") {
    error = "JWK whose \"use\" is not \"sig\"";
    return false;
  }
  std::optional<JwsAlgorithm> own;
  if (jwk_alg != nullptr && !(own = jws_algorithm(*jwk_alg))) {
    error = "JWK with an algorithm this broker does not verify: " + *jwk_alg;
    return false;
  }
  if (alg && own && *alg != *own) {
    error = "the JWK's \"alg\" differs from the configured alg";
    return false;
  }
  if (!alg && !own) {
    error = "no algorithm: set alg in the config or in the JWK";
    return false;
  }
  key.alg = alg ? *alg : *own;
  const std::string* crv = string_member(jwk, "crv");
  switch (key.alg) {
    case JwsAlgorithm::kEdDSA:
      if (*kty != "OKP" || crv == nullptr || *crv != "Ed25519") {
        error = "an EdDSA JWK has kty OKP and crv Ed25519";
        return false;
      }
      if (!decoded_member(jwk, "x", key.material, error)) {
        return false;
      }
      break;
    case JwsAlgorithm::kES256: {
      std::string y;
      if (*kty != "EC" || crv == nullptr || *crv != "P-256") {
        error = "an ES256 JWK has kty EC and crv P-256";
        return false;
      }
      if (!decoded_member(jwk, "x", key.material, error) || !decoded_member(jwk, "y", y, error)) {
        return false;
      }
      // RFC 7518 §6.2.1.2 wants each coordinate at its full 32 bytes, but some writers
      // (PyJWT before 2.8) drop leading zero bytes; padding back is unambiguous.
      if (key.material.size() > 32 || y.size() > 32 || key.material.empty() || y.empty()) {
        error = "P-256 coordinates are 32 bytes each";
        return false;
      }
      key.material.insert(0, 32 - key.material.size(), '\0');
      y.insert(0, 32 - y.size(), '\0');
      key.material += y;
      break;
    }
    case JwsAlgorithm::kRS256:
    case JwsAlgorithm::kPS256:
      if (*kty != "RSA") {
        error = "an RS256/PS256 JWK has kty RSA";
        return false;
      }
      if (!decoded_member(jwk, "n", key.material, error) ||
          !decoded_member(jwk, "e", key.exponent, error)) {
        return false;
      }
      break;
    case JwsAlgorithm::kHS256:
      if (*kty != "oct") {
        error = "an HS256 JWK has kty oct";
        return false;
      }
      if (!decoded_member(jwk, "k", key.material, error)) {
        return false;
      }
      break;
  }
  const std::string* own_kid = string_member(jwk, "kid");
  return finish_key(key, !kid.empty() ? kid : own_kid ? std::string_view(*own_kid) : "", error);
}

}  // namespace

std::optional<JwsAlgorithm> jws_algorithm(std::string_view name) {
  if (name == "EdDSA") return JwsAlgorithm::kEdDSA;
  if (name == "ES256") return JwsAlgorithm::kES256;
  if (name == "RS256") return JwsAlgorithm::kRS256;
  if (name == "PS256") return JwsAlgorithm::kPS256;
  if (name == "HS256") return JwsAlgorithm::kHS256;
  return std::nullopt;
}

std::string_view algorithm_name(JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::kEdDSA: return "EdDSA";
    case JwsAlgorithm::kES256: return "ES256";
    case JwsAlgorithm::kRS256: return "RS256";
    case JwsAlgorithm::kPS256: return "PS256";
    case JwsAlgorithm::kHS256: return "HS256";
  }
  return "?";
}

std::string JwsKey::thumbprint() const {
  const std::string members = required_members(*this);
  std::array<uint8_t, WC_SHA256_DIGEST_SIZE> digest{};
  wc_Sha256Hash(bytes_of(members), static_cast<word32>(members.size()), digest.data());
  return base64url_encode(digest);
}

std::string JwsKey::public_jwk() const {
  if (symmetric()) {
    return {};
  }
  std::string members = required_members(*this);
  members.pop_back();  // '}'
  return members + ",\"alg\":" + quoted(algorithm_name(alg)) + ",\"kid\":" + quoted(kid) +
         ",\"use\":\"sig\"}";
}

bool hmac_key(std::string_view secret, std::string_view kid, JwsKey& out, std::string& error) {
  JwsKey key;
  key.alg = JwsAlgorithm::kHS256;
  key.material = std::string(secret);
  if (!finish_key(key, kid, error)) {
    return false;
  }
  out = std::move(key);
  return true;
}

bool load_jws_keys(std::string_view text, std::optional<JwsAlgorithm> alg, std::string_view kid,
                   std::vector<JwsKey>& out, std::string& error) {
  if (!kid_ok(kid, error)) {
    return false;
  }
  std::vector<JwsKey> keys;
  if (text.find("-----BEGIN") != std::string_view::npos) {
    if (!alg) {
      error = "a PEM key needs alg in the config";
      return false;
    }
    JwsKey key;
    if (!key_from_pem(text, *alg, key, error) || !finish_key(key, kid, error)) {
      return false;
    }
    keys.push_back(std::move(key));
  } else {
    std::optional<picojson::object> json = parse_strict_object(text);
    if (!json) {
      error = "neither a PEM public key nor a JWK or JWKS (JSON object, no duplicate members)";
      return false;
    }
    const auto set = json->find("keys");
    if (set == json->end()) {
      JwsKey key;
      if (!key_from_jwk(*json, alg, kid, key, error)) {
        return false;
      }
      keys.push_back(std::move(key));
    } else {
      if (!set->second.is<picojson::array>() || !kid.empty()) {
        error = !kid.empty() ? "kid names one key; a JWKS names its keys itself"
                             : "\"keys\" is not an array";
        return false;
      }
      for (const picojson::value& entry : set->second.get<picojson::array>()) {
        JwsKey key;
        if (!entry.is<picojson::object>()) {
          error = "a JWKS entry is not an object";
          return false;
        }
        if (!key_from_jwk(entry.get<picojson::object>(), alg, "", key, error)) {
          return false;
        }
        keys.push_back(std::move(key));
      }
      if (keys.empty()) {
        error = "the JWKS has no keys";
        return false;
      }
    }
  }
  for (JwsKey& key : keys) {
    out.push_back(std::move(key));
  }
  return true;
}

}  // namespace peregrine::auth
