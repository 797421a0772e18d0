// One connection's TLS session (wolfSSL) as a transport layer: ciphertext from the socket
// in, plaintext up; plaintext from above in, records out. wolfSSL's I/O callbacks read
// from the bytes being fed and append to the connection's outbound queue, so there is no
// socket BIO, no blocking and no thread of its own. Lives wherever its connection lives
// (it moves with it between shards); the context it was made from outlives it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "src/net/out_queue.h"
#include "src/net/tls_context.h"

struct WOLFSSL;

namespace peregrine::net {

// Where decrypted bytes go; false stops the layer (the connection is closing).
class PlaintextSink {
 public:
  virtual ~PlaintextSink() = default;
  virtual bool on_plaintext(std::span<const uint8_t> bytes) = 0;
};

// Which names a client may give (TLS SNI, HTTP Host) where the broker refuses those that
// name no virtual broker it serves. Implemented by the connection's host (the shard);
// asked on the shard that owns the connection, during its handshake or request.
class ServedNames {
 public:
  virtual bool serves_name(std::string_view name) const = 0;

 protected:
  ~ServedNames() = default;
};

class TlsLayer {
 public:
  enum class Status : uint8_t {
    kOk,      // more may come
    kClosed,  // the peer sent close_notify
    kFailed,  // a bad record, a failed handshake or verification: see failure()
  };

  // `alpn`: the protocols this listener offers, comma-separated ("mqtt" or "http/1.1").
  // `names`: asked for the SNI a client gives, which ends the handshake with the alert
  // unrecognized_name when it says no (nullptr: every name, or none, is taken).
  TlsLayer(const TlsContext& context, const char* alpn, const ServedNames* names = nullptr);
  ~TlsLayer();
  TlsLayer(const TlsLayer&) = delete;
  TlsLayer& operator=(const TlsLayer&) = delete;

  // Ciphertext from the socket. Handshake messages and alerts wolfSSL writes go to
  // `wire`; application data to `up`.
  Status receive(std::span<const uint8_t> ciphertext, PlaintextSink& up, OutQueue& wire);
  // Encrypts `plaintext` into records appended to `wire` (only once established()).
  bool send(std::span<const uint8_t> plaintext, OutQueue& wire);
  // Appends a close_notify alert (once).
  void close_notify(OutQueue& wire);

  bool established() const { return _established; }
  bool handshake_failed() const { return _failed && !_established; }
  const std::string& failure() const { return _failure; }
  // After the handshake: what the client asked for and proved.
  const std::string& server_name() const { return _server_name; }
  const std::string& alpn() const { return _alpn; }
  const std::string& peer_identity() const { return _peer_identity; }  // "" if none
  const char* version() const;
  const char* cipher() const;
  const TlsContext& context() const { return _context; }

 private:
  static int on_io_recv(WOLFSSL* ssl, char* buf, int size, void* self);
  static int on_io_send(WOLFSSL* ssl, char* buf, int size, void* self);
 public:
  // The context's SNI callback (installed by TlsContext): the layer's ServedNames decide.
  static int on_server_name(WOLFSSL* ssl, int* alert, void* unused);

 private:
  Status handshake();
  Status fail(int ret);
  void note_session_facts();

  const TlsContext& _context;
  const ServedNames* _names;
  WOLFSSL* _ssl = nullptr;
  std::span<const uint8_t> _in;  // ciphertext being fed, consumed by on_io_recv
  OutQueue* _out = nullptr;      // where on_io_send appends, during a call
  bool _established = false;
  bool _failed = false;
  bool _close_sent = false;
  std::string _failure;
  std::string _server_name;
  std::string _alpn;
  std::string _peer_identity;
};

}  // namespace peregrine::net
