// The layers between a connection's socket and its protocol (DESIGN §4): TLS (wolfSSL),
// then, on WebSocket listeners, the HTTP upgrade and WebSocket framing. Owned by its
// connection, on the shard that owns the connection, and moved with it. Plain TCP
// connections have none, so the MQTT fast path pays nothing for it.
//
// In: socket bytes → TLS records → upgrade request / frames → protocol bytes.
// Out: the protocol writes into app(); once per loop turn encode() turns what it wrote
// into one WebSocket frame (the protocol's shared payloads referenced, not copied) and
// encrypts it, appending to the connection's wire queue. Replies a layer owes on its own
// (TLS handshake, 101 Switching Protocols, Pong, Close) go straight to the wire queue,
// between frames.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "src/http/request_parser.h"
#include "src/net/out_queue.h"
#include "src/net/tls_layer.h"
#include "src/net/websocket_codec.h"

namespace peregrine::net {

class Connection;

// What a listener's connections are wrapped in.
struct TransportConfig {
  const TlsContextSlot* tls = nullptr;  // non-null: TLS first
  bool websocket = false;               // HTTP upgrade, then WebSocket frames
  std::string websocket_path = "/mqtt";
  ws::DecoderLimits websocket_limits;
  http::ParserLimits http_limits;
  const char* alpn = "mqtt";
};

// Transport failures, counted by the host.
enum class TransportEvent : uint8_t {
  kTlsHandshakeFailed,
  kTlsHandshakeTimeout,
  kTlsError,
  kWsUpgradeRefused,
  kWsProtocolError,
  kCount,
};
const char* transport_event_name(TransportEvent event);

// What the layers learned, for the protocol (identity) and later for virtual brokers.
struct TransportFacts {
  bool tls = false;
  bool websocket = false;
  std::string server_name;    // TLS SNI
  std::string alpn;           // negotiated ALPN protocol
  std::string host;           // HTTP Host of the upgrade request
  std::string peer_identity;  // from a verified client certificate (TlsIdentity says which)
};

class TransportStack final : private PlaintextSink, private ws::FrameSink {
 public:
  TransportStack(Connection& connection, const TransportConfig& config);
  ~TransportStack() override;

  // Bytes from the socket.
  void receive(std::span<const uint8_t> bytes);
  // What the protocol writes; encode() moves it to `wire`.
  OutQueue& app() { return _app; }
  void encode(OutQueue& wire);
  // The connection is closing after a flush: a WebSocket Close and a TLS close_notify
  // go out after what is queued.
  void closing(OutQueue& wire);
  // The protocol may talk: every layer is through its handshake.
  bool ready() const { return _stage == Stage::kProtocol || _stage == Stage::kWebSocket; }
  bool handshaking() const { return !ready() && _stage != Stage::kDone; }
  const TransportFacts& facts() const { return _facts; }
  // TLS handshake deadline in ms after accept (0: none).
  uint32_t handshake_timeout_ms() const;
  TlsIdentity tls_identity() const;

 private:
  enum class Stage : uint8_t { kTls, kUpgrade, kWebSocket, kProtocol, kDone };

  bool on_plaintext(std::span<const uint8_t> bytes) override;
  void on_message_data(std::span<const uint8_t> data) override;
  void on_ping(std::span<const uint8_t> payload) override;
  void on_pong(std::span<const uint8_t> payload) override;
  void on_close(uint16_t code, std::string_view reason) override;

  // Bytes above TLS (or from the socket when there is no TLS).
  void above_tls(std::span<const uint8_t> bytes);
  void upgrade(std::span<const uint8_t> bytes);
  void answer_upgrade();
  void refuse_upgrade(int status, const char* why, const char* extra_headers = "");
  void send_close(uint16_t code);
  // Writes below this layer's framing: through TLS when there is TLS.
  void write_down(std::span<const uint8_t> bytes);
  void fail(TransportEvent event, const std::string& why);
  bool live() const;

  Connection& _connection;
  const TransportConfig& _config;
  Stage _stage;
  std::unique_ptr<TlsLayer> _tls;
  std::unique_ptr<http::RequestParser> _request;  // during the upgrade only
  ws::FrameDecoder _frames;
  bool _close_sent = false;
  OutQueue _app;
  TransportFacts _facts;
};

}  // namespace peregrine::net
