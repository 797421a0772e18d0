#include "src/auth/token_issuer.h"

#include <picojson.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>

#include <set>

#include "src/auth/base64url.h"
#include "src/auth/strict_json.h"
#include "src/base/assert.h"

namespace peregrine::auth {

namespace {

const byte* bytes_of(std::string_view s) { return reinterpret_cast<const byte*>(s.data()); }

// Crockford's base32 alphabet: digits and capitals without I, L, O, U (no look-alikes).
constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

picojson::value string_array(const std::vector<std::string>& items) {
  picojson::array array;
  array.reserve(items.size());
  for (const std::string& item : items) {
    array.emplace_back(item);
  }
  return picojson::value(array);
}

// The public half of a 32-byte Ed25519 seed; "" when wolfCrypt refuses it.
std::string public_of(std::string_view seed) {
  ed25519_key key;
  if (wc_ed25519_init(&key) != 0) {
    return {};
  }
  std::string out(ED25519_PUB_KEY_SIZE, '\0');
  const bool ok =
      wc_ed25519_import_private_only(bytes_of(seed), static_cast<word32>(seed.size()), &key) == 0 &&
      wc_ed25519_make_public(&key, reinterpret_cast<unsigned char*>(out.data()),
                             ED25519_PUB_KEY_SIZE) == 0;
  wc_ed25519_free(&key);
  return ok ? out : std::string();
}

const std::string* string_member(const picojson::object& o, const char* name) {
  const auto it = o.find(name);
  return it != o.end() && it->second.is<std::string>() ? &it->second.get<std::string>() : nullptr;
}

}  // namespace

// The RNG and the private key last signed with (imported once, not per token).
struct Ed25519TokenIssuer::Rng {
  WC_RNG rng;
  bool rng_ok = false;
  ed25519_key signer;
  bool signer_ok = false;
  std::string signer_kid;
};

Ed25519TokenIssuer::Ed25519TokenIssuer(JwtPolicy policy)
    : _policy(std::move(policy)), _rng(std::make_unique<Rng>()) {
  _rng->rng_ok = wc_InitRng(&_rng->rng) == 0;
  _rng->signer_ok = wc_ed25519_init(&_rng->signer) == 0;
}

Ed25519TokenIssuer::~Ed25519TokenIssuer() {
  if (_rng->signer_ok) {
    wc_ed25519_free(&_rng->signer);
  }
  if (_rng->rng_ok) {
    wc_FreeRng(&_rng->rng);
  }
}

std::string Ed25519TokenIssuer::random_bytes(size_t n) {
  std::string out(n, '\0');
  PG_ASSERT(_rng->rng_ok);
  if (wc_RNG_GenerateBlock(&_rng->rng, reinterpret_cast<byte*>(out.data()),
                           static_cast<word32>(n)) != 0) {
    PG_ASSERT_MSG(false, "wolfCrypt's RNG failed");  // no key or id from a broken RNG
  }
  return out;
}

bool Ed25519TokenIssuer::generate_key(int64_t now_s, BrokerKey& out, std::string& error) {
  if (!_rng->rng_ok) {
    error = "wolfCrypt's RNG did not start";
    return false;
  }
  ed25519_key key;
  if (wc_ed25519_init(&key) != 0) {
    error = "wolfCrypt: ed25519 init";
    return false;
  }
  BrokerKey made;
  made.created_s = now_s;
  made.public_key.assign(ED25519_PUB_KEY_SIZE, '\0');
  made.private_key.assign(ED25519_KEY_SIZE, '\0');
  word32 public_size = ED25519_PUB_KEY_SIZE;
  word32 private_size = ED25519_KEY_SIZE;
  const bool ok =
      wc_ed25519_make_key(&_rng->rng, ED25519_KEY_SIZE, &key) == 0 &&
      wc_ed25519_export_public(&key, reinterpret_cast<byte*>(made.public_key.data()),
                               &public_size) == 0 &&
      wc_ed25519_export_private_only(&key, reinterpret_cast<byte*>(made.private_key.data()),
                                     &private_size) == 0 &&
      public_size == ED25519_PUB_KEY_SIZE && private_size == ED25519_KEY_SIZE;
  wc_ed25519_free(&key);
  if (!ok) {
    error = "wolfCrypt: ed25519 key generation failed";
    return false;
  }
  made.kid = verification_key(made).thumbprint();
  out = std::move(made);
  return true;
}

std::string Ed25519TokenIssuer::public_jwk(const BrokerKey& key) const {
  return verification_key(key).public_jwk();
}

std::string Ed25519TokenIssuer::make_client_id(int64_t now_ms) {
  // 10 characters of milliseconds (48 bits, as a ULID's), then 13 of randomness (65 bits).
  std::string id(23, '0');
  uint64_t time = static_cast<uint64_t>(now_ms) & ((uint64_t{1} << 48) - 1);
  for (int i = 9; i >= 0; i--) {
    id[static_cast<size_t>(i)] = kCrockford[time & 31];
    time >>= 5;
  }
  const std::string random = random_bytes(9);
  unsigned __int128 bits = 0;
  for (char c : random) {
    bits = (bits << 8) | static_cast<uint8_t>(c);
  }
  for (size_t i = 10; i < 23; i++) {
    id[i] = kCrockford[static_cast<unsigned>(bits & 31)];
    bits >>= 5;
  }
  return id;
}

std::string Ed25519TokenIssuer::issue(const BrokerKey& key, const std::string& client_id,
                                      const CredentialRequest& request, int64_t now_s) {
  PG_ASSERT(key.private_key.size() == ED25519_KEY_SIZE);
  if (_rng->signer_kid != key.kid) {
    _rng->signer_kid.clear();
    if (!_rng->signer_ok ||
        wc_ed25519_import_private_key(bytes_of(key.private_key), ED25519_KEY_SIZE,
                                      bytes_of(key.public_key), ED25519_PUB_KEY_SIZE,
                                      &_rng->signer) != 0) {
      return {};
    }
    _rng->signer_kid = key.kid;
  }
  picojson::object header;
  header["alg"] = picojson::value("EdDSA");
  header["kid"] = picojson::value(key.kid);
  header["typ"] = picojson::value("JWT");

  picojson::object claims;
  claims["sub"] = picojson::value(client_id);
  claims["jti"] = picojson::value(base64url_encode(random_bytes(16)));
  claims["iat"] = picojson::value(static_cast<double>(now_s));
  if (request.expires_in_s) {
    claims["exp"] = picojson::value(static_cast<double>(now_s + *request.expires_in_s));
  }
  if (!_policy.issuer.empty()) {
    claims["iss"] = picojson::value(_policy.issuer);
  }
  if (!_policy.audience.empty()) {
    claims["aud"] = picojson::value(_policy.audience);
  }
  if (request.topic_acl.size() == 1) {
    claims["topicAcl"] = picojson::value(request.topic_acl[0]);  // Cloudflare's own shape
  } else if (!request.topic_acl.empty()) {
    claims["topicAcl"] = string_array(request.topic_acl);
  }
  if (!request.publish.empty() || !request.subscribe.empty()) {
    picojson::object ours;
    ours["pub"] = string_array(request.publish);
    ours["sub"] = string_array(request.subscribe);
    claims["peregrine"] = picojson::value(ours);
  }
  const std::string signing_input = base64url_encode(picojson::value(header).serialize()) + "." +
                                    base64url_encode(picojson::value(claims).serialize());
  std::string signature(ED25519_SIG_SIZE, '\0');
  word32 signature_size = ED25519_SIG_SIZE;
  if (wc_ed25519_sign_msg(bytes_of(signing_input), static_cast<word32>(signing_input.size()),
                          reinterpret_cast<byte*>(signature.data()), &signature_size,
                          &_rng->signer) != 0 ||
      signature_size != ED25519_SIG_SIZE) {
    return {};
  }
  return signing_input + "." + base64url_encode(signature);
}

std::string Ed25519TokenIssuer::encode_key_file(const std::vector<BrokerKey>& keys) const {
  picojson::array array;
  for (const BrokerKey& key : keys) {
    picojson::object jwk;
    jwk["kty"] = picojson::value("OKP");
    jwk["crv"] = picojson::value("Ed25519");
    jwk["alg"] = picojson::value("EdDSA");
    jwk["kid"] = picojson::value(key.kid);
    jwk["x"] = picojson::value(base64url_encode(key.public_key));
    jwk["d"] = picojson::value(base64url_encode(key.private_key));
    jwk["created"] = picojson::value(static_cast<double>(key.created_s));
    array.emplace_back(jwk);
  }
  picojson::object root;
  root["version"] = picojson::value(1.0);
  root["keys"] = picojson::value(array);
  return picojson::value(root).serialize(true);
}

bool decode_key_file(std::string_view text, std::vector<BrokerKey>& out, std::string& error) {
  const std::optional<picojson::object> root = parse_strict_object(text);
  if (!root) {
    error = "not one JSON object (or a member repeated)";
    return false;
  }
  const auto version = root->find("version");
  const auto keys = root->find("keys");
  if (version == root->end() || !version->second.is<double>() ||
      version->second.get<double>() != 1 || keys == root->end() ||
      !keys->second.is<picojson::array>()) {
    error = "not version 1 with a \"keys\" list";
    return false;
  }
  std::vector<BrokerKey> loaded;
  std::set<std::string> kids;
  for (const picojson::value& entry : keys->second.get<picojson::array>()) {
    const std::string position = "key " + std::to_string(loaded.size() + 1);
    if (!entry.is<picojson::object>()) {
      error = position + ": not an object";
      return false;
    }
    const picojson::object& jwk = entry.get<picojson::object>();
    const std::string* kty = string_member(jwk, "kty");
    const std::string* crv = string_member(jwk, "crv");
    const std::string* kid = string_member(jwk, "kid");
    const std::string* x = string_member(jwk, "x");
    const std::string* d = string_member(jwk, "d");
    const auto created = jwk.find("created");
    if (kty == nullptr || *kty != "OKP" || crv == nullptr || *crv != "Ed25519") {
      error = position + ": not an Ed25519 (OKP) key";
      return false;
    }
    if (kid == nullptr || kid->empty() || kid->size() > 256 || !kids.insert(*kid).second) {
      error = position + ": a kid missing, over 256 bytes, or repeated";
      return false;
    }
    if (created == jwk.end() || !created->second.is<double>() ||
        created->second.get<double>() < 0 || created->second.get<double>() > 1e12) {
      error = position + ": no \"created\" time";
      return false;
    }
    const std::optional<std::string> public_key = x ? base64url_decode(*x) : std::nullopt;
    const std::optional<std::string> private_key = d ? base64url_decode(*d) : std::nullopt;
    if (!public_key || public_key->size() != ED25519_PUB_KEY_SIZE || !private_key ||
        private_key->size() != ED25519_KEY_SIZE) {
      error = position + ": \"x\" and \"d\" must be 32 bytes each in base64url";
      return false;
    }
    if (public_of(*private_key) != *public_key) {
      error = position + ": \"x\" is not the public half of \"d\"";
      return false;
    }
    loaded.push_back(BrokerKey{*kid, static_cast<int64_t>(created->second.get<double>()),
                               *public_key, *private_key});
  }
  out = std::move(loaded);
  return true;
}

JwsKey verification_key(const BrokerKey& key) {
  JwsKey jws;
  jws.alg = JwsAlgorithm::kEdDSA;
  jws.kid = key.kid;
  jws.material = key.public_key;
  return jws;
}

}  // namespace peregrine::auth
