#include "src/net/tls_context.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <mutex>

#include "src/base/assert.h"

namespace peregrine::net {

namespace {

// Debian's wolfSSL has no AES-NI: ChaCha20-Poly1305 first, AES-GCM for clients without
// it (DESIGN §8). Server order wins.
constexpr const char* kDefaultCiphers =
    "TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";

std::string wolf_error(int code) {
  char text[WOLFSSL_MAX_ERROR_SZ];
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code), text, sizeof text);
  return text;
}

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] { PG_ASSERT(wolfSSL_Init() == WOLFSSL_SUCCESS); });
}

bool configure(WOLFSSL_CTX* ctx, const TlsOptions& options, std::string* why) {
  const int min = options.min_version == "1.3" ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2;
  if (options.min_version != "1.2" && options.min_version != "1.3") {
    *why = "tls min_version is 1.2 or 1.3";
    return false;
  }
  if (wolfSSL_CTX_SetMinVersion(ctx, min) != WOLFSSL_SUCCESS) {
    *why = "cannot set the minimum TLS version";
    return false;
  }
  int rc = wolfSSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str());
  if (rc != WOLFSSL_SUCCESS) {
    *why = "cannot load certificate chain " + options.cert_file + ": " + wolf_error(rc);
    return false;
  }
  rc = wolfSSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), WOLFSSL_FILETYPE_PEM);
  if (rc != WOLFSSL_SUCCESS) {
    *why = "cannot load private key " + options.key_file + ": " + wolf_error(rc);
    return false;
  }
  if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
    *why = "private key " + options.key_file + " does not match " + options.cert_file;
    return false;
  }
  const std::string ciphers = options.ciphers.empty() ? kDefaultCiphers : options.ciphers;
  if (wolfSSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != WOLFSSL_SUCCESS) {
    *why = "bad cipher list: " + ciphers;
    return false;
  }
  ClientAuth auth = ClientAuth::kOff;
  if (!parse_client_auth(options.client_auth, &auth)) {
    *why = "tls client_auth is off, optional or required";
    return false;
  }
  if (auth != ClientAuth::kOff) {
    if (options.ca_file.empty()) {
      *why = "tls client_auth needs ca_file";
      return false;
    }
    rc = wolfSSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr);
    if (rc != WOLFSSL_SUCCESS) {
      *why = "cannot load CA file " + options.ca_file + ": " + wolf_error(rc);
      return false;
    }
    int mode = WOLFSSL_VERIFY_PEER;
    if (auth == ClientAuth::kRequired) {
      mode |= WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    wolfSSL_CTX_set_verify(ctx, mode, nullptr);
  } else {
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, nullptr);
  }
  // Resumption by stateless tickets only: the session cache is process-wide state
  // behind a lock that every shard would share.
  wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
  if (!options.session_tickets) {
    wolfSSL_CTX_NoTicketTLSv12(ctx);
    wolfSSL_CTX_no_ticket_TLSv13(ctx);
  }
  return true;
}

}  // namespace

bool parse_client_auth(const std::string& text, ClientAuth* out) {
  if (text == "off") {
    *out = ClientAuth::kOff;
  } else if (text == "optional") {
    *out = ClientAuth::kOptional;
  } else if (text == "required") {
    *out = ClientAuth::kRequired;
  } else {
    return false;
  }
  return true;
}

bool parse_tls_identity(const std::string& text, TlsIdentity* out) {
  if (text == "none") {
    *out = TlsIdentity::kNone;
  } else if (text == "username") {
    *out = TlsIdentity::kUsername;
  } else if (text == "client_id") {
    *out = TlsIdentity::kClientId;
  } else {
    return false;
  }
  return true;
}

std::unique_ptr<TlsContext> TlsContext::create(const TlsOptions& options, std::string* why) {
  init_once();
  if (options.cert_file.empty() || options.key_file.empty()) {
    *why = "TLS listeners need tls cert_file and key_file";
    return nullptr;
  }
  std::unique_ptr<TlsContext> context(new TlsContext());
  if (!parse_tls_identity(options.identity, &context->_identity)) {
    *why = "tls identity is none, username or client_id";
    return nullptr;
  }
  if (options.identity_field != "cn" && options.identity_field != "san") {
    *why = "tls identity_field is cn or san";
    return nullptr;
  }
  ClientAuth auth = ClientAuth::kOff;
  if (context->_identity != TlsIdentity::kNone &&
      (!parse_client_auth(options.client_auth, &auth) || auth == ClientAuth::kOff)) {
    *why = "tls identity needs client_auth optional or required";
    return nullptr;
  }
  context->_identity_from_san = options.identity_field == "san";
  context->_handshake_timeout_ms = options.handshake_timeout_ms;
  context->_ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
  if (context->_ctx == nullptr) {
    *why = "wolfSSL_CTX_new failed";
    return nullptr;
  }
  if (!configure(context->_ctx, options, why)) {
    return nullptr;
  }
  return context;
}

TlsContext::~TlsContext() {
  if (_ctx != nullptr) {
    wolfSSL_CTX_free(_ctx);
  }
}

void TlsContextSlot::install(std::unique_ptr<TlsContext> context) {
  _current.store(context.get(), std::memory_order_release);
  _all.push_back(std::move(context));
}

}  // namespace peregrine::net
