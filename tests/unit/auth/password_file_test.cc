// Mosquitto-format password files: hashes made by Python's hashlib (independent of
// wolfCrypt) and by Debian's mosquitto_passwd 2.0.11, both schemes; refusals of bad lines.
#include "src/auth/password_file.h"

#include <gtest/gtest.h>

namespace peregrine::auth {
namespace {

PasswordFile load(std::string_view text) {
  std::string error;
  std::optional<PasswordFile> file = PasswordFile::parse(text, error);
  EXPECT_TRUE(file) << error;
  return file ? std::move(*file) : PasswordFile();
}

TEST(PasswordFile, ChecksBothSchemesAgainstIndependentHashes) {
  // hashlib.pbkdf2_hmac("sha512", b"s3cret", b"0123456789ab", 101) and
  // hashlib.sha512(b"s3cret" + b"0123456789ab").
  const PasswordFile file = load(
      "# comment\n\n"
      "p7:$7$101$MDEyMzQ1Njc4OWFi$OQKxdUx545frVVxgdZp9y72EP3JqCqChci/F5JoCP8OI/KUfoywcfFwZXbTebCw8ZV3BSRLMrE9VsvBk7ZYhRw==\n"
      "p6:$6$MDEyMzQ1Njc4OWFi$z68GgHFyzhKztJyINZwzKQaJHIx93mptSRnmr5GA68EiXmYXGfpwk92Hk6hmQKfKQLIk4/ECHxYpdMy82nvH+Q==\r\n");
  EXPECT_EQ(file.size(), 2u);
  EXPECT_TRUE(file.knows("p7"));
  EXPECT_TRUE(file.check("p7", "s3cret"));
  EXPECT_FALSE(file.check("p7", "s3cret "));
  EXPECT_FALSE(file.check("p7", ""));
  EXPECT_TRUE(file.check("p6", "s3cret"));
  EXPECT_FALSE(file.check("p6", "S3cret"));
  EXPECT_FALSE(file.check("nobody", "s3cret"));
}

TEST(PasswordFile, ReadsWhatMosquittoPasswdWrote) {
  // mosquitto_passwd -c -b F alice wonderland; mosquitto_passwd -H sha512 -b F bob builder
  const PasswordFile file = load(
      "alice:$7$101$p27KucvElLxGQPMa$lCShGs28CsDvrFX2MnxGLFG+FZNPjaOEB4F17H4+zSl9dWUf+jgp/C+CKoQFLTdGCXQLAxXq9QFPJAGO33KW8A==\n"
      "bob:$6$t9KzHC2pSjLzUaB2$/bqpxA84przdazh9lIBXDC32BqOVlJNxNKN5YTUofvpclM5iMR7uwznvMEHuzg1oGK9jMSmCRDRmlcz31EgokQ==\n");
  EXPECT_TRUE(file.check("alice", "wonderland"));
  EXPECT_TRUE(file.check("bob", "builder"));
  EXPECT_FALSE(file.check("alice", "builder"));
}

TEST(PasswordFile, WritesHashesItReadsBack) {
  const std::string hash = PasswordFile::hash("correct horse");
  ASSERT_TRUE(hash.starts_with("$7$101$")) << hash;
  const PasswordFile file = load("u:" + hash + "\n");
  EXPECT_TRUE(file.check("u", "correct horse"));
  EXPECT_FALSE(file.check("u", "correct horse!"));
  EXPECT_NE(PasswordFile::hash("correct horse"), hash);  // a fresh salt each time
}

TEST(PasswordFile, RefusesBadLines) {
  const char* bad[] = {
      "plain:text",                             // not hashed
      ":$6$MDEyMzQ1Njc4OWFi$AAAA",              // no user
      "u:$6$MDEyMzQ1Njc4OWFi$AAAA",             // hash not 64 bytes
      "u:$7$0$MDEyMzQ1Njc4OWFi$AAAA",           // zero iterations
      "u:$7$x$MDEyMzQ1Njc4OWFi$AAAA",           // not a number
      "u:$7$100001$MDEyMzQ1Njc4OWFi$OQKxdUx545frVVxgdZp9y72EP3JqCqChci/F5JoCP8OI/KUfoywcfFwZXbTebCw8ZV3BSRLMrE9VsvBk7ZYhRw==",
      "u:$5$abc$def",                           // another scheme
      "nocolon",
  };
  for (const char* line : bad) {
    std::string error;
    EXPECT_FALSE(PasswordFile::parse(line, error)) << line;
    EXPECT_TRUE(error.starts_with("1: ")) << error;
  }
  std::string error;
  const std::string twice =
      "u:$6$MDEyMzQ1Njc4OWFi$z68GgHFyzhKztJyINZwzKQaJHIx93mptSRnmr5GA68EiXmYXGfpwk92Hk6hmQKfKQLIk4/ECHxYpdMy82nvH+Q==\n";
  EXPECT_FALSE(PasswordFile::parse(twice + twice, error));
  EXPECT_EQ(error.substr(0, 3), "2: ");
}

}  // namespace
}  // namespace peregrine::auth
