// The broker's own keys and the credentials it signs with them: what the tokens carry and
// that the broker's verifier (and only with the key present) accepts them; made client
// ids; the key file and what it refuses; the authenticator as keys come and go.
#include "src/auth/token_issuer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "src/auth/base64url.h"
#include "src/auth/connect_authenticator.h"
#include "src/auth/jws_verifier.h"
#include "src/auth/jwt.h"
#include "src/auth/strict_json.h"
#include "tests/unit/auth/token_forge.h"

namespace peregrine::auth {
namespace {

constexpr int64_t kNow = 1'800'000'000;

BrokerKey make_key(Ed25519TokenIssuer& issuer) {
  BrokerKey key;
  std::string error;
  EXPECT_TRUE(issuer.generate_key(kNow, key, error)) << error;
  return key;
}

picojson::object claims_of(const std::string& token) {
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  const std::optional<std::string> text =
      base64url_decode(std::string_view(token).substr(first + 1, second - first - 1));
  EXPECT_TRUE(text);
  return parse_strict_object(*text).value_or(picojson::object{});
}

TEST(TokenIssuer, KeysAreEd25519WithTheirThumbprintAsKid) {
  Ed25519TokenIssuer issuer({});
  const BrokerKey a = make_key(issuer);
  const BrokerKey b = make_key(issuer);
  EXPECT_EQ(a.public_key.size(), 32u);
  EXPECT_EQ(a.private_key.size(), 32u);
  EXPECT_EQ(a.created_s, kNow);
  EXPECT_EQ(a.kid, verification_key(a).thumbprint());
  EXPECT_NE(a.kid, b.kid);
  EXPECT_NE(a.private_key, b.private_key);
  EXPECT_TRUE(a.public_half().private_key.empty());
  const std::optional<picojson::object> jwk = parse_strict_object(issuer.public_jwk(a));
  ASSERT_TRUE(jwk);
  EXPECT_EQ(jwk->at("kty").to_str(), "OKP");
  EXPECT_EQ(jwk->at("crv").to_str(), "Ed25519");
  EXPECT_EQ(jwk->at("kid").to_str(), a.kid);
  EXPECT_EQ(jwk->count("d"), 0u);  // never the private half
}

TEST(TokenIssuer, TokensVerifyWithTheKeyAndCarryTheRequest) {
  JwtPolicy policy;
  policy.issuer = "edge-1";
  policy.audience = "peregrine";
  Ed25519TokenIssuer issuer(policy);
  const BrokerKey key = make_key(issuer);
  CredentialRequest request;
  request.expires_in_s = 3600;
  request.topic_acl = {"a/#"};
  request.publish = {"p/+"};
  request.subscribe = {"s/#"};
  const std::string token = issuer.issue(key, "dev-1", request, kNow);
  ASSERT_FALSE(token.empty());

  JwsVerifier verifier({}, {verification_key(key.public_half())});
  TokenClaims claims;
  ASSERT_EQ(verify_jwt(token, verifier, policy, kNow, claims), TokenRefusal::kNone);
  EXPECT_EQ(claims.subject, "dev-1");
  EXPECT_EQ(claims.key_id, key.kid);
  EXPECT_EQ(claims.issued_at, kNow);
  EXPECT_EQ(claims.expires_at, kNow + 3600);
  EXPECT_EQ(claims.token_id.size(), 22u);  // 128 random bits
  ASSERT_TRUE(claims.grant);
  EXPECT_EQ(claims.grant->publish, (std::vector<std::string>{"a/#", "p/+"}));
  EXPECT_EQ(claims.grant->subscribe, (std::vector<std::string>{"a/#", "s/#"}));
  EXPECT_EQ(verify_jwt(token, verifier, policy, kNow + 3600, claims), TokenRefusal::kExpired);

  // Cloudflare's shapes: one topicAcl filter is a string, several a list.
  EXPECT_TRUE(claims_of(token).at("topicAcl").is<std::string>());
  request.topic_acl = {"a", "b"};
  EXPECT_TRUE(claims_of(issuer.issue(key, "d", request, kNow)).at("topicAcl").is<picojson::array>());

  // Without the key (deleted), or with another one, it does not verify.
  Ed25519TokenIssuer other_issuer({});
  const BrokerKey other = make_key(other_issuer);
  JwsVerifier without({}, {verification_key(other)});
  EXPECT_EQ(verify_jwt(token, without, policy, kNow, claims), TokenRefusal::kUnknownKey);
  BrokerKey impostor = other;
  impostor.kid = key.kid;  // the right kid, the wrong key
  JwsVerifier wrong({}, {verification_key(impostor)});
  EXPECT_EQ(verify_jwt(token, wrong, policy, kNow, claims), TokenRefusal::kSignature);
}

TEST(TokenIssuer, NoExpiryAndNoTopicClaimsWhenNotAskedFor) {
  Ed25519TokenIssuer issuer({});
  const BrokerKey key = make_key(issuer);
  const picojson::object claims = claims_of(issuer.issue(key, "d", {}, kNow));
  EXPECT_EQ(claims.count("exp"), 0u);
  EXPECT_EQ(claims.count("topicAcl"), 0u);
  EXPECT_EQ(claims.count("peregrine"), 0u);
  EXPECT_EQ(claims.count("iss"), 0u);
  EXPECT_EQ(claims.count("aud"), 0u);
  std::set<std::string> ids;
  for (int i = 0; i < 200; i++) {
    ids.insert(claims_of(issuer.issue(key, "d", {}, kNow)).at("jti").to_str());
  }
  EXPECT_EQ(ids.size(), 200u);
}

TEST(TokenIssuer, BrokerKeysAreNeverChosenWithoutAKid) {
  // The configured key stays the one a kid-less token means, however many broker keys
  // there are; a broker key answers only to its kid.
  testing::TokenForge forge;
  Ed25519TokenIssuer issuer({});
  const BrokerKey key = make_key(issuer);
  JwsVerifier verifier({forge.ed_key("")}, {verification_key(key)});
  EXPECT_EQ(verifier.select(std::nullopt), 0u);
  EXPECT_EQ(verifier.select(key.kid), 1u);
  JwsVerifier only_broker({}, {verification_key(key)});
  EXPECT_FALSE(only_broker.select(std::nullopt));
}

TEST(TokenIssuer, ClientIdsAre23TimeOrderedCharacters) {
  Ed25519TokenIssuer issuer({});
  std::string previous;
  std::set<std::string> seen;
  for (int64_t ms = 1'700'000'000'000; ms < 1'700'000'000'000 + 500; ms++) {
    const std::string id = issuer.make_client_id(ms);
    ASSERT_EQ(id.size(), 23u);
    EXPECT_TRUE(std::all_of(id.begin(), id.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
    })) << id;
    EXPECT_LT(previous, id);  // a later millisecond sorts later
    previous = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 500u);
  EXPECT_NE(issuer.make_client_id(0), issuer.make_client_id(0));  // the random part
}

TEST(KeyFile, RoundTripsAndRefusesWhatIsDamaged) {
  Ed25519TokenIssuer issuer({});
  const std::vector<BrokerKey> keys = {make_key(issuer), make_key(issuer)};
  std::vector<BrokerKey> back;
  std::string error;
  ASSERT_TRUE(decode_key_file(issuer.encode_key_file(keys), back, error)) << error;
  ASSERT_EQ(back.size(), 2u);
  for (size_t i = 0; i < 2; i++) {
    EXPECT_EQ(back[i].kid, keys[i].kid);
    EXPECT_EQ(back[i].created_s, keys[i].created_s);
    EXPECT_EQ(back[i].public_key, keys[i].public_key);
    EXPECT_EQ(back[i].private_key, keys[i].private_key);
  }
  ASSERT_TRUE(decode_key_file(issuer.encode_key_file({}), back, error));
  EXPECT_TRUE(back.empty());

  const std::string x = base64url_encode(keys[0].public_key);
  const std::string d = base64url_encode(keys[0].private_key);
  const std::string other_x = base64url_encode(keys[1].public_key);
  auto file = [](const std::string& key) { return R"({"version":1,"keys":[)" + key + "]}"; };
  auto jwk = [](const std::string& kid, const std::string& x, const std::string& d) {
    return R"({"kty":"OKP","crv":"Ed25519","kid":")" + kid + R"(","x":")" + x + R"(","d":")" +
           d + R"(","created":5})";
  };
  ASSERT_TRUE(decode_key_file(file(jwk("k", x, d)), back, error)) << error;
  back = keys;
  for (const std::string& bad : {
           std::string("not json"),
           std::string(R"({"version":2,"keys":[]})"),
           std::string(R"({"version":1,"version":1,"keys":[]})"),
           file(jwk("k", other_x, d)),                 // x is not d's public half
           file(jwk("k", x, d) + "," + jwk("k", other_x, base64url_encode(keys[1].private_key))),
           file(jwk("", x, d)),
           file(jwk("k", x, d.substr(0, 42))),
           file(jwk("k", x + "=", d)),
           file(R"({"kty":"EC","crv":"P-256","kid":"k","x":")" + x + R"(","d":")" + d +
                R"(","created":5})"),
           file(R"({"kty":"OKP","crv":"Ed25519","kid":"k","x":")" + x + R"(","d":")" + d + R"("})"),
       }) {
    EXPECT_FALSE(decode_key_file(bad, back, error)) << bad;
    EXPECT_EQ(back.size(), 2u) << "untouched on failure";
  }
}

