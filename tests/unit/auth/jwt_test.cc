// JWS/JWT verification: RFC vectors (RFC 7515 Appendix A, RFC 8037 Appendix A, RFC 7638
// §3.1), every algorithm against a freshly made key, and the refusal table.
#include "src/auth/jwt.h"

#include <gtest/gtest.h>

#include "src/auth/base64url.h"
#include "src/auth/jws_verifier.h"
#include "src/auth/strict_json.h"
#include "tests/unit/auth/token_forge.h"

namespace peregrine::auth {
namespace {

using testing::TokenForge;

// RFC 7515 A.1's claims set (with its CRLFs), shared by A.1-A.3.
constexpr std::string_view kRfcPayload =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
constexpr int64_t kRfcExp = 1300819380;

JwsKey load_one(std::string_view text, std::optional<JwsAlgorithm> alg, std::string_view kid = "") {
  std::vector<JwsKey> keys;
  std::string error;
  EXPECT_TRUE(load_jws_keys(text, alg, kid, keys, error)) << error;
  return keys.empty() ? JwsKey{} : keys.front();
}

TokenRefusal check(std::string_view token, std::vector<JwsKey> keys, int64_t now = 1'000,
                   TokenClaims* out = nullptr, JwtPolicy policy = {}) {
  JwsVerifier verifier(std::move(keys));
  TokenClaims claims;
  const TokenRefusal r = verify_jwt(token, verifier, policy, now, claims);
  if (out != nullptr) {
    *out = claims;
  }
  return r;
}

TEST(Base64Url, DecodesOnlyTheCanonicalUnpaddedForm) {
  EXPECT_EQ(base64url_decode("QQ"), "A");
  EXPECT_EQ(base64url_decode(""), "");
  EXPECT_EQ(base64url_decode("_-8"), std::string("\xff\xef", 2));
  EXPECT_EQ(base64url_decode("QR"), std::nullopt);    // trailing bits set
  EXPECT_EQ(base64url_decode("QQ=="), std::nullopt);  // padding
  EXPECT_EQ(base64url_decode("Q"), std::nullopt);     // 4k+1 characters
  EXPECT_EQ(base64url_decode("a+b/"), std::nullopt);  // the other alphabet
  EXPECT_EQ(base64url_decode("QQ\n"), std::nullopt);
  for (const std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(base64url_decode(base64url_encode(s)), s);
  }
  EXPECT_EQ(base64url_encode(std::string_view("foobar")), "Zm9vYmFy");
}

TEST(StrictJson, RefusesDuplicatesDepthTrailingBytesAndInfinity) {
  EXPECT_TRUE(parse_strict_object(R"( {"a":1,"b":[1,{"c":2}]} )"));
  EXPECT_FALSE(parse_strict_object(R"({"a":1,"a":1})"));
  EXPECT_FALSE(parse_strict_object(R"({"a":{"b":1,"b":2}})"));
  EXPECT_FALSE(parse_strict_object(R"({"a":[{"b":1,"b":2}]})"));
  EXPECT_FALSE(parse_strict_object(R"({"a":1} x)"));
  EXPECT_FALSE(parse_strict_object(R"({"a":1}{"b":2})"));
  EXPECT_FALSE(parse_strict_object(R"({"a":1e999})"));
  EXPECT_FALSE(parse_strict_object(R"([1])"));
  EXPECT_FALSE(parse_strict_object(R"({"a":[[[[1]]]]})", 4));
  EXPECT_TRUE(parse_strict_object(R"({"a":[[[1]]]})", 4));
  EXPECT_FALSE(parse_strict_object(""));
}

TEST(JwsVectors, Rfc7515A1Hs256) {
  const JwsKey key = load_one(
      R"({"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"})",
      JwsAlgorithm::kHS256, "a1");
  const std::string token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + std::string(kRfcPayload) +
                            ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  TokenClaims claims;
  EXPECT_EQ(check(token, {key}, kRfcExp - 1, &claims), TokenRefusal::kNone);
  EXPECT_EQ(claims.expires_at, kRfcExp);
  EXPECT_EQ(check(token, {key}, kRfcExp), TokenRefusal::kExpired);
  EXPECT_EQ(check(token, {key}, kRfcExp, nullptr, {.leeway_s = 5}), TokenRefusal::kNone);
  EXPECT_EQ(check(token, {key}, 0, nullptr, {.issuer = "joe"}), TokenRefusal::kNone);
  EXPECT_EQ(check(token, {key}, 0, nullptr, {.issuer = "jane"}), TokenRefusal::kIssuer);
  EXPECT_EQ(check(token, {key}, 0, nullptr, {.audience = "us"}), TokenRefusal::kAudience);
}

TEST(JwsVectors, Rfc7515A2Rs256) {
  const JwsKey key = load_one(
      R"({"kty":"RSA","e":"AQAB","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"})",
      JwsAlgorithm::kRS256);
  const std::string signature =
      "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5"
      "jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb"
      "1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QO"
      "YEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
  const std::string token = "eyJhbGciOiJSUzI1NiJ9." + std::string(kRfcPayload) + "." + signature;
  EXPECT_EQ(check(token, {key}, kRfcExp - 1), TokenRefusal::kNone);
  // The same key pinned to PS256 refuses the RS256 token before any RSA work.
  JwsKey pss = key;
  pss.alg = JwsAlgorithm::kPS256;
  EXPECT_EQ(check(token, {pss}, kRfcExp - 1), TokenRefusal::kAlgorithm);
  // One flipped signature bit.
  std::string bad = token;
  bad[bad.size() - 3] = bad[bad.size() - 3] == 'R' ? 'S' : 'R';
  EXPECT_EQ(check(bad, {key}, kRfcExp - 1), TokenRefusal::kSignature);
}

TEST(JwsVectors, Rfc7515A3Es256) {
  const JwsKey key = load_one(
      R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})",
      JwsAlgorithm::kES256);
  const std::string token =
      "eyJhbGciOiJFUzI1NiJ9." + std::string(kRfcPayload) +
      ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
  EXPECT_EQ(check(token, {key}, kRfcExp - 1), TokenRefusal::kNone);
}

