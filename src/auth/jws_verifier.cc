#include "src/auth/jws_verifier.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "src/base/assert.h"
#include "src/base/constant_time.h"

namespace peregrine::auth {

namespace {

const byte* bytes_of(std::string_view s) { return reinterpret_cast<const byte*>(s.data()); }

// The order n of P-256 (SEC 2 §2.4.2), big-endian.
constexpr std::array<uint8_t, 32> kP256Order = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

// 1 <= v <= n-1 for a 32-byte big-endian v: the range RFC 7518 §3.4's r and s must be in
// (wolfCrypt checks it too; checked here so that the refusal does not rest on a library
// build option).
bool in_scalar_range(std::string_view v) {
  const bool zero = std::all_of(v.begin(), v.end(), [](char c) { return c == 0; });
  return !zero && std::memcmp(v.data(), kP256Order.data(), 32) < 0;
}

// The DER DigestInfo prefix of a SHA-256 hash (RFC 8017 §9.2, note 1): what an RS256
// signature decrypts to, followed by the hash. Compared whole, never parsed.
constexpr uint8_t kSha256DigestInfo[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                         0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};

std::array<uint8_t, WC_SHA256_DIGEST_SIZE> sha256(std::string_view data) {
  std::array<uint8_t, WC_SHA256_DIGEST_SIZE> digest{};
  wc_Sha256Hash(bytes_of(data), static_cast<word32>(data.size()), digest.data());
  return digest;
}

// wolfSSL's fixed-point ECC cache (FP_ECC in Debian's build) is per thread: a shard
// thread that verified ES256 frees its cache when it ends (as TLS does, tls_layer.cc).
struct EccCacheRelease {
  ~EccCacheRelease() { wc_ecc_fp_free(); }
};
thread_local EccCacheRelease t_ecc_cache_release;


}  // namespace

struct JwsVerifier::Loaded {
  explicit Loaded(JwsKey key) : spec(std::move(key)) {}
  ~Loaded() {
    switch (kind) {
      case Kind::kEd25519: wc_ed25519_free(&ed); break;
      case Kind::kEcc: wc_ecc_free(&ecc); break;
      case Kind::kRsa: wc_FreeRsaKey(&rsa); break;
      case Kind::kNone: break;
    }
  }
  enum class Kind : uint8_t { kNone, kEd25519, kEcc, kRsa } kind = Kind::kNone;
  JwsKey spec;
  bool named_only = false;
  union {
    ed25519_key ed;
    ecc_key ecc;
    RsaKey rsa;
  };
};

JwsVerifier::JwsVerifier(std::vector<JwsKey> keys, std::vector<JwsKey> named_only) {
  for (JwsKey& spec : keys) {
    load(std::move(spec), false);
  }
  for (JwsKey& spec : named_only) {
    load(std::move(spec), true);
  }
}

void JwsVerifier::load(JwsKey spec, bool named_only) {
  auto loaded = std::make_unique<Loaded>(std::move(spec));
  loaded->named_only = named_only;
  _unnamed_choices += named_only ? 0 : 1;
  const JwsKey& key = loaded->spec;
  int rc = 0;
  switch (key.alg) {
    case JwsAlgorithm::kEdDSA:
      wc_ed25519_init(&loaded->ed);
      loaded->kind = Loaded::Kind::kEd25519;
      rc = wc_ed25519_import_public(bytes_of(key.material),
                                    static_cast<word32>(key.material.size()), &loaded->ed);
      break;
    case JwsAlgorithm::kES256:
      wc_ecc_init(&loaded->ecc);
      loaded->kind = Loaded::Kind::kEcc;
      rc = wc_ecc_import_unsigned(&loaded->ecc, bytes_of(key.material),
                                  bytes_of(key.material) + 32, nullptr, ECC_SECP256R1);
      break;
    case JwsAlgorithm::kRS256:
    case JwsAlgorithm::kPS256:
      wc_InitRsaKey(&loaded->rsa, nullptr);
      loaded->kind = Loaded::Kind::kRsa;
      rc = wc_RsaPublicKeyDecodeRaw(bytes_of(key.material),
                                    static_cast<word32>(key.material.size()),
                                    bytes_of(key.exponent),
                                    static_cast<word32>(key.exponent.size()), &loaded->rsa);
      break;
    case JwsAlgorithm::kHS256:
      break;
  }
  // load_jws_keys() checked every key; one that fails here is a bug.
  PG_ASSERT(rc == 0);
  _keys.push_back(std::move(loaded));
}

JwsVerifier::~JwsVerifier() = default;

const JwsKey& JwsVerifier::key(size_t index) const { return _keys[index]->spec; }

std::optional<size_t> JwsVerifier::select(std::optional<std::string_view> kid) const {
  if (!kid) {
    if (_unnamed_choices != 1) {
      return std::nullopt;
    }
    for (size_t i = 0; i < _keys.size(); i++) {
      if (!_keys[i]->named_only) {
        return i;
      }
    }
    return std::nullopt;
  }
  for (size_t i = 0; i < _keys.size(); i++) {
    if (_keys[i]->spec.kid == *kid) {
      return i;
    }
  }
  return std::nullopt;
}

bool JwsVerifier::verify(size_t index, std::string_view signing_input,
                         std::string_view signature) {
  PG_ASSERT(index < _keys.size());
  Loaded& k = *_keys[index];
  const auto sig = bytes_of(signature);
  const auto sig_size = static_cast<word32>(signature.size());
  switch (k.spec.alg) {
    case JwsAlgorithm::kEdDSA: {
      if (signature.size() != ED25519_SIG_SIZE) {
        return false;
      }
      int valid = 0;
      return wc_ed25519_verify_msg(sig, sig_size, bytes_of(signing_input),
                                   static_cast<word32>(signing_input.size()), &valid,
                                   &k.ed) == 0 &&
             valid == 1;
    }
    case JwsAlgorithm::kES256: {
      if (signature.size() != 64 || !in_scalar_range(signature.substr(0, 32)) ||
          !in_scalar_range(signature.substr(32))) {
        return false;
      }
      byte der[80];
      word32 der_size = sizeof der;
      if (wc_ecc_rs_raw_to_sig(sig, 32, sig + 32, 32, der, &der_size) != 0) {
        return false;
      }
      const auto digest = sha256(signing_input);
      (void)&t_ecc_cache_release;  // constructed in this thread, so released at its end
      int valid = 0;
      return wc_ecc_verify_hash(der, der_size, digest.data(), digest.size(), &valid, &k.ecc) ==
                 0 &&
             valid == 1;
    }
    case JwsAlgorithm::kRS256: {
      if (signature.size() != k.spec.material.size()) {
        return false;
      }
      const auto digest = sha256(signing_input);
      std::array<byte, sizeof kSha256DigestInfo + WC_SHA256_DIGEST_SIZE> expected{};
      std::copy(std::begin(kSha256DigestInfo), std::end(kSha256DigestInfo), expected.begin());
      std::copy(digest.begin(), digest.end(), expected.begin() + sizeof kSha256DigestInfo);
      std::array<byte, 1024> plain{};
      const int size = wc_RsaSSL_Verify(sig, sig_size, plain.data(), plain.size(), &k.rsa);
      return size == static_cast<int>(expected.size()) &&
             base::constant_time_equal(plain.data(), expected.data(), expected.size());
    }
    case JwsAlgorithm::kPS256: {
      if (signature.size() != k.spec.material.size()) {
        return false;
      }
      const auto digest = sha256(signing_input);
      std::array<byte, 1024> plain{};
      // Salt as long as the hash (RFC 7518 §3.5), MGF1 with SHA-256.
      return wc_RsaPSS_VerifyCheck(const_cast<byte*>(sig), sig_size, plain.data(), plain.size(),
                                   digest.data(), digest.size(), WC_HASH_TYPE_SHA256,
                                   WC_MGF1SHA256, &k.rsa) > 0;
    }
    case JwsAlgorithm::kHS256: {
      if (signature.size() != WC_SHA256_DIGEST_SIZE) {
        return false;
      }
      std::array<byte, WC_SHA256_DIGEST_SIZE> mac{};
      Hmac h;
      const bool ok =
          wc_HmacInit(&h, nullptr, INVALID_DEVID) == 0 &&
          wc_HmacSetKey(&h, WC_SHA256, bytes_of(k.spec.material),
                        static_cast<word32>(k.spec.material.size())) == 0 &&
          wc_HmacUpdate(&h, bytes_of(signing_input), static_cast<word32>(signing_input.size())) ==
              0 &&
          wc_HmacFinal(&h, mac.data()) == 0;
      wc_HmacFree(&h);
      return ok && base::constant_time_equal(mac.data(), sig, mac.size());
    }
  }
  return false;
}

}  // namespace peregrine::auth
