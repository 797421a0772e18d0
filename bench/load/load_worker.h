// One generator thread: its own io_uring, its own connections (publishers, subscribers or
// idle clients), its own RunStats. It follows the phase the main thread sets in
// RunControl and never touches another worker's data; the only cross-thread writes are
// the relaxed progress counters of RunControl. Bounds: connect attempts in flight
// (--connect-parallel), bytes staged per connection (kMaxStaged: a publisher waits),
// messages per publisher per loop turn (kPublishBatch). With --transport tls/ws/wss each
// connection gets a ClientTransport when its TCP connect completes; plain TCP connections
// have none and pay one null check per recv, send and send completion.
#pragma once

#include <liburing.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/load/client_connection.h"
#include "bench/load/received_publish.h"
#include "bench/load/run_control.h"
#include "bench/load/run_stats.h"
#include "bench/load/tls_client_context.h"
#include "src/mqtt/codec.h"

namespace peregrine::bench {

struct ClientSpec {
  Role role = Role::kIdle;
  uint32_t index = 0;
  uint32_t global_id = 0;
};

class LoadWorker {
 public:
  LoadWorker(RunControl& control, uint32_t worker_id, std::vector<ClientSpec> clients,
             uint32_t source_addresses, double connect_rate);
  ~LoadWorker();
  LoadWorker(const LoadWorker&) = delete;
  LoadWorker& operator=(const LoadWorker&) = delete;

  // The thread body: runs until the phase is kStop. Returns false if the ring failed.
  void run();
  const RunStats& stats() const { return _stats; }

 private:
  static constexpr size_t kMaxStaged = 1 << 20;
  static constexpr uint32_t kPublishBatch = 64;

  bool init_ring();
  bool init_transport();
  void loop_turn(Phase phase, uint64_t now);
  uint64_t wait_timeout_ns(Phase phase, uint64_t now) const;

  // Connections.
  void start_connects(uint64_t now);
  bool start_connect(Connection& c, uint64_t now);
  void check_connect_timeouts(uint64_t now);
  void on_connected(Connection& c, int res, uint64_t now);
  void fail(Connection& c, bool by_broker);
  void note_connect_failure(const char* what, int err);
  void mark_ready(Connection& c);
  void send_pings(uint64_t now);

  // Transports (tls, ws, wss).
  void start_transport(Connection& c);
  bool on_transport_bytes(Connection& c, size_t n);
  void on_transport_open(Connection& c);
  bool take_wire_bytes(Connection& c);
  void mark_dirty(Connection& c) {
    if (!c.dirty) {
      c.dirty = true;
      _dirty.push_back(&c);
    }
  }

  // Ring plumbing.
  io_uring_sqe* get_sqe();
  void arm_recv(Connection& c);
  void flush_sends();
  void dispatch(io_uring_cqe* cqe, uint64_t now);
  void on_recv(Connection& c, int res, uint64_t now);
  void on_send(Connection& c, int res);
  void op_finished(Connection& c);
  void close_all();

  // MQTT.
  void stage(Connection& c, const mqtt::Packet& packet);
  void stage_ack(Connection& c, mqtt::PacketType type, uint16_t packet_id);
  void stage_connect(Connection& c);
  void stage_subscribe(Connection& c, uint64_t now);
  void stage_publish(Connection& c, std::string_view topic, uint64_t sequence, bool retain,
                     uint32_t payload_size, uint64_t now);
  void stage_run_publish(Connection& c, uint64_t now);
  void count_sent(Connection& c, uint64_t now);
  uint16_t take_packet_id(Connection& c);
  void release_packet_id(Connection& c, uint16_t id);
  bool handle_packets(Connection& c, uint64_t now);
  bool handle_packet(Connection& c, const mqtt::FixedHeader& header, mqtt::Bytes body,
                     uint64_t now);
  void on_connack(Connection& c, const mqtt::Connack& connack, uint64_t now);
  void on_suback(Connection& c, const mqtt::Suback& suback);
  void on_publish(Connection& c, const ReceivedPublish& publish, uint64_t now);
  void flush_delivered();
  void on_ack(Connection& c, const mqtt::Ack& ack);
  void on_disconnect(Connection& c, const mqtt::Disconnect& disconnect);

  // Traffic.
  void publish_turn(uint64_t now);
  bool may_publish(Connection& c, uint64_t now);
  void seed_turn(uint64_t now, bool cleanup);
  void subscribe_turn(uint64_t now);
  std::string topic_for(uint64_t index) const;
  std::string wildcard_filter() const;
  std::string run_topic() const;

  RunControl& _control;
  const BenchConfig& _config;
  const uint32_t _id;
  WorkerProgress& _progress;
  std::unique_ptr<TlsClientContext> _tls;  // tls, wss; declared before _conns: outlives them
  uint64_t _transport_seed = 0;
  std::vector<std::unique_ptr<Connection>> _conns;
  std::vector<Connection*> _publishers;
  std::vector<Connection*> _subscribers;
  std::vector<Connection*> _dirty;
  std::vector<uint8_t> _payload_template;
  std::vector<uint8_t> _scratch;  // packets encoded here before they are staged
  // Deliveries counted per publisher since the last flush_delivered() (once per loop
  // turn), so the shared RunControl counters take one atomic add a publisher a turn.
  std::vector<uint32_t> _delivered_pending;
  std::vector<uint32_t> _delivered_touched;
  mqtt::Ack _ack;  // decoded into again and again: no Properties built per acknowledgement
  std::string _client_prefix;
  RunStats _stats;
  io_uring _ring{};
  bool _ring_ready = false;

  // Connection ramp.
  const uint32_t _source_addresses;
  const double _connect_rate;  // per second for this worker; 0 = unlimited
  size_t _next_connect = 0;
  uint32_t _connecting = 0;  // attempts without CONNACK yet
  uint64_t _connect_started_ns = 0;
  bool _stop_connecting = false;
  uint64_t _next_housekeeping_ns = 0;

  Phase _seen_phase = Phase::kConnect;
  bool _lag_blocked = false;      // a publisher waits on another thread's subscribers
  bool _more_to_publish = false;  // a publisher stopped only because its batch was used
  uint64_t _next_due_ns = 0;  // earliest paced publish (fixed rate)
  uint64_t _phase_done = 0;  // cumulative over phases, so the main thread never sees a reset
  uint64_t _ready = 0;
  uint64_t _failed = 0;
};

}  // namespace peregrine::bench
