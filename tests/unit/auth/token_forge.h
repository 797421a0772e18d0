// Test-only signer: mints compact JWS tokens with keys made on the spot by wolfCrypt, so
// the refusal tests can sign exactly what they mean to refuse. Not an implementation to
// trust: interoperability is proven against python3-jwt in the integration tests.
#pragma once

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "src/auth/base64url.h"
#include "src/auth/jws_key.h"

namespace peregrine::auth::testing {

inline const byte* b(std::string_view s) { return reinterpret_cast<const byte*>(s.data()); }

class TokenForge {
 public:
  TokenForge() {
    wc_InitRng(&_rng);
    wc_ed25519_init(&_ed);
    wc_ed25519_make_key(&_rng, ED25519_KEY_SIZE, &_ed);
    wc_ecc_init(&_ecc);
    wc_ecc_make_key_ex(&_rng, 32, &_ecc, ECC_SECP256R1);
  }
  ~TokenForge() {
    wc_ed25519_free(&_ed);
    wc_ecc_free(&_ecc);
    if (_rsa_made) {
      wc_FreeRsaKey(&_rsa);
    }
    wc_FreeRng(&_rng);
  }

  static std::string segment(std::string_view json) { return base64url_encode(json); }

  // header.claims, each JSON text encoded as given (duplicates and all).
  static std::string signing_input(std::string_view header, std::string_view claims) {
    return segment(header) + "." + segment(claims);
  }

  std::string eddsa(std::string_view header, std::string_view claims) {
    const std::string input = signing_input(header, claims);
    byte sig[ED25519_SIG_SIZE];
    word32 size = sizeof sig;
    wc_ed25519_sign_msg(b(input), input.size(), sig, &size, &_ed);
    return input + "." + base64url_encode(std::span<const uint8_t>(sig, size));
  }

  std::string hs256(std::string_view header, std::string_view claims, std::string_view secret) {
    const std::string input = signing_input(header, claims);
    return input + "." + base64url_encode(hmac(secret, input));
  }

  // ES256 with the raw r||s the forge chose; `tamper` may change it before encoding.
  template <typename Tamper>
  std::string es256(std::string_view header, std::string_view claims, Tamper tamper) {
    const std::string input = signing_input(header, claims);
    std::array<byte, 32> digest{};
    wc_Sha256Hash(b(input), input.size(), digest.data());
    byte der[80];
    word32 der_size = sizeof der;
    wc_ecc_sign_hash(digest.data(), digest.size(), der, &der_size, &_rng, &_ecc);
    std::array<byte, 64> rs{};
    word32 r_size = 32;
    word32 s_size = 32;
    byte r[32];
    byte s[32];
    wc_ecc_sig_to_rs(der, der_size, r, &r_size, s, &s_size);
    std::copy(r, r + r_size, rs.begin() + (32 - r_size));
    std::copy(s, s + s_size, rs.begin() + 32 + (32 - s_size));
    tamper(rs);
    return input + "." + base64url_encode(rs);
  }
  std::string es256(std::string_view header, std::string_view claims) {
    return es256(header, claims, [](std::array<byte, 64>&) {});
  }

  // RSA: a 2048-bit key, made once per forge (a few hundred ms).
  std::string rsa(std::string_view header, std::string_view claims, bool pss) {
    make_rsa();
    const std::string input = signing_input(header, claims);
    std::array<byte, 32> digest{};
    wc_Sha256Hash(b(input), input.size(), digest.data());
    std::array<byte, 256> sig{};
    int size = 0;
    if (pss) {
      size = wc_RsaPSS_Sign(digest.data(), digest.size(), sig.data(), sig.size(),
                            WC_HASH_TYPE_SHA256, WC_MGF1SHA256, &_rsa, &_rng);
    } else {
      // DigestInfo(SHA-256, digest), RFC 8017 §9.2 note 1.
      std::string encoded("\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20", 19);
      encoded.append(reinterpret_cast<const char*>(digest.data()), digest.size());
      size = wc_RsaSSL_Sign(b(encoded), encoded.size(), sig.data(), sig.size(), &_rsa, &_rng);
    }
    return input + "." + base64url_encode(std::span<const uint8_t>(sig.data(), size));
  }

  JwsKey ed_key(std::string kid = "ed") const {
    JwsKey key;
    key.alg = JwsAlgorithm::kEdDSA;
    key.kid = std::move(kid);
    byte pub[ED25519_PUB_KEY_SIZE];
    word32 size = sizeof pub;
    wc_ed25519_export_public(const_cast<ed25519_key*>(&_ed), pub, &size);
    key.material.assign(reinterpret_cast<const char*>(pub), size);
    return key;
  }
  std::string ed_pem() const {
    byte der[128];
    const int der_size =
        wc_Ed25519PublicKeyToDer(const_cast<ed25519_key*>(&_ed), der, sizeof der, 1);
    byte pem[512];
    const int pem_size = wc_DerToPem(der, der_size, pem, sizeof pem, PUBLICKEY_TYPE);
    return std::string(reinterpret_cast<const char*>(pem), pem_size);
  }
  JwsKey ec_key(std::string kid = "ec") const {
    JwsKey key;
    key.alg = JwsAlgorithm::kES256;
    key.kid = std::move(kid);
    byte x[32];
    byte y[32];
    word32 xs = 32;
    word32 ys = 32;
    wc_ecc_export_public_raw(const_cast<ecc_key*>(&_ecc), x, &xs, y, &ys);
    key.material.assign(reinterpret_cast<const char*>(x), 32);
    key.material.append(reinterpret_cast<const char*>(y), 32);
    return key;
  }
  JwsKey rsa_key(JwsAlgorithm alg, std::string kid = "rsa") {
    make_rsa();
    JwsKey key;
    key.alg = alg;
    key.kid = std::move(kid);
    std::array<byte, 512> n{};
    std::array<byte, 16> e{};
    word32 ns = n.size();
    word32 es = e.size();
    wc_RsaFlattenPublicKey(&_rsa, e.data(), &es, n.data(), &ns);
    key.material.assign(reinterpret_cast<const char*>(n.data()), ns);
    key.exponent.assign(reinterpret_cast<const char*>(e.data()), es);
    return key;
  }

  static std::array<byte, 32> hmac(std::string_view secret, std::string_view input) {
    std::array<byte, 32> mac{};
    Hmac h;
    wc_HmacInit(&h, nullptr, INVALID_DEVID);
    wc_HmacSetKey(&h, WC_SHA256, b(secret), secret.size());
    wc_HmacUpdate(&h, b(input), input.size());
    wc_HmacFinal(&h, mac.data());
    wc_HmacFree(&h);
    return mac;
  }

 private:
  void make_rsa() {
    if (!_rsa_made) {
      wc_InitRsaKey(&_rsa, nullptr);
      wc_MakeRsaKey(&_rsa, 2048, WC_RSA_EXPONENT, &_rng);
      wc_RsaSetRNG(&_rsa, &_rng);
      _rsa_made = true;
    }
  }

  WC_RNG _rng;
  ed25519_key _ed;
  ecc_key _ecc;
  RsaKey _rsa;
  bool _rsa_made = false;
};

}  // namespace peregrine::auth::testing
