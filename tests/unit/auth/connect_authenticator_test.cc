// The built-in Authenticator's decision: known users, tokens, other proofs, anonymous;
// subjects; what its caches remember and what they never do.
#include "src/auth/connect_authenticator.h"

#include <gtest/gtest.h>

#include "src/auth/token_cache.h"
#include "tests/unit/auth/token_forge.h"

namespace peregrine::auth {
namespace {

using Outcome = AuthResult::Outcome;
using testing::TokenForge;

int64_t g_now = 1'000;
int64_t test_clock() { return g_now; }

// mosquitto_passwd: alice / wonderland.
constexpr std::string_view kPasswords =
    "alice:$7$101$p27KucvElLxGQPMa$lCShGs28CsDvrFX2MnxGLFG+FZNPjaOEB4F17H4+zSl9dWUf+jgp/C+CKoQFLTdGCXQLAxXq9QFPJAGO33KW8A==\n";

struct Fixture {
  explicit Fixture(bool anonymous = false) {
    AuthSettings settings;
    settings.allow_anonymous = anonymous;
    settings.jwt_keys = {forge.ed_key("ed")};
    settings.clock = test_clock;
    std::string error;
    settings.passwords = PasswordFile::parse(kPasswords, error);
    settings.scram_users = {"scrammy"};
    factory = std::make_unique<ConnectAuthenticatorFactory>(std::move(settings));
    authenticator = factory->make();
    g_now = 1'000;
  }
  AuthResult connect(std::string_view client_id, std::optional<std::string_view> username,
                     std::optional<std::string_view> password, bool enhanced = false) {
    Credentials c;
    c.client_id = client_id;
    c.username = username;
    c.password = password;
    c.enhanced = enhanced;
    return authenticator->authenticate(c);
  }
  std::string token(std::string_view claims) {
    return forge.eddsa(R"({"alg":"EdDSA","kid":"ed"})", claims);
  }

