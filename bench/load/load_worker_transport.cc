// LoadWorker, the transport half (--transport tls, ws, wss): each connection's
// ClientTransport between its MQTT buffers and the socket, and the connection states it
// adds before CONNECT (kTlsHandshake, kWsUpgrade). The connect latency (connect() issued
// → CONNACK read) therefore includes the TLS handshake and the WebSocket upgrade.
#include <cstdio>
#include <random>

#include "bench/load/load_worker.h"
#include "src/base/assert.h"

namespace peregrine::bench {
namespace {

constexpr size_t kIdleWireBuffer = 4096;
constexpr size_t kActiveWireBuffer = 64 * 1024;

}  // namespace

bool LoadWorker::init_transport() {
  if (_config.transport == Transport::kTcp) {
    return true;
  }
  _transport_seed = (uint64_t{std::random_device{}()} << 32) ^ (uint64_t{_id} << 48) ^
                    std::random_device{}();
  if (!uses_tls(_config.transport)) {
    return true;
  }
  std::string why;
  _tls = TlsClientContext::create(_config, &why);
  if (_tls == nullptr) {
    char reason[160];
    std::snprintf(reason, sizeof(reason), "TLS client setup: %s", why.c_str());
    _control.abort(Verdict::kError, reason);
    return false;
  }
  return true;
}

void LoadWorker::start_transport(Connection& c) {
  const size_t recv_size = c.role == Role::kIdle ? kIdleWireBuffer : kActiveWireBuffer;
  c.transport = std::make_unique<ClientTransport>(_config, _tls.get(), recv_size,
                                                  _transport_seed + c.global_id * 0x9E3779B9ULL);
  const ClientTransport::Stage stage = c.transport->start();
  if (stage == ClientTransport::Stage::kFailed) {
    note_connect_failure(c.transport->failure(), 0);
    _stats.connect_refused++;
    fail(c, false);
    return;
  }
  c.state = stage == ClientTransport::Stage::kTlsHandshake ? ConnState::kTlsHandshake
                                                           : ConnState::kWsUpgrade;
  mark_dirty(c);
}

bool LoadWorker::on_transport_bytes(Connection& c, size_t n) {
  ClientTransport& t = *c.transport;
  const ClientTransport::Stage stage = t.on_wire(n, c.in, c.in_used);
  if (stage == ClientTransport::Stage::kFailed || stage == ClientTransport::Stage::kClosed) {
    if (awaiting_connack(c.state)) {
      note_connect_failure(t.failure(), 0);
      _stats.connect_refused++;
      fail(c, false);
    } else {
      // The first reason wins: this one says more than fail()'s "closed a connection".
      char why[160];
      std::snprintf(why, sizeof(why), "%s", t.failure());
      if (_config.mode != RunMode::kConnections) {
        _control.abort(Verdict::kError, why);
      }
      fail(c, true);
    }
    return false;
  }
  if (stage == ClientTransport::Stage::kOpen &&
      (c.state == ConnState::kTlsHandshake || c.state == ConnState::kWsUpgrade)) {
    on_transport_open(c);
  } else if (stage == ClientTransport::Stage::kWsUpgrade) {
    c.state = ConnState::kWsUpgrade;
  }
  if (!t.wire_out().empty()) {
    mark_dirty(c);  // handshake messages, the upgrade request, a Pong
  }
  return true;
}

void LoadWorker::on_transport_open(Connection& c) {
  if (_stats.tls_cipher[0] == '\0' && uses_tls(_config.transport)) {
    std::snprintf(_stats.tls_version, sizeof(_stats.tls_version), "%s",
                  c.transport->tls_version());
    std::snprintf(_stats.tls_cipher, sizeof(_stats.tls_cipher), "%s",
                  c.transport->tls_cipher());
  }
  c.state = ConnState::kAwaitConnack;
  stage_connect(c);
}

bool LoadWorker::take_wire_bytes(Connection& c) {
  ClientTransport& t = *c.transport;
  PG_ASSERT(!c.send_busy && c.wire_flight.empty());
  if (!c.staged.empty() && t.stage() == ClientTransport::Stage::kOpen) {
    // One send batch → one masked Binary frame (ws, wss) → TLS records (tls, wss).
    if (!t.send(c.staged.bytes())) {
      char why[160];
      std::snprintf(why, sizeof(why), "%s", t.failure());
      _control.abort(Verdict::kError, why);
      fail(c, false);
      return false;
    }
    c.staged.clear();
  }
  if (t.wire_out().empty()) {
    return false;
  }
  std::swap(c.wire_flight, t.wire_out());  // wire_flight is empty: no send is in flight
  return true;
}

}  // namespace peregrine::bench
