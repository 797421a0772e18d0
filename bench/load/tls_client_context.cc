#include "bench/load/tls_client_context.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <mutex>

namespace peregrine::bench {
namespace {

// wolfSSL's loaders return WOLFSSL_FAILURE (0) or a negative error code; only the latter
// has a text of its own (0 reads "ok").
std::string wolf_error(int rc) {
  if (rc >= 0) {
    return "missing, unreadable or not PEM";
  }
  char text[WOLFSSL_MAX_ERROR_SZ];
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(rc), text, sizeof text);
  return text;
}

}  // namespace

std::unique_ptr<TlsClientContext> TlsClientContext::create(const BenchConfig& config,
                                                           std::string* why) {
  static std::once_flag once;
  std::call_once(once, [] { wolfSSL_Init(); });
  std::unique_ptr<TlsClientContext> context(new TlsClientContext());
  // TLS 1.2 or 1.3, whichever the broker's side agrees to (1.3 with Peregrine).
  context->_ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
  if (context->_ctx == nullptr) {
    *why = "wolfSSL_CTX_new failed";
    return nullptr;
  }
  context->_server_name = config.tls_server_name;
  context->_verify = !config.ca_file.empty();
  if (context->_verify) {
    const int rc = wolfSSL_CTX_load_verify_locations(context->_ctx, config.ca_file.c_str(),
                                                     nullptr);
    if (rc != WOLFSSL_SUCCESS) {
      *why = "cannot load CA file " + config.ca_file + ": " + wolf_error(rc);
      return nullptr;
    }
    wolfSSL_CTX_set_verify(context->_ctx, WOLFSSL_VERIFY_PEER, nullptr);
  } else {
    wolfSSL_CTX_set_verify(context->_ctx, WOLFSSL_VERIFY_NONE, nullptr);
  }
  if (!config.tls_ciphers.empty() &&
      wolfSSL_CTX_set_cipher_list(context->_ctx, config.tls_ciphers.c_str()) !=
          WOLFSSL_SUCCESS) {
    *why = "wolfSSL refuses the cipher list " + config.tls_ciphers;
    return nullptr;
  }
  return context;
}

void TlsClientContext::release_thread_caches() {
#ifdef FP_ECC
  wc_ecc_fp_free();
#endif
}

TlsClientContext::~TlsClientContext() {
  if (_ctx != nullptr) {
    wolfSSL_CTX_free(_ctx);
  }
}

}  // namespace peregrine::bench
