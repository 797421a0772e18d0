// What the linked wolfSSL can do on this CPU, and the server cipher order that follows.
// The fast build (subprojects/wolfssl: Debian's source with AES-NI and the Intel
// assembly) picks its AES-NI/AVX code at run time by cpuid; Debian's binary package has
// neither and runs AES-GCM at a small fraction of ChaCha20's already slow speed. So
// AES-GCM leads the server's order only where both the library and the CPU have AES-NI,
// and ChaCha20-Poly1305 (fast in software) leads everywhere else. Pure queries; the
// answers never change in a process.
#pragma once

#include <string>

namespace peregrine::net {

struct TlsLibrary {
  const char* version;  // wolfSSL's, as linked
  bool aesni_built;     // compiled with AES-NI (WOLFSSL_AESNI)
  bool asm_built;       // compiled with the Intel assembly (USE_INTEL_SPEEDUP)
  bool cpu_aesni;       // this CPU has AES-NI and PCLMULQDQ
  bool cpu_avx2;
};

TlsLibrary tls_library();

// AES-GCM runs in hardware here: the library has AES-NI code and the CPU runs it.
bool aes_gcm_in_hardware(const TlsLibrary& library);

// The default server cipher order for `library` (wolfSSL names, TLS 1.3 then 1.2).
const char* default_ciphers(const TlsLibrary& library);

// One line for the start-up log and --version, e.g. "wolfSSL 5.5.4 with AES-NI/assembly
// (CPU: AES-NI, AVX2; AES-GCM first)" or "wolfSSL 5.5.4 without AES-NI/assembly".
std::string describe(const TlsLibrary& library);

}  // namespace peregrine::net
