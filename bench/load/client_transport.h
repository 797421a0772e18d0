// The transport adapter of one connection (tls, ws, wss; plain tcp connections have none):
// it sits between the connection's MQTT buffers (`staged` out, `in` in) and the socket.
// Socket bytes land in recv_buffer(); on_wire() runs them through the TLS session
// (wolfSSL with custom I/O callbacks over these buffers: no socket BIO, no thread, no
// blocking), the 101 check and the WebSocket frame reader, and appends the MQTT bytes to
// the connection's input. send() turns a batch of MQTT bytes into one masked Binary frame
// and/or TLS records in wire_out(), which the worker sends. Owned by its Connection, so by
// one LoadWorker thread; the TlsClientContext outlives it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bench/load/bench_config.h"
#include "bench/load/tls_client_context.h"
#include "bench/load/ws_client_codec.h"

struct WOLFSSL;

namespace peregrine::bench {

class ClientTransport final : private ws::ServerFrameSink {
 public:
  enum class Stage : uint8_t {
    kTlsHandshake,  // ClientHello written, waiting for the broker's flight
    kWsUpgrade,     // upgrade request written, waiting for the 101
    kOpen,          // MQTT bytes flow
    kClosed,        // the broker sent a WebSocket Close or a TLS close_notify
    kFailed,        // see failure()
  };

  // `tls` is non-null exactly for tls and wss. `recv_size` bounds one socket read.
  ClientTransport(const BenchConfig& config, const TlsClientContext* tls, size_t recv_size,
                  uint64_t seed);
  ~ClientTransport() override;
  ClientTransport(const ClientTransport&) = delete;
  ClientTransport& operator=(const ClientTransport&) = delete;

  // The TCP connection is up: writes the ClientHello or the upgrade request.
  Stage start();
  // `n` bytes the socket read into recv_buffer(): advances the handshakes and appends the
  // MQTT bytes they carry to mqtt_in[mqtt_used..] (growing it).
  Stage on_wire(size_t n, std::vector<uint8_t>& mqtt_in, size_t& mqtt_used);
  // Wraps a batch of MQTT bytes into wire_out() (stage kOpen only). False on a TLS error.
  bool send(std::span<const uint8_t> mqtt);

  std::vector<uint8_t>& recv_buffer() { return _wire_in; }
  std::vector<uint8_t>& wire_out() { return _wire_out; }  // bytes owed to the socket
  Stage stage() const { return _stage; }
  const char* failure() const { return _failure.c_str(); }
  const char* tls_version() const;  // "" without TLS
  const char* tls_cipher() const;

 private:
  static int on_io_recv(WOLFSSL* ssl, char* buf, int size, void* self);
  static int on_io_send(WOLFSSL* ssl, char* buf, int size, void* self);

  Stage fail(std::string why);
  Stage fail_tls(const char* what, int ret);
  void begin_upgrade();
  void tls_input(std::span<const uint8_t> ciphertext);
  void plaintext(std::span<const uint8_t> bytes);
  void upgrade_response(std::span<const uint8_t> bytes);
  void write_wire(std::span<const uint8_t> bytes);
  void append_mqtt(std::span<const uint8_t> bytes);
  uint32_t next_random();

  // ws::ServerFrameSink
  void on_data(std::span<const uint8_t> data) override;
  void on_ping(std::span<const uint8_t> payload) override;
  void on_close(uint16_t code) override;

  const BenchConfig& _config;
  const TlsClientContext* _tls;
  const bool _websocket;
  Stage _stage = Stage::kOpen;
  WOLFSSL* _ssl = nullptr;
  std::span<const uint8_t> _tls_in;   // ciphertext being fed, consumed by on_io_recv
  std::vector<uint8_t>* _mqtt_in = nullptr;  // where MQTT bytes go, during on_wire()
  size_t* _mqtt_used = nullptr;
  std::vector<uint8_t> _wire_in;
  std::vector<uint8_t> _wire_out;
  std::vector<uint8_t> _frame;  // wss: a frame before it is encrypted
  std::string _response;        // the 101 head so far (at most ws::kMaxResponseHead)
  std::string _accept;          // the Sec-WebSocket-Accept the 101 must carry
  ws::ServerFrameReader _reader;
  uint64_t _random;  // xorshift64 state: the key and the frame masks
  std::string _failure;
};

}  // namespace peregrine::bench
