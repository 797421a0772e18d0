#include "src/net/transport_stack.h"

#include <cstring>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/net/connection.h"

namespace peregrine::net {

namespace {

constexpr size_t kTlsChunk = 16384;  // plaintext per wolfSSL_write: one full record

// Plaintext gathered from the protocol's pieces on its way into TLS records.
thread_local uint8_t t_tls_chunk[kTlsChunk];

std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

const char* status_text(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

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
    case TransportEvent::kCount: break;
  }
  return "?";
}

TransportStack::TransportStack(Connection& connection, const TransportConfig& config)
    : _connection(connection), _config(config), _frames(config.websocket_limits) {
  if (config.tls != nullptr) {
    const TlsContext* context = config.tls->current();
    PG_ASSERT(context != nullptr);
    _tls = std::make_unique<TlsLayer>(*context, config.alpn);
    _facts.tls = true;
    _stage = Stage::kTls;
  } else {
    _stage = config.websocket ? Stage::kUpgrade : Stage::kProtocol;
  }
  if (config.websocket) {
    _request = std::make_unique<http::RequestParser>(config.http_limits);
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
  }
  if (!was_established && _tls->established()) {
    // Facts are complete once the handshake is; above_tls() ran for any early data
    // only after this, since wolfSSL_read follows wolfSSL_accept.
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

bool TransportStack::on_plaintext(std::span<const uint8_t> bytes) {
  if (_stage == Stage::kTls) {
    _facts.server_name = _tls->server_name();
    _facts.alpn = _tls->alpn();
    _facts.peer_identity = _tls->peer_identity();
    _stage = _config.websocket ? Stage::kUpgrade : Stage::kProtocol;
  }
  above_tls(bytes);
  return live();
}

void TransportStack::above_tls(std::span<const uint8_t> bytes) {
  switch (_stage) {
    case Stage::kProtocol:
      _connection.stack_deliver(bytes);
      return;
    case Stage::kUpgrade:
      upgrade(bytes);
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

void TransportStack::upgrade(std::span<const uint8_t> bytes) {
  const http::ParseResult result = _request->feed(bytes);
  if (result.status == http::ParseStatus::kNeedMore) {
    return;
  }
  if (result.status == http::ParseStatus::kError) {
    refuse_upgrade(result.http_status, result.why);
    return;
  }
  answer_upgrade();
  if (_stage == Stage::kWebSocket && result.consumed < bytes.size()) {
    above_tls(bytes.subspan(result.consumed));  // frames sent right after the request
  }
}

void TransportStack::answer_upgrade() {
  const http::Request& request = _request->request();
  if (request.path != _config.websocket_path) {
    return refuse_upgrade(404, "not the WebSocket path");
  }
  if (request.method != "GET") {
    return refuse_upgrade(405, "upgrade needs GET", "Allow: GET\r\n");
  }
  if (request.minor_version < 1 || request.header("host") == nullptr ||
      !request.header_has_token("upgrade", "websocket") ||
      !request.header_has_token("connection", "upgrade")) {
    return refuse_upgrade(400, "not a WebSocket upgrade");  // RFC 6455 §4.2.1
  }
  const std::string* version = request.header("sec-websocket-version");
  if (version == nullptr || *version != "13") {
    return refuse_upgrade(426, "unsupported WebSocket version", "Sec-WebSocket-Version: 13\r\n");
  }
  const std::string* key = request.header("sec-websocket-key");
  if (key == nullptr || !ws::valid_client_key(*key)) {
    return refuse_upgrade(400, "bad Sec-WebSocket-Key");
  }
  const std::string_view subprotocol = pick_subprotocol(request);
  if (subprotocol.empty() && request.header("sec-websocket-protocol") != nullptr) {
    return refuse_upgrade(400, "no MQTT subprotocol offered");
  }
  std::string response =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " + ws::accept_key(*key) + "\r\n";
  if (!subprotocol.empty()) {
    response += "Sec-WebSocket-Protocol: " + std::string(subprotocol) + "\r\n";
  }
  response += "\r\n";
  _facts.websocket = true;
  _facts.host = *request.header("host");
  _request.reset();
  _stage = Stage::kWebSocket;
  write_down(as_bytes(response));
}

void TransportStack::refuse_upgrade(int status, const char* why, const char* extra_headers) {
  std::string response = "HTTP/1.1 " + std::to_string(status) + " " + status_text(status) +
                         "\r\n" + extra_headers +
                         "Connection: close\r\nContent-Length: 0\r\n\r\n";
  write_down(as_bytes(response));
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

void TransportStack::fail(TransportEvent event, const std::string& why) {
  if (_stage == Stage::kDone) {
    return;
  }
  _stage = Stage::kDone;
  _connection.stack_failed(event, why);
}

}  // namespace peregrine::net
