#include "src/net/tls_layer.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include <algorithm>
#include <cstring>

#include "src/base/assert.h"

namespace peregrine::net {

namespace {

constexpr size_t kPlaintextChunk = 16384;  // one TLS record's worth

thread_local uint8_t t_plaintext[kPlaintextChunk];

// Debian's wolfSSL keeps a fixed-point ECC cache per thread (FP_ECC); a shard thread
// that ran handshakes frees its cache when it ends.
struct EccCacheRelease {
  ~EccCacheRelease() { wc_ecc_fp_free(); }
};
thread_local EccCacheRelease t_ecc_cache_release;

std::string error_text(WOLFSSL* ssl, int ret) {
  const int code = wolfSSL_get_error(ssl, ret);
  char text[WOLFSSL_MAX_ERROR_SZ];
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code), text, sizeof text);
  return text;
}

std::string certificate_identity(WOLFSSL_X509* cert, bool from_san) {
  if (from_san) {
    // The first DNS (or other string) subject alternative name.
    const char* name = wolfSSL_X509_get_next_altname(cert);
    return name != nullptr ? std::string(name) : std::string();
  }
  char cn[256];
  WOLFSSL_X509_NAME* subject = wolfSSL_X509_get_subject_name(cert);
  if (subject == nullptr) {
    return {};
  }
  const int n = wolfSSL_X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof cn);
  return n > 0 ? std::string(cn, static_cast<size_t>(n)) : std::string();
}

}  // namespace

TlsLayer::TlsLayer(const TlsContext& context, const char* alpn, const ServedNames* names)
    : _context(context), _names(names) {
  (void)&t_ecc_cache_release;  // constructed in this thread, so released at its end
  _ssl = wolfSSL_new(context.ctx());
  PG_ASSERT(_ssl != nullptr);
  wolfSSL_set_ex_data(_ssl, 0, this);  // for on_server_name
  wolfSSL_SSLSetIORecv(_ssl, &TlsLayer::on_io_recv);
  wolfSSL_SSLSetIOSend(_ssl, &TlsLayer::on_io_send);
  wolfSSL_SetIOReadCtx(_ssl, this);
  wolfSSL_SetIOWriteCtx(_ssl, this);
  std::string list(alpn);
  // A client that offers none of ours still connects (it may not speak ALPN at all).
  wolfSSL_UseALPN(_ssl, list.data(), static_cast<unsigned>(list.size()),
                  WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
}

TlsLayer::~TlsLayer() { wolfSSL_free(_ssl); }

int TlsLayer::on_server_name(WOLFSSL* ssl, int* alert, void*) {
  const auto* self = static_cast<const TlsLayer*>(wolfSSL_get_ex_data(ssl, 0));
  const char* name = wolfSSL_get_servername(ssl, WOLFSSL_SNI_HOST_NAME);
  if (self == nullptr || self->_names == nullptr || name == nullptr || *name == '\0' ||
      self->_names->serves_name(name)) {
    return 0;  // SSL_TLSEXT_ERR_OK
  }
  *alert = unrecognized_name;  // RFC 6066 §3: a name this server does not serve
  return fatal_return;
}

int TlsLayer::on_io_recv(WOLFSSL*, char* buf, int size, void* self) {
  auto* layer = static_cast<TlsLayer*>(self);
  if (layer->_in.empty()) {
    return WOLFSSL_CBIO_ERR_WANT_READ;
  }
  const size_t n = std::min(layer->_in.size(), static_cast<size_t>(size));
  std::memcpy(buf, layer->_in.data(), n);
  layer->_in = layer->_in.subspan(n);
  return static_cast<int>(n);
}

int TlsLayer::on_io_send(WOLFSSL*, char* buf, int size, void* self) {
  auto* layer = static_cast<TlsLayer*>(self);
  if (layer->_out == nullptr) {
    return WOLFSSL_CBIO_ERR_WANT_WRITE;  // never outside a call that set it
  }
  layer->_out->append_copy(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(size)));
  return size;
}

