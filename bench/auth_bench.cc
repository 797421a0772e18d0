// What authentication costs a shard: one token verification per algorithm at first sight
// (the signature check and claims), and a token the shard's cache has seen (SHA-256 of
// the token and a lookup); a password file check ($7$, 101 iterations); and what shard 0
// spends issuing one credential (an EdDSA-signed token, with a made client id). Results
// in bench/RESULTS.md ("Authentication").
#include <benchmark/benchmark.h>

#include "src/auth/connect_authenticator.h"
#include "src/auth/password_file.h"
#include "src/auth/token_cache.h"
#include "src/auth/token_issuer.h"
#include "tests/unit/auth/token_forge.h"

namespace {

using namespace peregrine;
using namespace peregrine::auth;

constexpr const char* kClaims = R"({"sub":"bench-client","jti":"j","exp":4102444800,"topicAcl":["bench/#"]})";

void verify(benchmark::State& state, JwsAlgorithm alg) {
  testing::TokenForge forge;
  std::string token;
  JwsKey key;
  std::string error;
  switch (alg) {
    case JwsAlgorithm::kEdDSA:
      token = forge.eddsa(R"({"alg":"EdDSA","kid":"k"})", kClaims);
      key = forge.ed_key("k");
      break;
    case JwsAlgorithm::kES256:
      token = forge.es256(R"({"alg":"ES256","kid":"k"})", kClaims);
      key = forge.ec_key("k");
      break;
    case JwsAlgorithm::kRS256:
    case JwsAlgorithm::kPS256:
      token = forge.rsa(alg == JwsAlgorithm::kRS256 ? R"({"alg":"RS256","kid":"k"})"
                                                     : R"({"alg":"PS256","kid":"k"})",
                        kClaims, alg == JwsAlgorithm::kPS256);
      key = forge.rsa_key(alg, "k");
      break;
    case JwsAlgorithm::kHS256:
      token = forge.hs256(R"({"alg":"HS256","kid":"k"})", kClaims, std::string(32, 's'));
      hmac_key(std::string(32, 's'), "k", key, error);
      break;
  }
  JwsVerifier verifier({key});
  for (auto _ : state) {
    TokenClaims claims;
    const TokenRefusal r = verify_jwt(token, verifier, {}, 1'000, claims);
    benchmark::DoNotOptimize(r);
    if (r != TokenRefusal::kNone) {
      state.SkipWithError("token refused");
      break;
    }
  }
}

void BM_VerifyEdDSA(benchmark::State& s) { verify(s, JwsAlgorithm::kEdDSA); }
void BM_VerifyES256(benchmark::State& s) { verify(s, JwsAlgorithm::kES256); }
void BM_VerifyRS256(benchmark::State& s) { verify(s, JwsAlgorithm::kRS256); }
void BM_VerifyPS256(benchmark::State& s) { verify(s, JwsAlgorithm::kPS256); }
void BM_VerifyHS256(benchmark::State& s) { verify(s, JwsAlgorithm::kHS256); }
BENCHMARK(BM_VerifyEdDSA);
BENCHMARK(BM_VerifyES256);
BENCHMARK(BM_VerifyRS256);
BENCHMARK(BM_VerifyPS256);
BENCHMARK(BM_VerifyHS256);

// A CONNECT with a token the shard has verified before: the whole Authenticator call.
void BM_AuthenticateCachedToken(benchmark::State& state) {
  testing::TokenForge forge;
  AuthSettings settings;
  settings.jwt_keys = {forge.ed_key("k")};
  ConnectAuthenticatorFactory factory(std::move(settings));
  auto authenticator = factory.make();
  const std::string token = forge.eddsa(R"({"alg":"EdDSA","kid":"k"})", kClaims);
  Credentials c;
  c.client_id = "bench-client";
  c.password = token;
  authenticator->authenticate(c);
  for (auto _ : state) {
    AuthResult r = authenticator->authenticate(c);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_AuthenticateCachedToken);

void BM_PasswordCheck7(benchmark::State& state) {
  std::string error;
  const auto file = PasswordFile::parse("u:" + PasswordFile::hash("correct horse") + "\n", error);
  for (auto _ : state) {
    benchmark::DoNotOptimize(file->check("u", "correct horse"));
  }
}
BENCHMARK(BM_PasswordCheck7);

}  // namespace

// One token of a credentials call (up to 100 of them run in one turn of shard 0).
void BM_IssueToken(benchmark::State& state) {
  Ed25519TokenIssuer issuer({});
  BrokerKey key;
  std::string error;
  issuer.generate_key(1'800'000'000, key, error);
  CredentialRequest request;
  request.expires_in_s = 48 * 3600;
  request.topic_acl = {"bench/#"};
  int64_t now_ms = 1'800'000'000'000;
  for (auto _ : state) {
    const std::string client_id = issuer.make_client_id(now_ms);
    benchmark::DoNotOptimize(issuer.issue(key, client_id, request, now_ms / 1000));
  }
}
BENCHMARK(BM_IssueToken);

void BM_GenerateKey(benchmark::State& state) {
  Ed25519TokenIssuer issuer({});
  std::string error;
  for (auto _ : state) {
    BrokerKey key;
    benchmark::DoNotOptimize(issuer.generate_key(1'800'000'000, key, error));
  }
}
BENCHMARK(BM_GenerateKey);

BENCHMARK_MAIN();