TEST(BrokerKeys, TheAuthenticatorFollowsTheKeySet) {
  AuthSettings settings;
  settings.allow_anonymous = true;  // a refused token must not pass as anonymous
  ConnectAuthenticatorFactory factory(std::move(settings));
  std::unique_ptr<Authenticator> authenticator = factory.make();
  Ed25519TokenIssuer issuer({});
  const BrokerKey key = make_key(issuer);
  const std::string token = issuer.issue(key, "dev", {}, std::time(nullptr));
  Credentials c;
  c.client_id = "dev";
  c.password = token;
  // No key at all: a token is still a token, and one nobody can verify is refused.
  AuthResult r = authenticator->authenticate(c);
  EXPECT_EQ(r.outcome, AuthResult::Outcome::kBadCredentials);
  EXPECT_EQ(r.refusal, AuthRefusal::kTokenKey);

  authenticator->use_broker_keys({key.public_half()});
  r = authenticator->authenticate(c);
  ASSERT_EQ(r.outcome, AuthResult::Outcome::kVerified);
  EXPECT_EQ(r.broker_key_id, key.kid);
  EXPECT_EQ(r.subject, "dev");
  r = authenticator->authenticate(c);  // cached
  ASSERT_EQ(r.outcome, AuthResult::Outcome::kVerified);

  // Deleted: refused at once, although the cache had it as good.
  authenticator->use_broker_keys({});
  r = authenticator->authenticate(c);
  EXPECT_EQ(r.outcome, AuthResult::Outcome::kBadCredentials);
  EXPECT_EQ(r.refusal, AuthRefusal::kTokenKey);
}

}  // namespace
}  // namespace peregrine::auth
