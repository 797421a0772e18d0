// The TLS configuration new connections start from: a wolfSSL context built from
// TlsOptions (certificate chain, key, client CA, versions, ciphers, tickets). Built and
// swapped on the main thread only (start-up and SIGHUP); shards read the current one
// when they accept. A replaced context is kept until exit, so a shard that read its
// pointer just before a swap still holds a live one (live connections hold wolfSSL's own
// reference as well); reloads are rare and a context is a few KiB.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "include/peregrine/options.h"

struct WOLFSSL_CTX;

namespace peregrine::net {

enum class ClientAuth : uint8_t { kOff, kOptional, kRequired };
enum class TlsIdentity : uint8_t { kNone, kUsername, kClientId };

class TlsContext {
 public:
  // Loads the files and checks that the key matches the certificate; nullptr and `why`
  // when anything is wrong. Calls wolfSSL_Init() once per process.
  static std::unique_ptr<TlsContext> create(const TlsOptions& options, std::string* why);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  WOLFSSL_CTX* ctx() const { return _ctx; }
  TlsIdentity identity() const { return _identity; }
  bool identity_from_san() const { return _identity_from_san; }
  uint32_t handshake_timeout_ms() const { return _handshake_timeout_ms; }

 private:
  TlsContext() = default;

  WOLFSSL_CTX* _ctx = nullptr;
  TlsIdentity _identity = TlsIdentity::kNone;
  bool _identity_from_san = false;
  uint32_t _handshake_timeout_ms = 10'000;
};

// The current context of the process's TLS listeners.
class TlsContextSlot {
 public:
  TlsContextSlot() = default;
  TlsContextSlot(const TlsContextSlot&) = delete;
  TlsContextSlot& operator=(const TlsContextSlot&) = delete;

  // Any thread: the context for a connection accepted now (nullptr before install()).
  const TlsContext* current() const { return _current.load(std::memory_order_acquire); }
  // Main thread: makes `context` the one new connections use.
  void install(std::unique_ptr<TlsContext> context);

 private:
  std::atomic<const TlsContext*> _current{nullptr};
  std::vector<std::unique_ptr<TlsContext>> _all;  // main thread only; freed at exit
};

// Reads a TlsOptions value that has a fixed set of spellings; false for anything else.
bool parse_client_auth(const std::string& text, ClientAuth* out);
bool parse_tls_identity(const std::string& text, TlsIdentity* out);

}  // namespace peregrine::net
