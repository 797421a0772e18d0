#include "src/net/tls_context.h"
#include "src/net/tls_layer.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <mutex>
#include <string>

#include "src/base/assert.h"
#include "src/net/tls_library.h"

namespace peregrine::net {

namespace {

// wolfSSL's loaders return WOLFSSL_FAILURE (0) or a negative code; 0 would print "ok".
std::string wolf_error(int code) {
  if (code == WOLFSSL_FAILURE) {
    return "not PEM, or not what was expected";
  }
  char text[WOLFSSL_MAX_ERROR_SZ];
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code), text, sizeof text);
  return text;
}

// A file the process cannot read gets the system's reason, not a parser's.
bool readable(const std::string& path, const char* what, std::string* why) {
  if (::access(path.c_str(), R_OK) != 0) {
    *why = std::string("cannot read ") + what + " " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] { PG_ASSERT(wolfSSL_Init() == WOLFSSL_SUCCESS); });
}

// Two ends of an in-memory TLS connection for the start-up self-check.
struct MemoryEnd {
  std::string* in;
  std::string* out;
};

int memory_recv(WOLFSSL*, char* buf, int size, void* end) {
  auto* e = static_cast<MemoryEnd*>(end);
  if (e->in->empty()) {
    return WOLFSSL_CBIO_ERR_WANT_READ;
  }
  const int n = std::min<int>(size, static_cast<int>(e->in->size()));
  std::memcpy(buf, e->in->data(), static_cast<size_t>(n));
  e->in->erase(0, static_cast<size_t>(n));
  return n;
}

int memory_send(WOLFSSL*, char* buf, int size, void* end) {
  static_cast<MemoryEnd*>(end)->out->append(buf, static_cast<size_t>(size));
  return size;
}

// Debian's wolfSSL 5.5.4 reports success from wolfSSL_CTX_check_private_key for an EC key
// that does not belong to the certificate. A handshake with ourselves proves the pair: the
// client checks the server's signature against the certificate's public key.
bool handshake_with_self(WOLFSSL_CTX* server_ctx, std::string* why) {
  WOLFSSL_CTX* client_ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
  PG_ASSERT(client_ctx != nullptr);
  wolfSSL_CTX_set_verify(client_ctx, WOLFSSL_VERIFY_NONE, nullptr);
  WOLFSSL* server = wolfSSL_new(server_ctx);
  WOLFSSL* client = wolfSSL_new(client_ctx);
  PG_ASSERT(server != nullptr);
  PG_ASSERT(client != nullptr);
  wolfSSL_set_verify(server, WOLFSSL_VERIFY_NONE, nullptr);  // no client certificate here
  std::string to_server;
  std::string to_client;
  MemoryEnd server_end{&to_server, &to_client};
  MemoryEnd client_end{&to_client, &to_server};
  for (WOLFSSL* ssl : {server, client}) {
    wolfSSL_SSLSetIORecv(ssl, memory_recv);
    wolfSSL_SSLSetIOSend(ssl, memory_send);
  }
  wolfSSL_SetIOReadCtx(server, &server_end);
  wolfSSL_SetIOWriteCtx(server, &server_end);
  wolfSSL_SetIOReadCtx(client, &client_end);
  wolfSSL_SetIOWriteCtx(client, &client_end);
  int client_rc = 0;
  int server_rc = 0;
  for (int round = 0; round < 8 && !(client_rc == WOLFSSL_SUCCESS && server_rc == WOLFSSL_SUCCESS);
       ++round) {
    client_rc = wolfSSL_connect(client);
    server_rc = wolfSSL_accept(server);
  }
  const bool ok = client_rc == WOLFSSL_SUCCESS && server_rc == WOLFSSL_SUCCESS;
  if (!ok) {
    *why = "the private key does not match the certificate (a test handshake failed: " +
           wolf_error(wolfSSL_get_error(client, client_rc)) + ")";
  }
  wolfSSL_free(client);
  wolfSSL_free(server);
  wolfSSL_CTX_free(client_ctx);
  wc_ecc_fp_free();  // this thread's fixed-point ECC cache (FP_ECC), as the shards do
  return ok;
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
  if (!readable(options.cert_file, "certificate chain", why) ||
      !readable(options.key_file, "private key", why) ||
      (!options.ca_file.empty() && !readable(options.ca_file, "CA file", why))) {
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
  // Server order wins: the cipher this machine runs fastest first (tls_library.h).
  const std::string ciphers =
      options.ciphers.empty() ? default_ciphers(tls_library()) : options.ciphers;
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
  // Each connection's layer decides on the SNI it is given (virtual brokers).
  wolfSSL_CTX_set_servername_callback(context->_ctx, &TlsLayer::on_server_name);
  if (!configure(context->_ctx, options, why) || !handshake_with_self(context->_ctx, why)) {
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
