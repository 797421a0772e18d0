// A client's connection: the net::Connection (socket, transport layers, send queue,
// moving between shards) that owns the client's MQTT protocol machine (Client) and is its
// ClientSink. It adds what belongs to the transport, not to MQTT: the TLS handshake's own
// deadline. Lives on the shard that holds the connection: the accepting one until
// CONNECT, then the session's; it moves (fd, TLS state, unread bytes, the machine) in a
// Migrate or Rehome mail.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "src/broker/broker_port.h"
#include "src/broker/address_counts.h"
#include "src/broker/client.h"
#include "src/broker/client_sink.h"
#include "src/broker/connection_slots.h"
#include "src/net/connection.h"

namespace peregrine::broker {

class ClientConnection final : public net::Connection, public ClientSink {
 public:
  // `listener`: the index of the listener it came through (its connection slots).
  ClientConnection(BrokerPort* broker, int fd, net::PeerAddress peer,
                   const net::TransportConfig* transport = nullptr,
                   uint16_t listener = ConnectionSlots::kNoListener);

  Client& client() { return _client; }
  const Client& client() const { return _client; }
  // Speaking HTTP with no MQTT session behind it (a page, a health check, a request in
  // the making): nothing a shutdown needs to drain.
  bool speaks_http_only() const {
    return transport() != nullptr && transport()->serving_http() &&
           _client.phase() == Client::Phase::kAwaitConnect;
  }

  // Accepted: the connect and TLS handshake deadlines armed, reading begins.
  void begin();
  // Arrived, before CONNECT was accepted, on the shard its session lives on (or its home).
  void adopt(BrokerPort* broker);
  // Arrived connected, with its session, on the shard the broker moved it to.
  void adopt_rehomed(BrokerPort* broker);

  // ClientSink
  uint64_t connection_id() const override { return id(); }
  std::string peer() const override { return net::Connection::peer(); }
  uint64_t peer_key() const override { return AddressCounts::key_of(peer_address()); }
  void write(std::span<const uint8_t> bytes) override { net::Connection::write(bytes); }
  void write(std::span<const uint8_t> first, std::span<const uint8_t> second) override {
    net::Connection::write(first, second);
  }
  void write_shared(io::SharedBuffer* owner, std::span<const uint8_t> bytes) override {
    net::Connection::write_shared(owner, bytes);
  }
  size_t queued_bytes() const override { return net::Connection::queued_bytes(); }
  bool copies_shared(size_t size) const override {
    return net::Connection::copies_shared(size);
  }
  Bounded write_within(size_t limit, std::span<const uint8_t> head,
                       std::span<const uint8_t> payload, io::SharedBuffer* shared) override;
  bool open() const override { return net::Connection::open(); }
  bool closing() const override { return net::Connection::closing(); }
  void close_after_flush() override { net::Connection::close_after_flush(); }
  void close_now() override { net::Connection::close_now(); }
  void pause_input() override { net::Connection::pause_input(); }
  void resume_input() override { net::Connection::resume_input(); }
  bool input_paused() const override { return net::Connection::input_paused(); }
  void detach() override { net::Connection::detach(); }
  void start() override { net::Connection::start(); }
  void arm_timer(uint64_t deadline_ms) override;
  void cancel_timer() override;
  uint64_t now_ms() const override;
  const std::string& peer_identity() const override;
  net::TlsIdentity tls_identity() const override;
  std::string_view server_name() const override;
  std::string_view http_host() const override;

 private:
  void on_data(std::span<const uint8_t> bytes) override { _client.on_bytes(bytes); }
  void on_transport_closed(int error) override { _client.on_closed(error); }
  void on_upgraded() override { _client.restart_connect_deadline(); }
  void on_timer() override;
  void on_admin(const http::AdminCall& call) override { _client.broker().admin_call(this, call); }
  void on_page(http::OperatorPage page) override { _client.broker().operator_page(this, page); }

  uint64_t _handshake_deadline_ms = 0;  // TLS; 0: none
  Client _client;
};

}  // namespace peregrine::broker
