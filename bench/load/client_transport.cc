#include "bench/load/client_transport.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "src/base/assert.h"

namespace peregrine::bench {
namespace {

constexpr size_t kPlaintextChunk = 16384;  // one TLS record's worth
// A batch larger than this goes out as several frames: the broker bounds a frame by its
// maximum packet size plus 64 KiB, and a publisher may stage a little over kMaxStaged.
constexpr size_t kMaxFramePayload = 256 * 1024;

// wss: decrypted bytes on their way to the frame reader; used only within on_wire().
thread_local uint8_t t_plaintext[kPlaintextChunk];

std::span<const uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

bool would_block(int error) {
  return error == WOLFSSL_ERROR_WANT_READ || error == WOLFSSL_ERROR_WANT_WRITE;
}

}  // namespace

ClientTransport::ClientTransport(const BenchConfig& config, const TlsClientContext* tls,
                                 size_t recv_size, uint64_t seed)
    : _config(config),
      _tls(tls),
      _websocket(uses_websocket(config.transport)),
      _wire_in(recv_size),
      _random(seed | 1) {
  if (_tls == nullptr) {
    return;
  }
  _ssl = wolfSSL_new(_tls->ctx());
  if (_ssl == nullptr) {
    fail("wolfSSL_new failed");
    return;
  }
  wolfSSL_SSLSetIORecv(_ssl, &ClientTransport::on_io_recv);
  wolfSSL_SSLSetIOSend(_ssl, &ClientTransport::on_io_send);
  wolfSSL_SetIOReadCtx(_ssl, this);
  wolfSSL_SetIOWriteCtx(_ssl, this);
  const std::string& name = _tls->server_name();
  wolfSSL_UseSNI(_ssl, WOLFSSL_SNI_HOST_NAME, name.data(), static_cast<uint16_t>(name.size()));
  if (_tls->verify()) {
    wolfSSL_check_domain_name(_ssl, name.c_str());
  }
}

ClientTransport::~ClientTransport() {
  if (_ssl != nullptr) {
    wolfSSL_free(_ssl);
  }
}

int ClientTransport::on_io_recv(WOLFSSL*, char* buf, int size, void* self) {
  auto* t = static_cast<ClientTransport*>(self);
  if (t->_tls_in.empty()) {
    return WOLFSSL_CBIO_ERR_WANT_READ;
  }
  const size_t n = std::min(t->_tls_in.size(), static_cast<size_t>(size));
  std::memcpy(buf, t->_tls_in.data(), n);
  t->_tls_in = t->_tls_in.subspan(n);
  return static_cast<int>(n);
}

int ClientTransport::on_io_send(WOLFSSL*, char* buf, int size, void* self) {
  auto* t = static_cast<ClientTransport*>(self);
  const auto* p = reinterpret_cast<const uint8_t*>(buf);
  t->_wire_out.insert(t->_wire_out.end(), p, p + size);
  return size;
}

ClientTransport::Stage ClientTransport::fail(std::string why) {
  if (_stage != Stage::kFailed) {
    _failure = std::move(why);
    _stage = Stage::kFailed;
  }
  return _stage;
}

ClientTransport::Stage ClientTransport::fail_tls(const char* what, int ret) {
  char text[WOLFSSL_MAX_ERROR_SZ];
  const int code = wolfSSL_get_error(_ssl, ret);
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code), text, sizeof text);
  return fail(std::string(what) + ": " + text);
}

ClientTransport::Stage ClientTransport::start() {
  if (_stage == Stage::kFailed) {
    return _stage;
  }
  if (_ssl == nullptr) {
    begin_upgrade();
    return _stage;
  }
  _stage = Stage::kTlsHandshake;
  const int ret = wolfSSL_connect(_ssl);  // writes the ClientHello, then wants to read
  if (ret != WOLFSSL_SUCCESS && !would_block(wolfSSL_get_error(_ssl, ret))) {
    fail_tls("TLS handshake", ret);
  }
  return _stage;
}

void ClientTransport::begin_upgrade() {
  _stage = Stage::kWsUpgrade;
  const uint64_t a = (uint64_t{next_random()} << 32) | next_random();
  const uint64_t b = (uint64_t{next_random()} << 32) | next_random();
  const std::string key = ws::client_key(a, b);
  _accept = ws::expected_accept(key);
  const std::string host = _config.host + ":" + std::to_string(_config.port);
  write_wire(bytes_of(ws::upgrade_request(host, _config.ws_path, key)));
}

ClientTransport::Stage ClientTransport::on_wire(size_t n, std::vector<uint8_t>& mqtt_in,
                                                size_t& mqtt_used) {
  PG_ASSERT(n <= _wire_in.size() && mqtt_used <= mqtt_in.size());
  _mqtt_in = &mqtt_in;
  _mqtt_used = &mqtt_used;
  const std::span<const uint8_t> wire(_wire_in.data(), n);
  if (_ssl != nullptr) {
    tls_input(wire);
  } else {
    plaintext(wire);
  }
  _mqtt_in = nullptr;
  _mqtt_used = nullptr;
  return _stage;
}

