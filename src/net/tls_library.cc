#include "src/net/tls_library.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

namespace peregrine::net {

namespace {

constexpr const char* kAesFirst =
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kChachaFirst =
    "TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";

}  // namespace

TlsLibrary tls_library() {
  TlsLibrary library{};
  library.version = wolfSSL_lib_version();
#if defined(WOLFSSL_AESNI)
  library.aesni_built = true;
#endif
#if defined(USE_INTEL_SPEEDUP)
  library.asm_built = true;
#endif
#if defined(__x86_64__) || defined(__i386__)
  // AES-GCM in hardware takes both: AES-NI for the cipher, carry-less multiply for GHASH.
  library.cpu_aesni = __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
  library.cpu_avx2 = __builtin_cpu_supports("avx2");
#endif
  return library;
}

bool aes_gcm_in_hardware(const TlsLibrary& library) {
  return library.aesni_built && library.cpu_aesni;
}

const char* default_ciphers(const TlsLibrary& library) {
  return aes_gcm_in_hardware(library) ? kAesFirst : kChachaFirst;
}

std::string describe(const TlsLibrary& library) {
  std::string out = std::string("wolfSSL ") + library.version;
  if (!library.aesni_built && !library.asm_built) {
    return out + " without AES-NI/assembly";
  }
  out += library.asm_built ? " with AES-NI/assembly" : " with AES-NI";
  std::string cpu;
  if (library.cpu_aesni) {
    cpu = "AES-NI";
  }
  if (library.cpu_avx2) {
    cpu += cpu.empty() ? "AVX2" : ", AVX2";
  }
  out += " (CPU: " + (cpu.empty() ? std::string("neither AES-NI nor AVX2") : cpu) + "; ";
  out += aes_gcm_in_hardware(library) ? "AES-GCM first)" : "ChaCha20 first)";
  return out;
}

}  // namespace peregrine::net
