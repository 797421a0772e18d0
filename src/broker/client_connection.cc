#include "src/broker/client_connection.h"

#include <unistd.h>

#include <algorithm>

#include "src/base/log.h"
#include "src/broker/shard_mail.h"

namespace peregrine::broker {

namespace {
const std::string kNoIdentity;
}  // namespace

ClientConnection::ClientConnection(BrokerPort* broker, int fd, net::PeerAddress peer,
                                   const net::TransportConfig* transport, uint16_t listener)
    : net::Connection(broker, fd, peer, transport), _client(broker, *this) {
  _client.set_listener(listener);
}

void ClientConnection::begin() {
  if (transport() != nullptr && transport()->handshake_timeout_ms() != 0) {
    _handshake_deadline_ms = host().now_ms() + transport()->handshake_timeout_ms();
  }
  _client.begin();  // arms the connect deadline (arm_timer takes the earlier) and reads
}

void ClientConnection::adopt(BrokerPort* broker) {
  attach(broker);
  _client.adopt(broker);
}

void ClientConnection::adopt_rehomed(BrokerPort* broker) {
  attach(broker);
  _client.adopt_rehomed(broker);
}

ClientSink::Bounded ClientConnection::write_within(size_t limit, std::span<const uint8_t> head,
                                                  std::span<const uint8_t> payload,
                                                  io::SharedBuffer* shared) {
  if (net::Connection::closing()) {
    return Bounded::kClosing;
  }
  if (net::Connection::queued_bytes() + head.size() + payload.size() > limit) {
    return Bounded::kOverLimit;
  }
  if (shared != nullptr) {
    net::Connection::write(head);
    net::Connection::write_shared(shared, payload);
  } else {
    net::Connection::write(head, payload);
  }
  return Bounded::kWritten;
}

void ClientConnection::arm_timer(uint64_t deadline_ms) {
  uint64_t at = deadline_ms;
  if (_handshake_deadline_ms != 0 && _client.awaiting_connect() && transport() != nullptr &&
      transport()->handshaking()) {
    at = std::min(at, _handshake_deadline_ms);  // the TLS handshake's own, shorter one
  }
  host().wheel().arm(*this, at);
}

void ClientConnection::cancel_timer() { host().wheel().cancel(*this); }

uint64_t ClientConnection::now_ms() const {
  return const_cast<ClientConnection*>(this)->host().now_ms();
}

const std::string& ClientConnection::peer_identity() const {
  return transport() != nullptr ? transport()->facts().peer_identity : kNoIdentity;
}

net::TlsIdentity ClientConnection::tls_identity() const {
  return transport() != nullptr ? transport()->tls_identity() : net::TlsIdentity::kNone;
}

std::string_view ClientConnection::server_name() const {
  return transport() != nullptr ? std::string_view(transport()->facts().server_name)
                                : std::string_view();
}

std::string_view ClientConnection::http_host() const {
  return transport() != nullptr ? std::string_view(transport()->facts().host)
                                : std::string_view();
}

void ClientConnection::on_timer() {
  if (closing()) {
    close_now();  // the linger after a goodbye ran out
    return;
  }
  if (_client.awaiting_connect() && transport() != nullptr && transport()->serving_http()) {
    // HTTP: the bridge's request and idle timeouts answer (408) or close it; the MQTT
    // connect deadline starts at a WebSocket upgrade (Client::restart_connect_deadline).
    return;
  }
  if (_client.awaiting_connect() && _handshake_deadline_ms != 0 &&
      host().now_ms() < _client.connect_deadline_ms()) {
    if (transport()->handshaking()) {
      transport_timeout();
    } else {
      host().wheel().arm(*this, _client.connect_deadline_ms());
    }
    return;
  }
  _client.on_timer();
}

// Never handled (the shards stopped): the connection closes, and a session that
// travelled with it has nobody else to own it.
void mail::Migrate::discard() const {
  ::close(connection->fd());
  connection->set_fd(-1);
  delete connection;
}

void mail::Rehome::discard() const {
  Session* session = connection->client().session();
  ::close(connection->fd());
  connection->set_fd(-1);
  delete connection;
  if (session != nullptr) {
    session->detach();
    delete session;
  }
}

}  // namespace peregrine::broker
