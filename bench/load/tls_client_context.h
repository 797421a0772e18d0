// The wolfSSL client context of one LoadWorker: the CA to verify the broker with (or no
// verification), the name to expect, the cipher list to offer. Made on the worker's thread
// before its first connection and freed after its last session (Connection objects die
// before the worker's members below them); sessions made from it live in ClientTransport.
#pragma once

#include <memory>
#include <string>

#include "bench/load/bench_config.h"

struct WOLFSSL_CTX;

namespace peregrine::bench {

class TlsClientContext {
 public:
  // nullptr and `why` when the CA file or the cipher list is refused.
  static std::unique_ptr<TlsClientContext> create(const BenchConfig& config, std::string* why);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  // Frees wolfCrypt's per-thread ECC point cache (FP_ECC); call on each thread that made
  // sessions, after its last handshake.
  static void release_thread_caches();

  WOLFSSL_CTX* ctx() const { return _ctx; }
  bool verify() const { return _verify; }
  const std::string& server_name() const { return _server_name; }

 private:
  TlsClientContext() = default;

  WOLFSSL_CTX* _ctx = nullptr;
  bool _verify = false;
  std::string _server_name;
};

}  // namespace peregrine::bench
