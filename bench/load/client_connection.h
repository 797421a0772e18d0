// One MQTT client connection of the load generator and its buffers. Owned by exactly one
// LoadWorker thread for the whole run; never freed before the worker's ring is torn down,
// so a completion's user_data can always point at it. At most one recv and one send are
// in flight per connection: bytes staged while a send is in flight wait in `staged`.
// With --transport tls/ws/wss a ClientTransport sits between these buffers and the socket
// (recv lands in its buffer, `wire_flight` holds its wire bytes); plain TCP has none.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bench/load/client_transport.h"
#include "bench/load/sequence_tracker.h"
#include "bench/load/stage_buffer.h"

namespace peregrine::bench {

enum class Role : uint8_t { kPublisher, kSubscriber, kIdle };

enum class ConnState : uint8_t {
  kPending,       // not attempted yet
  kConnecting,    // TCP connect in flight
  kTlsHandshake,  // tls, wss: ClientHello written
  kWsUpgrade,     // ws, wss: upgrade request written
  kAwaitConnack,  // CONNECT written
  kAwaitSuback,   // SUBSCRIBE written
  kReady,         // connected (and subscribed)
  kClosing,       // failed or closed: waiting for its in-flight ops before close(fd)
  kClosed,
};

// Between connect() and CONNACK: counted in a worker's connection attempts in flight.
inline bool awaiting_connack(ConnState s) {
  return s == ConnState::kConnecting || s == ConnState::kTlsHandshake ||
         s == ConnState::kWsUpgrade || s == ConnState::kAwaitConnack;
}

struct Connection {
  Role role = Role::kIdle;
  uint32_t index = 0;      // publisher, subscriber or idle-connection index
  uint32_t global_id = 0;  // unique over the run's processes: client id, source address
  ConnState state = ConnState::kPending;
  bool counted_ready = false;
  int fd = -1;
  int ops_in_flight = 0;
  bool recv_busy = false;
  bool send_busy = false;
  bool dirty = false;  // staged bytes wait for a send
  sockaddr_in peer{};
  uint64_t connect_start_ns = 0;
  uint64_t last_send_ns = 0;

  std::vector<uint8_t> in;
  size_t in_used = 0;
  StageBuffer staged;
  StageBuffer flight;                 // tcp: the staged bytes of the send in flight
  std::vector<uint8_t> wire_flight;   // tls, ws, wss: the wire bytes of the send in flight
  size_t flight_sent = 0;
  std::unique_ptr<ClientTransport> transport;  // null for tcp

  std::span<const uint8_t> flight_bytes() const {
    return transport == nullptr ? flight.bytes() : std::span<const uint8_t>(wire_flight);
  }
  void clear_flight() {
    flight.clear();
    wire_flight.clear();
    flight_sent = 0;
  }

  std::string topic;  // publisher: its publish topic; subscriber: its filter

  // Publisher.
  uint64_t next_sequence = 0;
  uint64_t lag_credit = 0;  // deliveries given up as lost (see --max-lag)
  uint64_t last_delivered = 0;
  uint64_t stalled_since_ns = 0;
  uint64_t next_due_ns = 0;  // fixed rate: not looked at again before this time
  uint32_t unacked = 0;
  uint32_t inflight_limit = 0;  // --inflight, lowered by a v5 CONNACK's Receive Maximum
  uint16_t next_packet_id = 1;
  // The whole PUBLISH of its run traffic (fixed topic, retain flag, payload template),
  // made once; each message rewrites the packet id at publish_id_at (QoS 1/2) and the
  // stamp at publish_payload_at.
  std::vector<uint8_t> publish_image;
  size_t publish_id_at = 0;
  size_t publish_payload_at = 0;
  std::vector<uint64_t> ids_in_use;  // bitmap of 65,536 packet ids, QoS 1/2 only
  uint64_t seed_next = 0;  // retained-storm: next retained topic index to write
  bool ping_out = false;   // retained-storm: PINGREQ written as a processing barrier
  bool phase_work_done = false;

  // Subscriber.
  std::vector<SequenceTracker> streams;  // one per publisher it hears (1 for pairs)
  uint64_t subscribe_sent_ns = 0;
  bool subscribed = false;
};

}  // namespace peregrine::bench