void ClientTransport::tls_input(std::span<const uint8_t> ciphertext) {
  _tls_in = ciphertext;
  if (_stage == Stage::kTlsHandshake) {
    const int ret = wolfSSL_connect(_ssl);
    if (ret == WOLFSSL_SUCCESS) {
      if (_websocket) {
        begin_upgrade();
      } else {
        _stage = Stage::kOpen;
      }
    } else if (!would_block(wolfSSL_get_error(_ssl, ret))) {
      fail_tls("TLS handshake", ret);
    }
  }
  while (_stage == Stage::kOpen || _stage == Stage::kWsUpgrade) {
    // tls: decrypt straight into the MQTT input; wss: into scratch, then the frame reader.
    uint8_t* into = t_plaintext;
    size_t room = kPlaintextChunk;
    if (!_websocket) {
      std::vector<uint8_t>& in = *_mqtt_in;
      if (in.size() == *_mqtt_used) {
        in.resize(std::max<size_t>(in.size() * 2, 256));
      }
      into = in.data() + *_mqtt_used;
      room = std::min<size_t>(in.size() - *_mqtt_used, INT_MAX);
    }
    const int n = wolfSSL_read(_ssl, into, static_cast<int>(room));
    if (n > 0) {
      if (_websocket) {
        plaintext(std::span<const uint8_t>(into, static_cast<size_t>(n)));
      } else {
        *_mqtt_used += static_cast<size_t>(n);
      }
      continue;
    }
    const int error = wolfSSL_get_error(_ssl, n);
    if (would_block(error)) {
      break;
    }
    if (error == WOLFSSL_ERROR_ZERO_RETURN) {
      _failure = "the broker sent TLS close_notify";
      _stage = Stage::kClosed;
      break;
    }
    fail_tls("TLS read", n);
  }
  _tls_in = {};
}

void ClientTransport::plaintext(std::span<const uint8_t> bytes) {
  if (_stage == Stage::kWsUpgrade) {
    upgrade_response(bytes);
    return;
  }
  if (_stage != Stage::kOpen) {
    return;
  }
  if (!_websocket) {
    append_mqtt(bytes);
    return;
  }
  if (const char* why = _reader.feed(bytes, *this)) {
    fail(why);
  }
}

void ClientTransport::upgrade_response(std::span<const uint8_t> bytes) {
  const size_t before = _response.size();
  _response.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const size_t end = _response.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
  if (end == std::string::npos) {
    if (_response.size() > ws::kMaxResponseHead) {
      fail("the upgrade response head is longer than 8 KiB");
    }
    return;
  }
  const size_t head = end + 4;
  if (const char* why = ws::check_upgrade_response(std::string_view(_response).substr(0, head),
                                                   _accept)) {
    fail(std::string("WebSocket upgrade: ") + why + " (" +
         _response.substr(0, std::min(_response.find("\r\n"), size_t{80})) + ")");
    return;
  }
  _stage = Stage::kOpen;
  const std::span<const uint8_t> frames = bytes.subspan(head - before);
  _response.clear();
  _response.shrink_to_fit();
  _accept.clear();
  if (!frames.empty()) {
    plaintext(frames);  // the broker does not speak first, but nothing forbids it
  }
}

void ClientTransport::append_mqtt(std::span<const uint8_t> bytes) {
  std::vector<uint8_t>& in = *_mqtt_in;
  size_t& used = *_mqtt_used;
  if (in.size() - used < bytes.size()) {
    in.resize(std::max(in.size() * 2, used + bytes.size()));
  }
  std::memcpy(in.data() + used, bytes.data(), bytes.size());
  used += bytes.size();
}

void ClientTransport::write_wire(std::span<const uint8_t> bytes) {
  if (_ssl == nullptr) {
    _wire_out.insert(_wire_out.end(), bytes.begin(), bytes.end());
    return;
  }
  // Records go to _wire_out through on_io_send, which always takes everything.
  while (!bytes.empty()) {
    const int n = wolfSSL_write(_ssl, bytes.data(),
                                static_cast<int>(std::min<size_t>(bytes.size(), INT_MAX)));
    if (n <= 0) {
      fail_tls("TLS write", n);
      return;
    }
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
}

bool ClientTransport::send(std::span<const uint8_t> mqtt) {
  PG_ASSERT(_stage == Stage::kOpen);  // MQTT is staged only after the handshakes
  if (!_websocket) {
    write_wire(mqtt);
    return _stage == Stage::kOpen;
  }
  while (!mqtt.empty() && _stage == Stage::kOpen) {
    const size_t take = std::min(mqtt.size(), kMaxFramePayload);
    if (_ssl == nullptr) {
      ws::append_masked_frame(ws::Opcode::kBinary, mqtt.first(take), next_random(), _wire_out);
    } else {
      _frame.clear();
      ws::append_masked_frame(ws::Opcode::kBinary, mqtt.first(take), next_random(), _frame);
      write_wire(_frame);
    }
    mqtt = mqtt.subspan(take);
  }
  return _stage == Stage::kOpen;
}

void ClientTransport::on_data(std::span<const uint8_t> data) { append_mqtt(data); }

void ClientTransport::on_ping(std::span<const uint8_t> payload) {
  // A Pong echoes the Ping's payload (RFC 6455 §5.5.3), masked like every client frame.
  std::vector<uint8_t> pong;
  ws::append_masked_frame(ws::Opcode::kPong, payload, next_random(), pong);
  write_wire(pong);
}

void ClientTransport::on_close(uint16_t code) {
  _failure = "the broker sent WebSocket Close " + std::to_string(code);
  _stage = Stage::kClosed;
}

uint32_t ClientTransport::next_random() {
  // xorshift64*: masks need no more than to vary (the broker is on loopback, RFC 6455
  // §10.3's cache-poisoning concern does not arise).
  _random ^= _random >> 12;
  _random ^= _random << 25;
  _random ^= _random >> 27;
  return static_cast<uint32_t>((_random * 0x2545F4914F6CDD1DULL) >> 32);
}

const char* ClientTransport::tls_version() const {
  return _ssl != nullptr ? wolfSSL_get_version(_ssl) : "";
}

const char* ClientTransport::tls_cipher() const {
  return _ssl != nullptr ? wolfSSL_get_cipher_name(_ssl) : "";
}

}  // namespace peregrine::bench
