// The cipher order and the line the broker logs, for each library and CPU.
#include "src/net/tls_library.h"

#include <gtest/gtest.h>

#include <string>

namespace peregrine::net {
namespace {

std::string first_cipher(const TlsLibrary& library) {
  const std::string list = default_ciphers(library);
  return list.substr(0, list.find(':'));
}

TEST(TlsLibrary, AesGcmLeadsOnlyWhereTheLibraryAndTheCpuBothHaveAesNi) {
  const TlsLibrary fast_here{"5.5.4", true, true, true, true};
  const TlsLibrary fast_old_cpu{"5.5.4", true, true, false, false};
  const TlsLibrary debian{"5.5.4", false, false, true, true};
  EXPECT_EQ(first_cipher(fast_here), "TLS13-AES128-GCM-SHA256");
  EXPECT_EQ(first_cipher(fast_old_cpu), "TLS13-CHACHA20-POLY1305-SHA256");
  EXPECT_EQ(first_cipher(debian), "TLS13-CHACHA20-POLY1305-SHA256");
  // Both orders offer the same suites.
  EXPECT_EQ(std::string(default_ciphers(fast_here)).size(),
            std::string(default_ciphers(debian)).size());
}

TEST(TlsLibrary, TheLineSaysWhichBuildAndWhatTheCpuHas) {
  EXPECT_EQ(describe({"5.5.4", false, false, true, true}),
            "wolfSSL 5.5.4 without AES-NI/assembly");
  EXPECT_EQ(describe({"5.5.4", true, true, true, true}),
            "wolfSSL 5.5.4 with AES-NI/assembly (CPU: AES-NI, AVX2; AES-GCM first)");
  EXPECT_EQ(describe({"5.5.4", true, true, false, false}),
            "wolfSSL 5.5.4 with AES-NI/assembly (CPU: neither AES-NI nor AVX2; "
            "ChaCha20 first)");
}

TEST(TlsLibrary, TheLinkedLibraryIsTheOneThisBuildChose) {
  const TlsLibrary library = tls_library();
  EXPECT_EQ(library.aesni_built, library.asm_built);  // both or neither, by our builds
  EXPECT_FALSE(std::string(library.version).empty());
}

}  // namespace
}  // namespace peregrine::net
