#include "src/auth/scram_sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace peregrine::auth {
namespace {

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

// RFC 7677 §3: user "user", password "pencil".
constexpr std::string_view kSaltB64 = "W22ZaJ0SNY7soEsUEjb6gQ==";
const std::vector<uint8_t> kSalt = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
                                    0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};

ScramSha256 rfc_method() {
  ScramSha256 method;
  method.add_user("user", ScramSha256::derive("pencil", kSalt, 4096));
  return method;
}

TEST(ScramSha256, Rfc7677Example) {
  ScramSha256 method = rfc_method();
  auto exchange = method.begin_with_nonce("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  AuthStep first = exchange->step(bytes("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
  ASSERT_EQ(first.outcome, AuthStep::Outcome::kContinue);
  EXPECT_EQ(text(first.data), "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=" +
                                  std::string(kSaltB64) + ",i=4096");
  AuthStep final_step = exchange->step(
      bytes("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
  ASSERT_EQ(final_step.outcome, AuthStep::Outcome::kSuccess);
  EXPECT_EQ(text(final_step.data), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  EXPECT_EQ(final_step.username, "user");
}

TEST(ScramSha256, WrongProofFails) {
  ScramSha256 method = rfc_method();
  auto exchange = method.begin_with_nonce("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  exchange->step(bytes("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
  AuthStep step = exchange->step(
      bytes("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            "p=AHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
  EXPECT_EQ(step.outcome, AuthStep::Outcome::kFailure);
}

TEST(ScramSha256, UnknownUserIsWalkedThroughThenRefused) {
  ScramSha256 method = rfc_method();
  auto exchange = method.begin_with_nonce("abc");
  AuthStep first = exchange->step(bytes("n,,n=nobody,r=xyz"));
  ASSERT_EQ(first.outcome, AuthStep::Outcome::kContinue);  // no probing usernames
  EXPECT_NE(text(first.data).find(",i=4096"), std::string::npos);
  AuthStep step = exchange->step(bytes("c=biws,r=xyzabc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
  EXPECT_EQ(step.outcome, AuthStep::Outcome::kFailure);
}

TEST(ScramSha256, MalformedMessagesFail) {
  ScramSha256 method = rfc_method();
  for (std::string_view bad : {"", "p=tls-unique,,n=user,r=x", "n,,r=x,n=user", "n,,n=,r=x",
                               "n,,n=us=er,r=x", "n,,n=user"}) {
    auto exchange = method.begin_with_nonce("s");
    EXPECT_EQ(exchange->step(bytes(bad)).outcome, AuthStep::Outcome::kFailure) << bad;
  }
  auto exchange = method.begin_with_nonce("s");
  ASSERT_EQ(exchange->step(bytes("n,,n=user,r=c")).outcome, AuthStep::Outcome::kContinue);
  // Nonce not echoed, wrong channel binding, missing proof.
  EXPECT_EQ(exchange->step(bytes("c=biws,r=other,p=AAAA")).outcome,
            AuthStep::Outcome::kFailure);
  // After a failure the exchange is over.
  EXPECT_EQ(exchange->step(bytes("c=biws,r=cs,p=AAAA")).outcome, AuthStep::Outcome::kFailure);
}

TEST(ScramSha256, EscapedUsername) {
  ScramSha256 method;
  method.add_user("a,b=c", ScramSha256::derive("pw", kSalt, 4096));
  auto exchange = method.begin_with_nonce("s");
  AuthStep first = exchange->step(bytes("n,,n=a=2Cb=3Dc,r=c"));
  EXPECT_EQ(first.outcome, AuthStep::Outcome::kContinue);
}

}  // namespace
}  // namespace peregrine::auth