TEST(JwsVectors, Rfc8037Ed25519SignatureAndThumbprint) {
  const JwsKey key = load_one(
      R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})",
      JwsAlgorithm::kEdDSA);
  // A.3: with no kid configured, the key is named by its thumbprint.
  EXPECT_EQ(key.thumbprint(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  EXPECT_EQ(key.kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  // A.4: the payload is not a claims set, so the signature is checked by itself...
  const std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  const std::string signature = *base64url_decode(
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
  JwsVerifier verifier({key});
  EXPECT_TRUE(verifier.verify(0, input, signature));
  EXPECT_FALSE(verifier.verify(0, input + "x", signature));
  // ...and as a token it verifies, then fails as claims.
  EXPECT_EQ(check(input + "." + base64url_encode(signature), {key}), TokenRefusal::kMalformed);
}

TEST(JwsVectors, Rfc7638RsaThumbprint) {
  const JwsKey key = load_one(
      R"({"kty":"RSA","e":"AQAB","alg":"RS256","kid":"2011-04-29","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"})",
      std::nullopt);
  EXPECT_EQ(key.kid, "2011-04-29");
  EXPECT_EQ(key.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  EXPECT_NE(key.public_jwk().find(R"("kid":"2011-04-29")"), std::string::npos);
}

TEST(JwsKeys, LoadsPemJwksAndRefusesWeakOrMismatchedKeys) {
  TokenForge forge;
  const JwsKey pem = load_one(forge.ed_pem(), JwsAlgorithm::kEdDSA, "pem");
  EXPECT_EQ(pem.material, forge.ed_key().material);
  EXPECT_EQ(pem.kid, "pem");

  std::vector<JwsKey> keys;
  std::string error;
  const std::string jwks = "{\"keys\":[" + forge.ed_key("one").public_jwk() + "," +
                           forge.ec_key("two").public_jwk() + "]}";
  ASSERT_TRUE(load_jws_keys(jwks, std::nullopt, "", keys, error)) << error;
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].kid, "one");
  EXPECT_EQ(keys[1].alg, JwsAlgorithm::kES256);

  keys.clear();
  EXPECT_FALSE(load_jws_keys(forge.ed_pem(), std::nullopt, "", keys, error));  // no alg
  EXPECT_FALSE(load_jws_keys(forge.ed_pem(), JwsAlgorithm::kES256, "", keys, error));
  EXPECT_FALSE(load_jws_keys(forge.ed_key().public_jwk(), JwsAlgorithm::kES256, "", keys, error));
  EXPECT_FALSE(load_jws_keys(R"({"kty":"oct","k":"c2hvcnQ"})", JwsAlgorithm::kHS256, "", keys, error));
  EXPECT_FALSE(load_jws_keys(R"({"kty":"OKP","crv":"Ed25519","x":"AA","x":"AA"})",
                             JwsAlgorithm::kEdDSA, "", keys, error));
  // A point that is not on P-256.
  EXPECT_FALSE(load_jws_keys(
      R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1"})",
      JwsAlgorithm::kES256, "", keys, error));
  EXPECT_TRUE(keys.empty());
  JwsKey hmac;
  EXPECT_FALSE(hmac_key("too short", "", hmac, error));
  EXPECT_TRUE(hmac_key(std::string(32, 's'), "h", hmac, error));
  EXPECT_EQ(hmac.public_jwk(), "");  // a secret is never published
}

TEST(JwsKeys, EcCoordinatesWrittenWithoutLeadingZerosArePaddedBack) {
  // Find a key whose x starts with a zero byte (1 in 256), write its JWK the way PyJWT
  // before 2.8 does (minimal big-endian), and load it back to the same point.
  for (int tries = 0; tries < 4000; tries++) {
    TokenForge forge;
    const JwsKey key = forge.ec_key("ec");
    if (key.material[0] != 0) {
      continue;
    }
    const std::string x = key.material.substr(0, 32);
    const std::string y = key.material.substr(32);
    const std::string jwk = R"({"kty":"EC","crv":"P-256","x":")" +
                            base64url_encode(std::string_view(x).substr(1)) + R"(","y":")" +
                            base64url_encode(y) + "\"}";
    const JwsKey loaded = load_one(jwk, JwsAlgorithm::kES256, "ec");
    EXPECT_EQ(loaded.material, key.material);
    EXPECT_EQ(check(forge.es256(R"({"alg":"ES256","kid":"ec"})", R"({"sub":"a"})"), {loaded}),
              TokenRefusal::kNone);
    return;
  }
  FAIL() << "no key with a leading zero byte in 4000 tries";
}

TEST(JwsAlgorithms, EachVerifiesItsOwnSignatureOnly) {
  TokenForge forge;
  const std::string claims = R"({"sub":"c1","jti":"t1","iat":900,"exp":2000})";
  const std::string secret(32, 'k');
  JwsKey hs;
  std::string error;
  ASSERT_TRUE(hmac_key(secret, "hs", hs, error));
  struct Case {
    const char* alg;
    std::string token;
    JwsKey key;
  };
  const std::vector<Case> cases = {
      {"EdDSA", forge.eddsa(R"({"alg":"EdDSA","kid":"ed"})", claims), forge.ed_key()},
      {"ES256", forge.es256(R"({"alg":"ES256","kid":"ec"})", claims), forge.ec_key()},
      {"RS256", forge.rsa(R"({"alg":"RS256","kid":"rsa"})", claims, false),
       forge.rsa_key(JwsAlgorithm::kRS256)},
      {"PS256", forge.rsa(R"({"alg":"PS256","kid":"rsa"})", claims, true),
       forge.rsa_key(JwsAlgorithm::kPS256)},
      {"HS256", forge.hs256(R"({"alg":"HS256","kid":"hs"})", claims, secret), hs},
  };
  for (const Case& c : cases) {
    TokenClaims out;
    EXPECT_EQ(check(c.token, {c.key}, 1'000, &out), TokenRefusal::kNone) << c.alg;
    EXPECT_EQ(out.subject, "c1") << c.alg;
    EXPECT_EQ(out.token_id, "t1") << c.alg;
    EXPECT_EQ(out.issued_at, 900) << c.alg;
    EXPECT_FALSE(out.grant) << c.alg;
    EXPECT_EQ(check(c.token, {c.key}, 2'000), TokenRefusal::kExpired) << c.alg;
    // Truncated by one byte of signature.
    const std::string sig = *base64url_decode(c.token.substr(c.token.rfind('.') + 1));
    const std::string cut = c.token.substr(0, c.token.rfind('.') + 1) +
                            base64url_encode(std::string_view(sig).substr(0, sig.size() - 1));
    EXPECT_EQ(check(cut, {c.key}), TokenRefusal::kSignature) << c.alg;
  }
  // PS256 and RS256 signatures are not interchangeable on one RSA key.
  EXPECT_EQ(check(cases[2].token, {forge.rsa_key(JwsAlgorithm::kPS256)}), TokenRefusal::kAlgorithm);
  const std::string relabelled =
      forge.rsa(R"({"alg":"PS256","kid":"rsa"})", claims, false);  // PKCS#1 under PS256
  EXPECT_EQ(check(relabelled, {forge.rsa_key(JwsAlgorithm::kPS256)}), TokenRefusal::kSignature);
}

TEST(JwtRefusals, Table) {
  TokenForge forge;
  const JwsKey ed = forge.ed_key("ed");
  const std::string ok_claims = R"({"sub":"c1","exp":2000})";
  const std::string head = R"({"alg":"EdDSA","kid":"ed"})";
  const std::string good = forge.eddsa(head, ok_claims);
  ASSERT_EQ(check(good, {ed}), TokenRefusal::kNone);

  struct Row {
    const char* what;
    std::string token;
    TokenRefusal expected;
  };
  const std::string rsa_public_as_secret = forge.rsa_key(JwsAlgorithm::kRS256).material;
  const std::string padded = good.substr(0, good.find('.')) + "=" + good.substr(good.find('.'));
  std::vector<Row> rows = {
      {"alg none, empty signature", TokenForge::signing_input(R"({"alg":"none"})", ok_claims) + ".",
       TokenRefusal::kAlgorithm},
      {"alg none with a kid", TokenForge::signing_input(R"({"alg":"none","kid":"ed"})", ok_claims) + ".",
       TokenRefusal::kAlgorithm},
      {"unknown alg", forge.eddsa(R"({"alg":"ES512","kid":"ed"})", ok_claims), TokenRefusal::kAlgorithm},
      {"alg in other case", forge.eddsa(R"({"alg":"eddsa","kid":"ed"})", ok_claims), TokenRefusal::kAlgorithm},
      {"no alg", forge.eddsa(R"({"kid":"ed"})", ok_claims), TokenRefusal::kAlgorithm},
      {"HS256 keyed with the RSA public key",
       forge.hs256(R"({"alg":"HS256","kid":"ed"})", ok_claims, rsa_public_as_secret),
       TokenRefusal::kAlgorithm},
      {"unknown kid", forge.eddsa(R"({"alg":"EdDSA","kid":"other"})", ok_claims), TokenRefusal::kUnknownKey},
      {"traversal kid", forge.eddsa(R"({"alg":"EdDSA","kid":"../../../etc/passwd"})", ok_claims),
       TokenRefusal::kUnknownKey},
      {"kid over 256 bytes",
       forge.eddsa(R"({"alg":"EdDSA","kid":")" + std::string(300, 'k') + "\"}", ok_claims),
       TokenRefusal::kHeader},
      {"kid not a string", forge.eddsa(R"({"alg":"EdDSA","kid":1})", ok_claims), TokenRefusal::kHeader},
      {"embedded jwk", forge.eddsa(R"({"alg":"EdDSA","kid":"ed","jwk":{}})", ok_claims), TokenRefusal::kHeader},
      {"jku", forge.eddsa(R"({"alg":"EdDSA","kid":"ed","jku":"http://x"})", ok_claims), TokenRefusal::kHeader},
      {"x5u", forge.eddsa(R"({"alg":"EdDSA","kid":"ed","x5u":"http://x"})", ok_claims), TokenRefusal::kHeader},
      {"x5c", forge.eddsa(R"({"alg":"EdDSA","kid":"ed","x5c":[]})", ok_claims), TokenRefusal::kHeader},
      {"unknown crit", forge.eddsa(R"({"alg":"EdDSA","kid":"ed","crit":["exp"]})", ok_claims),
       TokenRefusal::kHeader},
      {"b64 false", forge.eddsa(R"({"alg":"EdDSA","kid":"ed","b64":false})", ok_claims), TokenRefusal::kHeader},
      {"duplicate header member", forge.eddsa(R"({"alg":"EdDSA","kid":"ed","alg":"EdDSA"})", ok_claims),
       TokenRefusal::kMalformed},
      {"duplicate claim (signed)", forge.eddsa(head, R"({"sub":"c1","sub":"admin"})"), TokenRefusal::kMalformed},
      {"claims not an object", forge.eddsa(head, R"(["sub"])"), TokenRefusal::kMalformed},
      {"expired", forge.eddsa(head, R"({"exp":1000})"), TokenRefusal::kExpired},
      {"not yet valid", forge.eddsa(head, R"({"nbf":1001})"), TokenRefusal::kNotYetValid},
      {"exp a string", forge.eddsa(head, R"({"exp":"2000"})"), TokenRefusal::kClaims},
      {"sub a number", forge.eddsa(head, R"({"sub":7})"), TokenRefusal::kClaims},
      {"aud not ours", forge.eddsa(head, R"({"aud":"someone"})"), TokenRefusal::kAudience},
      {"bad topic filter", forge.eddsa(head, R"({"topicAcl":"a/#/b"})"), TokenRefusal::kClaims},
      {"topic claim not strings", forge.eddsa(head, R"({"x-fastly-read":[1]})"), TokenRefusal::kClaims},
      {"padding", padded, TokenRefusal::kMalformed},
      {"standard base64", good.substr(0, good.rfind('.') + 1) + "+" + good.substr(good.rfind('.') + 2),
       TokenRefusal::kMalformed},
      {"two segments", good.substr(0, good.rfind('.')), TokenRefusal::kMalformed},
      {"four segments", good + ".x", TokenRefusal::kMalformed},
      {"oversized", forge.eddsa(head, R"({"pad":")" + std::string(4000, 'p') + "\"}"),
       TokenRefusal::kTooLarge},
      {"truncated signature",
       good.substr(0, good.rfind('.') + 1) +
           base64url_encode(base64url_decode(good.substr(good.rfind('.') + 1))->substr(0, 63)),
       TokenRefusal::kSignature},
      {"signature cut mid-character", good.substr(0, good.size() - 1), TokenRefusal::kMalformed},
      {"signature of another key", TokenForge().eddsa(head, ok_claims), TokenRefusal::kSignature},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(check(row.token, {ed}), row.expected)
        << row.what << " gave " << refusal_name(check(row.token, {ed}));
  }
  // With two keys, a token must name one.
  EXPECT_EQ(check(forge.eddsa(R"({"alg":"EdDSA"})", ok_claims), {ed}), TokenRefusal::kNone);
  EXPECT_EQ(check(forge.eddsa(R"({"alg":"EdDSA"})", ok_claims), {ed, forge.ec_key()}),
            TokenRefusal::kUnknownKey);
}

TEST(JwtRefusals, EcdsaScalarsOutOfRange) {
  TokenForge forge;
  const JwsKey ec = forge.ec_key("ec");
  const std::string head = R"({"alg":"ES256","kid":"ec"})";
  const std::string claims = R"({"sub":"c1"})";
  ASSERT_EQ(check(forge.es256(head, claims), {ec}), TokenRefusal::kNone);
  constexpr std::array<uint8_t, 32> n = {
      0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
  // s + n would verify in an implementation that reduces s mod n; s = n and r = 0 are out.
  auto s_plus_n = [&](std::array<byte, 64>& rs) {
    unsigned carry = 0;
    for (int i = 31; i >= 0; i--) {
      const unsigned v = rs[32 + i] + n[i] + carry;
      rs[32 + i] = static_cast<byte>(v);
      carry = v >> 8;
    }
    if (carry != 0) {  // did not fit in 32 bytes: use s = n itself
      std::copy(n.begin(), n.end(), rs.begin() + 32);
    }
  };
  EXPECT_EQ(check(forge.es256(head, claims, s_plus_n), {ec}), TokenRefusal::kSignature);
  EXPECT_EQ(check(forge.es256(head, claims,
                              [&](std::array<byte, 64>& rs) { std::copy(n.begin(), n.end(), rs.begin() + 32); }),
                  {ec}),
            TokenRefusal::kSignature);
  EXPECT_EQ(check(forge.es256(head, claims, [](std::array<byte, 64>& rs) { std::fill(rs.begin(), rs.begin() + 32, 0); }),
                  {ec}),
            TokenRefusal::kSignature);
}

TEST(JwtClaims, TopicClaimsOfEachFamilyMakeOneGrant) {
  TokenForge forge;
  const JwsKey ed = forge.ed_key("ed");
  const std::string head = R"({"alg":"EdDSA","kid":"ed"})";
  TokenClaims claims;
  ASSERT_EQ(check(forge.eddsa(head, R"({"topicAcl":"#"})"), {ed}, 1'000, &claims), TokenRefusal::kNone);
  ASSERT_TRUE(claims.grant);
  EXPECT_EQ(claims.grant->publish, std::vector<std::string>{"#"});
  EXPECT_EQ(claims.grant->subscribe, std::vector<std::string>{"#"});

  ASSERT_EQ(check(forge.eddsa(head, R"({"x-fastly-read":["t1","t2"],"x-fastly-write":["t1"]})"), {ed},
                  1'000, &claims),
            TokenRefusal::kNone);
  EXPECT_EQ(claims.grant->subscribe, (std::vector<std::string>{"t1", "t2"}));
  EXPECT_EQ(claims.grant->publish, std::vector<std::string>{"t1"});

  ASSERT_EQ(check(forge.eddsa(head, R"({"sub":"me","peregrine":{"pub":["a/+"],"sub":"b/#"}})"), {ed},
                  1'000, &claims),
            TokenRefusal::kNone);
  EXPECT_EQ(claims.subject, "me");
  EXPECT_EQ(claims.grant->publish, std::vector<std::string>{"a/+"});
  EXPECT_EQ(claims.grant->subscribe, std::vector<std::string>{"b/#"});

  // A read-only Fastly token may publish nowhere.
  ASSERT_EQ(check(forge.eddsa(head, R"({"x-fastly-read":["t1"]})"), {ed}, 1'000, &claims),
            TokenRefusal::kNone);
  EXPECT_TRUE(claims.grant->publish.empty());
  EXPECT_EQ(check(forge.eddsa(head, R"({"aud":["x","us"]})"), {ed}, 1'000, nullptr, {.audience = "us"}),
            TokenRefusal::kNone);
}

}  // namespace
}  // namespace peregrine::auth
