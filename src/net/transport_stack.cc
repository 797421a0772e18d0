#include "src/net/transport_stack.h"

#include <cstring>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/http/status.h"
#include "src/net/connection.h"

namespace peregrine::net {

namespace {

constexpr size_t kTlsChunk = 16384;  // plaintext per wolfSSL_write: one full record

// Plaintext gathered from the protocol's pieces on its way into TLS records.
thread_local uint8_t t_tls_chunk[kTlsChunk];

// The subprotocol to answer with: MQTT's registered name, or the 3.1 era's (§6 of
// MQTT 3.1.1 and 5.0); "" when the client offered neither.
std::string_view pick_subprotocol(const http::Request& request) {
  if (request.header_has_token("sec-websocket-protocol", "mqtt")) {
    return "mqtt";
  }
  if (request.header_has_token("sec-websocket-protocol", "mqttv3.1")) {
    return "mqttv3.1";
  }
  return {};
}

}  // namespace

const char* transport_event_name(TransportEvent event) {
  switch (event) {
    case TransportEvent::kTlsHandshakeFailed: return "tls_handshake_failed";
    case TransportEvent::kTlsHandshakeTimeout: return "tls_handshake_timeout";
    case TransportEvent::kTlsError: return "tls_error";
    case TransportEvent::kWsUpgradeRefused: return "ws_upgrade_refused";
    case TransportEvent::kWsProtocolError: return "ws_protocol_error";
    case TransportEvent::kHttpRefused: return "http_refused";
    case TransportEvent::kCount: break;
  }
  return "?";
}

TransportStack::TransportStack(Connection& connection, const TransportConfig& config)
    : _connection(connection), _config(config), _frames(config.websocket_limits) {
  if (config.tls != nullptr) {
    const TlsContext* context = config.tls->current();
    PG_ASSERT(context != nullptr);
    // An SNI naming no virtual broker ends the handshake (when the broker refuses those)
    // on a listener of MQTT clients; one that also serves the operator's pages and the
    // admin API answers by Host instead, so an operator's name still reaches them.
    const bool serves_pages = config.http && config.bridge.serve_api;
    const ServedNames* names =
        config.bound_to_broker || serves_pages ? nullptr : connection.host().served_names();
    _tls = std::make_unique<TlsLayer>(*context, config.alpn, names);
    _facts.tls = true;
    _stage = Stage::kTls;
  } else {
    _stage = config.http ? Stage::kHttp : Stage::kProtocol;
  }
  if (config.http) {
    _bridge = std::make_unique<http::HttpBridge>(config.bridge,
                                                 static_cast<http::BridgeSink&>(*this));
  }
}

TransportStack::~TransportStack() = default;

uint32_t TransportStack::handshake_timeout_ms() const {
  return _tls ? _tls->context().handshake_timeout_ms() : 0;
}

TlsIdentity TransportStack::tls_identity() const {
  return _tls ? _tls->context().identity() : TlsIdentity::kNone;
}

// Input keeps flowing while the connection moves to another shard (the protocol buffers
// it for the move); it stops once the connection closes or a layer failed.
bool TransportStack::live() const { return !_connection.closing() && _stage != Stage::kDone; }

void TransportStack::receive(std::span<const uint8_t> bytes) {
  if (!_tls) {
    above_tls(bytes);
    return;
  }
  OutQueue& wire = _connection.wire();
  const bool was_established = _tls->established();
  const TlsLayer::Status status = _tls->receive(bytes, *this, wire);
  if (wire.has_pending()) {
    _connection.stack_wrote();
  } else {
    _connection.release_out_if_idle();  // idle TLS connections hold no send queue
  }
  if (!was_established && _tls->established()) {
    note_established();  // if no application data came with the handshake's end
    PG_DEBUG("tls from %s: %s %s sni=%s alpn=%s", _connection.peer().c_str(), _tls->version(),
             _tls->cipher(), _tls->server_name().c_str(), _tls->alpn().c_str());
  }
  if (status == TlsLayer::Status::kFailed) {
    fail(_tls->handshake_failed() ? TransportEvent::kTlsHandshakeFailed
                                  : TransportEvent::kTlsError,
         _tls->failure());
  } else if (status == TlsLayer::Status::kClosed && live()) {
    _connection.stack_finished();
  }
}

void TransportStack::note_established() {
  if (_stage == Stage::kTls) {
    _facts.server_name = _tls->server_name();
    _facts.alpn = _tls->alpn();
    _facts.peer_identity = _tls->peer_identity();
    _stage = _config.http ? Stage::kHttp : Stage::kProtocol;
  }
}

bool TransportStack::on_plaintext(std::span<const uint8_t> bytes) {
  note_established();
  above_tls(bytes);
  return live();
}

void TransportStack::above_tls(std::span<const uint8_t> bytes) {
  switch (_stage) {
    case Stage::kProtocol:
      _connection.stack_deliver(bytes);
      return;
    case Stage::kHttp:
      http_input(bytes);
      return;
    case Stage::kWebSocket: {
      const ws::DecodeError error = _frames.feed(bytes, *this);
      if (error.close_code != 0 && live()) {
        send_close(error.close_code);
        fail(TransportEvent::kWsProtocolError, error.why);
      }
      return;
    }
    case Stage::kTls:
    case Stage::kDone:
      return;
  }
}

void TransportStack::http_input(std::span<const uint8_t> bytes) {
  std::span<const uint8_t> rest;
  _in_bridge = true;
  const bool upgrade = _bridge->on_client_bytes(bytes, &rest);
  _in_bridge = false;
  after_bridge(upgrade, rest);
}

void TransportStack::resume_held_request() {
  if (!_bridge || _in_bridge || _stage != Stage::kHttp) {
    return;
  }
  std::span<const uint8_t> rest;
  _in_bridge = true;
  const bool upgrade = _bridge->resume(&rest);
  _in_bridge = false;
  after_bridge(upgrade, rest);
}

void TransportStack::after_bridge(bool upgrade, std::span<const uint8_t> rest) {
  if (!upgrade || !live()) {
    return;
  }
  // Frames that came right behind the request; copied, the bridge goes away.
  std::vector<uint8_t> after(rest.begin(), rest.end());
  if (answer_upgrade(*_bridge->upgrade_request())) {
    _connection._host->wheel().cancel(_timer);
    _timer.wanted_ms = 0;
    _bridge.reset();
    _connection.on_upgraded();
    if (!after.empty()) {
      above_tls(after);
    }
  }
}

bool TransportStack::answer_upgrade(const http::Request& request) {
  if (request.method != "GET") {
    refuse_upgrade(405, "upgrade needs GET", "Allow: GET\r\n");
    return false;
  }
  if (request.minor_version < 1 || request.header("host") == nullptr ||
      !request.header_has_token("upgrade", "websocket") ||
      !request.header_has_token("connection", "upgrade")) {
    refuse_upgrade(400, "not a WebSocket upgrade");  // RFC 6455 §4.2.1
    return false;
  }
  const std::string* version = request.header("sec-websocket-version");
  if (version == nullptr || *version != "13") {
    refuse_upgrade(426, "unsupported WebSocket version", "Sec-WebSocket-Version: 13\r\n");
    return false;
  }
  const std::string* key = request.header("sec-websocket-key");
  if (key == nullptr || !ws::valid_client_key(*key)) {
    refuse_upgrade(400, "bad Sec-WebSocket-Key");
    return false;
  }
  if (!serves_host(*request.header("host"))) {
    refuse_upgrade(421, "no virtual broker for this Host");  // RFC 9110 §15.5.20
    return false;
  }
  const std::string_view subprotocol = pick_subprotocol(request);
  if (subprotocol.empty() && request.header("sec-websocket-protocol") != nullptr) {
    refuse_upgrade(400, "no MQTT subprotocol offered");
    return false;
  }
  std::string response =
      http::status_line(101) + "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Accept: " + ws::accept_key(*key) + "\r\n";
  if (!subprotocol.empty()) {
    response += "Sec-WebSocket-Protocol: " + std::string(subprotocol) + "\r\n";
  }
  response += "\r\n";
  _facts.websocket = true;
  _facts.host = *request.header("host");
  _stage = Stage::kWebSocket;
  write_down(http::text_bytes(response));
  return true;
}

void TransportStack::refuse_upgrade(int status, const char* why, const char* extra_headers) {
  std::string response = http::status_line(status) + extra_headers +
                         "Connection: close\r\nContent-Length: 0\r\n\r\n";
  write_down(http::text_bytes(response));
  fail(TransportEvent::kWsUpgradeRefused, why != nullptr ? why : "bad request");
}

void TransportStack::on_message_data(std::span<const uint8_t> data) {
  if (live()) {
    _connection.stack_deliver(data);
  }
}

void TransportStack::on_ping(std::span<const uint8_t> payload) {
  if (!live()) {
    return;
  }
  uint8_t header[ws::kMaxHeaderSize];
  const size_t n = ws::encode_header(ws::Opcode::kPong, payload.size(), header);
  write_down({header, n});
  write_down(payload);
}

void TransportStack::on_pong(std::span<const uint8_t>) {}

void TransportStack::on_close(uint16_t code, std::string_view) {
  if (!live()) {
    return;
  }
  // Echo the status (§5.5.1); a Close without one is answered with a plain Close.
  send_close(code == 1005 ? 0 : code);
  _connection.stack_finished();
}

void TransportStack::send_close(uint16_t code) {
  if (_close_sent || _stage != Stage::kWebSocket) {
    return;
  }
  _close_sent = true;
  uint8_t frame[ws::kMaxHeaderSize + 2];
  const size_t n = ws::encode_header(ws::Opcode::kClose, code == 0 ? 0 : 2, frame);
  size_t length = n;
  if (code != 0) {
    frame[n] = static_cast<uint8_t>(code >> 8);
    frame[n + 1] = static_cast<uint8_t>(code);
    length += 2;
  }
  write_down({frame, length});
}

void TransportStack::write_down(std::span<const uint8_t> bytes) {
  OutQueue& wire = _connection.wire();
  if (_tls) {
    if (!_tls->established() || !_tls->send(bytes, wire)) {
      return;
    }
  } else {
    wire.append_copy(bytes);
  }
  _connection.stack_wrote();
}

void TransportStack::encode(OutQueue& wire) {
  if (_bridge) {
    // The MQTT layer's answers to the bridge's synthetic packets. Taken out first: the
    // bridge may feed the protocol, which writes to app() again (next turn's output).
    if (_in_bridge || !_app.has_pending()) {
      return;
    }
    OutQueue taken;
    _app.move_pending_to(taken);
    _in_bridge = true;
    taken.drain_pending(
        [&](std::span<const uint8_t> piece) { _bridge->on_protocol_bytes(piece); });
    _in_bridge = false;
    return;
  }
  if (!ready() || !_app.has_pending() || _close_sent) {
    return;
  }

  uint8_t header[ws::kMaxHeaderSize];
  size_t header_size = 0;
  if (_stage == Stage::kWebSocket) {
    // One Binary frame for all the protocol wrote this turn.
    header_size = ws::encode_header(ws::Opcode::kBinary, _app.pending_bytes(), header);
  }
  if (!_tls) {
    wire.mark_packet_start();  // a frame starts: a drain may cut there
    wire.append_copy({header, header_size});
    _app.move_pending_to(wire);
    return;
  }
  size_t used = header_size;
  std::memcpy(t_tls_chunk, header, header_size);
  bool ok = true;
  _app.drain_pending([&](std::span<const uint8_t> piece) {
    while (ok && !piece.empty()) {
      const size_t take = std::min(piece.size(), kTlsChunk - used);
      std::memcpy(t_tls_chunk + used, piece.data(), take);
      used += take;
      piece = piece.subspan(take);
      if (used == kTlsChunk) {
        ok = _tls->send({t_tls_chunk, used}, wire);
        used = 0;
      }
    }
  });
  if (ok && used > 0) {
    ok = _tls->send({t_tls_chunk, used}, wire);
  }
  if (!ok) {
    fail(TransportEvent::kTlsError, _tls->failure());
  }
}

void TransportStack::closing(OutQueue& wire) {
  encode(wire);
  send_close(ws::kCloseNormal);
  if (_tls) {
    _tls->close_notify(wire);
  }
}

void TransportStack::to_client(std::span<const uint8_t> bytes) { write_down(bytes); }

bool TransportStack::serves_host(std::string_view host) const {
  if (_config.bound_to_broker) {
    return true;
  }
  const ServedNames* names = _connection.host().served_names();
  return names == nullptr || names->serves_name(host);
}

void TransportStack::to_protocol(std::span<const uint8_t> bytes) {
  if (live()) {
    _connection.stack_deliver(bytes);
  }
}

void TransportStack::finish() {
  if (!_connection.closing()) {
    _connection.stack_finished();
  }
}

void TransportStack::arm(uint64_t deadline_ms) {
  io::TimerWheel& wheel = _connection._host->wheel();
  _timer.wanted_ms = deadline_ms;
  if (deadline_ms == 0) {
    wheel.cancel(_timer);
  } else {
    wheel.arm(_timer, deadline_ms);
  }
}

uint64_t TransportStack::now_ms() const { return _connection._host->now_ms(); }

void TransportStack::refused(int status, const char* why) {
  _connection._host->count_transport_event(_config.bridge.serve_api
                                               ? TransportEvent::kHttpRefused
                                               : TransportEvent::kWsUpgradeRefused);
  PG_DEBUG("http from %s refused with %d: %s", _connection.peer().c_str(), status, why);
}

void TransportStack::admin(const http::AdminCall& call) { _connection.stack_admin(call); }

http::Readiness TransportStack::readiness() const { return _connection.stack_readiness(); }

void TransportStack::page(http::OperatorPage page) { _connection.stack_page(page); }

void TransportStack::answer_page(int status, std::string_view content_type,
                                 std::string_view body) {
  if (_bridge && !_in_bridge && !_connection.closing()) {
    _in_bridge = true;
    _bridge->page_answer(status, content_type, body);
    _in_bridge = false;
  }
}

void TransportStack::answer_admin(int status, std::string_view json_body) {
  if (_bridge && !_in_bridge && !_connection.closing()) {
    _in_bridge = true;
    _bridge->admin_answer(status, json_body);
    _in_bridge = false;
  }
}

void TransportStack::BridgeTimer::on_timer() {
  wanted_ms = 0;
  if (_stack._bridge && !_stack._in_bridge && !_stack._connection.closing()) {
    _stack._in_bridge = true;
    _stack._bridge->on_timer();
    _stack._in_bridge = false;
  }
}

void TransportStack::stop_timers(io::TimerWheel& wheel) { wheel.cancel(_timer); }

void TransportStack::resume_timers(io::TimerWheel& wheel) {
  if (_timer.wanted_ms != 0) {
    wheel.arm(_timer, _timer.wanted_ms);
  }
}

void TransportStack::fail(TransportEvent event, const std::string& why) {
  if (_stage == Stage::kDone) {
    return;
  }
  _stage = Stage::kDone;
  _connection.stack_failed(event, why);
}

}  // namespace peregrine::net