TlsLayer::Status TlsLayer::fail(int ret) {
  _failed = true;
  _failure = error_text(_ssl, ret);
  return Status::kFailed;
}

TlsLayer::Status TlsLayer::handshake() {
  const int ret = wolfSSL_accept(_ssl);
  if (ret == WOLFSSL_SUCCESS) {
    _established = true;
    note_session_facts();
    return Status::kOk;
  }
  const int error = wolfSSL_get_error(_ssl, ret);
  if (error == WOLFSSL_ERROR_WANT_READ || error == WOLFSSL_ERROR_WANT_WRITE) {
    return Status::kOk;
  }
  return fail(ret);
}

void TlsLayer::note_session_facts() {
  if (const char* name = wolfSSL_get_servername(_ssl, WOLFSSL_SNI_HOST_NAME)) {
    _server_name = name;
  }
  char* protocol = nullptr;
  unsigned short length = 0;
  if (wolfSSL_ALPN_GetProtocol(_ssl, &protocol, &length) == WOLFSSL_SUCCESS &&
      protocol != nullptr) {
    _alpn.assign(protocol, length);
  }
  if (_context.identity() == TlsIdentity::kNone) {
    return;
  }
  // Verification already passed (or, with client_auth optional, no certificate came).
  WOLFSSL_X509* cert = wolfSSL_get_peer_certificate(_ssl);
  if (cert != nullptr) {
    _peer_identity = certificate_identity(cert, _context.identity_from_san());
    wolfSSL_X509_free(cert);
  }
}

TlsLayer::Status TlsLayer::receive(std::span<const uint8_t> ciphertext, PlaintextSink& up,
                                   OutQueue& wire) {
  if (_failed) {
    return Status::kFailed;
  }
  _in = ciphertext;
  _out = &wire;
  Status status = Status::kOk;
  if (!_established) {
    status = handshake();
  }
  while (status == Status::kOk && _established) {
    const int n = wolfSSL_read(_ssl, t_plaintext, static_cast<int>(kPlaintextChunk));
    if (n > 0) {
      if (!up.on_plaintext(std::span<const uint8_t>(t_plaintext, static_cast<size_t>(n)))) {
        break;
      }
      continue;
    }
    const int error = wolfSSL_get_error(_ssl, n);
    if (error == WOLFSSL_ERROR_WANT_READ || error == WOLFSSL_ERROR_WANT_WRITE) {
      break;
    }
    if (error == WOLFSSL_ERROR_ZERO_RETURN) {
      status = Status::kClosed;
      break;
    }
    status = fail(n);
  }
  _in = {};
  _out = nullptr;
  return status;
}

bool TlsLayer::send(std::span<const uint8_t> plaintext, OutQueue& wire) {
  PG_ASSERT(_established);
  if (_failed || _close_sent) {
    return false;
  }
  // Also called between reads of a receive() (a Pong, a Close): its queue stays set.
  OutQueue* const outer = _out;
  _out = &wire;
  bool ok = true;
  while (!plaintext.empty()) {
    const int n = wolfSSL_write(_ssl, plaintext.data(), static_cast<int>(plaintext.size()));
    if (n <= 0) {
      fail(n);
      ok = false;
      break;
    }
    plaintext = plaintext.subspan(static_cast<size_t>(n));
  }
  _out = outer;
  return ok;
}

void TlsLayer::close_notify(OutQueue& wire) {
  if (_close_sent || !_established || _failed) {
    return;
  }
  _close_sent = true;
  OutQueue* const outer = _out;
  _out = &wire;
  wolfSSL_shutdown(_ssl);
  _out = outer;
}

const char* TlsLayer::version() const { return wolfSSL_get_version(_ssl); }

const char* TlsLayer::cipher() const { return wolfSSL_get_cipher_name(_ssl); }

}  // namespace peregrine::net
