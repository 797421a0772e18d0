// The layers between a connection's socket and its protocol (DESIGN §4): TLS (wolfSSL),
// then, on WebSocket and HTTP listeners, HTTP/1.1 (the HttpBridge: upgrade, SSE, POST,
// health) and, after an upgrade, WebSocket framing. Owned by its
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

#include "src/http/http_bridge.h"
#include "src/io/timer_wheel.h"
#include "src/net/out_queue.h"
#include "src/net/tls_layer.h"
#include "src/net/websocket_codec.h"

namespace peregrine::net {

class Connection;

// What a listener's connections are wrapped in.
struct TransportConfig {
  const TlsContextSlot* tls = nullptr;  // non-null: TLS first
  bool http = false;                    // HTTP first (ws, wss, http, https listeners)
  http::BridgeConfig bridge;            // its routes and limits; bridge.websocket_path
  ws::DecoderLimits websocket_limits;
  const char* alpn = "mqtt";
  // The listener gives every connection one virtual broker (`?broker=`): no name a
  // client gives is refused here.
  bool bound_to_broker = false;
};

// Transport failures, counted by the host.
enum class TransportEvent : uint8_t {
  kTlsHandshakeFailed,
  kTlsHandshakeTimeout,
  kTlsError,
  kWsUpgradeRefused,
  kWsProtocolError,
  kHttpRefused,
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

class TransportStack final : private PlaintextSink,
                             private ws::FrameSink,
                             private http::BridgeSink {
 public:
  TransportStack(Connection& connection, const TransportConfig& config);
  ~TransportStack() override;

  // Bytes from the socket.
  void receive(std::span<const uint8_t> bytes);
  // What the protocol writes; encode() moves it to `wire`.
  OutQueue& app() { return _app; }
  const OutQueue& app() const { return _app; }
  void encode(OutQueue& wire);
  // The connection is closing after a flush: a WebSocket Close and a TLS close_notify
  // go out after what is queued.
  void closing(OutQueue& wire);
  // Stopping: drops what is queued and not yet taken by a send, at packet (or frame)
  // boundaries, so that the goodbye written next goes first. Under TLS only what is not
  // yet encrypted: records carry sequence numbers, none may go missing. Returns the bytes.
  size_t drop_unsent(OutQueue& wire) {
    return _app.drop_pending() + (_tls ? 0 : wire.drop_pending());
  }
  // Whether the wire's in-flight bytes may be cut at a frame mark (not under TLS).
  bool wire_cuttable() const { return !_tls; }
  // The protocol may talk: every layer is through its handshake.
  bool ready() const { return _stage == Stage::kProtocol || _stage == Stage::kWebSocket; }
  bool handshaking() const { return !ready() && _stage != Stage::kDone; }
  // Speaking HTTP (an HTTP listener's requests, or before a WebSocket upgrade): the
  // bridge's own request and idle timeouts govern the connection.
  bool serving_http() const { return _stage == Stage::kHttp; }
  const TransportFacts& facts() const { return _facts; }
  // TLS handshake deadline in ms after accept (0: none).
  uint32_t handshake_timeout_ms() const;
  TlsIdentity tls_identity() const;
  // The broker's answer to the admin call this connection's HTTP front made.
  void answer_admin(int status, std::string_view json_body);
  void answer_page(int status, std::string_view content_type, std::string_view body);
  // The broker became ready: the request the bridge held goes on.
  void resume_held_request();
  // The connection leaves its shard's wheel (a move, or the end) and joins another.
  void stop_timers(io::TimerWheel& wheel);
  void resume_timers(io::TimerWheel& wheel);

 private:
  enum class Stage : uint8_t { kTls, kHttp, kWebSocket, kProtocol, kDone };

  // The bridge's one timer, on the wheel of the shard that owns the connection.
  class BridgeTimer final : public io::Timer {
   public:
    explicit BridgeTimer(TransportStack& stack) : _stack(stack) {}
    void on_timer() override;
    uint64_t wanted_ms = 0;  // kept across a move between shards

   private:
    TransportStack& _stack;
  };

  bool on_plaintext(std::span<const uint8_t> bytes) override;
  void on_message_data(std::span<const uint8_t> data) override;
  void on_ping(std::span<const uint8_t> payload) override;
  void on_pong(std::span<const uint8_t> payload) override;
  void on_close(uint16_t code, std::string_view reason) override;
  void to_client(std::span<const uint8_t> bytes) override;
  void to_protocol(std::span<const uint8_t> bytes) override;
  void session_host(std::string_view host) override { _facts.host = host; }
  bool serves_host(std::string_view host) const override;
  void finish() override;
  void arm(uint64_t deadline_ms) override;
  uint64_t now_ms() const override;
  void refused(int status, const char* why) override;
  void admin(const http::AdminCall& call) override;
  http::Readiness readiness() const override;
  void page(http::OperatorPage page) override;

  // Bytes above TLS (or from the socket when there is no TLS).
  void above_tls(std::span<const uint8_t> bytes);
  // The TLS handshake is done: its facts are taken and the next layer starts.
  void note_established();
  void http_input(std::span<const uint8_t> bytes);
  // After a bridge call that may have ended in a WebSocket upgrade (`rest`: what follows).
  void after_bridge(bool upgrade, std::span<const uint8_t> rest);
  bool answer_upgrade(const http::Request& request);
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
  std::unique_ptr<http::HttpBridge> _bridge;  // HTTP listeners: until an upgrade
  BridgeTimer _timer{*this};
  bool _in_bridge = false;  // a bridge call is on the stack (no re-entry)
  ws::FrameDecoder _frames;
  bool _close_sent = false;
  OutQueue _app;
  TransportFacts _facts;
};

}  // namespace peregrine::net