  TokenForge forge;
  std::unique_ptr<ConnectAuthenticatorFactory> factory;
  std::unique_ptr<Authenticator> authenticator;
};

TEST(ConnectAuthenticator, TokensProveTheirSubject) {
  Fixture f;
  const std::string t = f.token(R"({"sub":"dev","jti":"j1","exp":2000,"topicAcl":"dev/#"})");
  AuthResult r = f.connect("", std::nullopt, t);
  ASSERT_EQ(r.outcome, Outcome::kVerified);
  EXPECT_EQ(r.subject, "dev");
  EXPECT_EQ(r.username, "dev");
  EXPECT_EQ(r.token_id, "j1");
  EXPECT_EQ(r.expires_at_s, 2000);
  ASSERT_TRUE(r.grant);
  EXPECT_EQ(r.grant->publish, std::vector<std::string>{"dev/#"});
  EXPECT_EQ(f.connect("dev", "dev", t).outcome, Outcome::kVerified);
  r = f.connect("other", std::nullopt, t);
  EXPECT_EQ(r.outcome, Outcome::kNotAuthorized);
  EXPECT_EQ(r.refusal, AuthRefusal::kSubjectMismatch);
  EXPECT_EQ(f.connect("dev", "PubSub", t).refusal, AuthRefusal::kSubjectMismatch);
  // Without sub, any client id.
  EXPECT_EQ(f.connect("any", std::nullopt, f.token(R"({"exp":2000})")).outcome, Outcome::kVerified);
}

TEST(ConnectAuthenticator, RefusalsAreBadCredentials) {
  Fixture f(/*anonymous=*/true);
  EXPECT_EQ(f.connect("", std::nullopt, f.token(R"({"exp":1000})")).refusal,
            AuthRefusal::kTokenExpired);
  EXPECT_EQ(f.connect("", std::nullopt, TokenForge().eddsa(R"({"alg":"EdDSA","kid":"ed"})", "{}"))
                .refusal,
            AuthRefusal::kTokenSignature);
  const AuthResult r = f.connect("", std::nullopt, "a.b.c");
  EXPECT_EQ(r.outcome, Outcome::kBadCredentials);
  EXPECT_EQ(r.refusal, AuthRefusal::kTokenMalformed);
  // A password that is no token, where anonymous access is on: anonymous.
  EXPECT_EQ(f.connect("x", "someone", "hunter2").outcome, Outcome::kAnonymous);
}

TEST(ConnectAuthenticator, KnownUsersNeedTheirPasswordEvenWhereAnonymousIsAllowed) {
  Fixture f(/*anonymous=*/true);
  AuthResult r = f.connect("c", "alice", "wonderland");
  EXPECT_EQ(r.outcome, Outcome::kVerified);
  EXPECT_EQ(r.username, "alice");
  EXPECT_EQ(r.subject, "");
  EXPECT_EQ(f.connect("c", "alice", "wrong").refusal, AuthRefusal::kBadPassword);
  EXPECT_EQ(f.connect("c", "alice", std::nullopt).refusal, AuthRefusal::kBadPassword);
  // A SCRAM user proves itself through the AUTH exchange only.
  EXPECT_EQ(f.connect("c", "scrammy", "guess").refusal, AuthRefusal::kBadPassword);
  EXPECT_EQ(f.connect("c", "scrammy", std::nullopt, /*enhanced=*/true).outcome,
            Outcome::kAnonymous);
  EXPECT_EQ(f.connect("c", "stranger", std::nullopt).outcome, Outcome::kAnonymous);
}

TEST(ConnectAuthenticator, AnonymousAccessFollowsTheSetting) {
  Fixture refused(/*anonymous=*/false);
  const AuthResult r = refused.connect("c", std::nullopt, std::nullopt);
  EXPECT_EQ(r.outcome, Outcome::kBadCredentials);
  EXPECT_EQ(r.refusal, AuthRefusal::kNoCredentials);
  EXPECT_EQ(refused.connect("c", "stranger", "not-a-token").refusal, AuthRefusal::kNoCredentials);
  Credentials certificate;
  certificate.certificate = true;
  EXPECT_EQ(refused.authenticator->authenticate(certificate).outcome, Outcome::kAnonymous);
  Fixture allowed(/*anonymous=*/true);
  EXPECT_EQ(allowed.connect("c", std::nullopt, std::nullopt).outcome, Outcome::kAnonymous);
}

TEST(ConnectAuthenticator, CachedVerdictsStillExpire) {
  Fixture f;
  const std::string t = f.token(R"({"sub":"dev","exp":1010})");
  EXPECT_EQ(f.connect("", std::nullopt, t).outcome, Outcome::kVerified);
  EXPECT_EQ(f.connect("", std::nullopt, t).outcome, Outcome::kVerified);  // from the cache
  g_now = 1010;
  EXPECT_EQ(f.connect("", std::nullopt, t).refusal, AuthRefusal::kTokenExpired);
  g_now = 1000;  // a clock stepped back does not revive a token the cache saw expire
  EXPECT_EQ(f.connect("", std::nullopt, t).refusal, AuthRefusal::kTokenExpired);
}

TEST(TokenCache, RemembersOnlyLastingVerdictsAndStaysBounded) {
  TokenCache cache(2);
  TokenClaims claims;
  claims.subject = "s";
  const auto a = TokenCache::digest("a");
  const auto b = TokenCache::digest("b");
  const auto c = TokenCache::digest("c");
  cache.remember(a, TokenRefusal::kNone, claims);
  cache.remember(b, TokenRefusal::kSignature, claims);
  cache.remember(c, TokenRefusal::kNotYetValid, claims);  // time may change it
  EXPECT_EQ(cache.size(), 2u);
  ASSERT_NE(cache.find(a, 0), nullptr);
  EXPECT_EQ(cache.find(a, 0)->claims.subject, "s");
  EXPECT_EQ(cache.find(b, 0)->refusal, TokenRefusal::kSignature);
  EXPECT_TRUE(cache.find(b, 0)->claims.subject.empty());  // no claims kept for refusals
  EXPECT_EQ(cache.find(c, 0), nullptr);
  cache.remember(c, TokenRefusal::kMalformed, claims);  // evicts the oldest, a
  EXPECT_EQ(cache.find(a, 0), nullptr);
  EXPECT_EQ(cache.size(), 2u);
}

}  // namespace
}  // namespace peregrine::auth
