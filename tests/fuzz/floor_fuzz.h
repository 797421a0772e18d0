// What the protocol-handler fuzz targets share: the real broker floor (tests/sim) on one
// thread, raw connections fed the fuzzer's bytes in pieces, and the checks that hold for
// any input — the broker writes only well-formed MQTT frames (decodable ones, where the
// connection's version is known), never crashes or trips an assertion, and shuts down
// cleanly with every connection and message freed (LeakSanitizer).
// The input's first byte chooses the floor: bit 0 the protocol version of the prefix
// connection (3.1.1 or 5), bit 1 one or two shards, bits 2-3 which shard accepts, bits
// 4-7 how the floor cuts reads and writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "src/auth/scram_sha256.h"
#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/mqtt/codec.h"
#include "tests/sim/sim_client.h"
#include "tests/sim/sim_floor.h"

namespace peregrine::fuzz {

// One SCRAM user ("user" / "pw"), derived once: a derivation per input would be most of
// the run.
inline const auth::ScramSha256& scram() {
  static const auth::ScramSha256* method = [] {
    auto* m = new auth::ScramSha256();
    m->add_user("user", auth::ScramSha256::derive("pw", {1, 2, 3, 4, 5, 6, 7, 8}, 64));
    return m;
  }();
  return *method;
}

class FuzzFloor {
 public:
  // Inputs past this are not worth the run's time: a session's worth of packets fits.
  static constexpr size_t kMaxInput = 8192;
  static bool accepts(size_t size) { return size >= 1 && size <= kMaxInput; }

  explicit FuzzFloor(uint8_t options) : _options(options) {
    base::set_log_level(base::LogLevel::kOff);
    sim::FloorOptions floor;
    floor.shards = (options & 2) != 0 ? 2 : 1;
    floor.stall = 0;
    floor.quiet_logs = false;  // the target turns logging off
    floor.faults.short_read = (options >> 4) * 6;
    floor.faults.short_write = (options >> 4) * 3;
    floor.faults.delay = (options >> 4) * 2;
    floor.broker.limits.max_packet_size = 4096;  // large payloads cost the fuzzer time
    floor.broker.limits.connect_timeout_ms = 500;
    // The per-client limits in play (client_limits.h), loose enough that the targets'
    // well-behaved clients stay within them: the fuzzed bytes meet each refusal.
    floor.broker.limits.max_client_id_length = 32;
    floor.broker.limits.max_username_length = 64;
    floor.broker.limits.max_password_length = 512;
    floor.broker.limits.max_topic_length = 200;
    floor.broker.limits.max_topic_depth = 6;
    floor.broker.limits.min_keep_alive = 5;
    floor.broker.limits.max_packets_per_second = 100'000;
    floor.broker.limits.packet_burst = 400;
    floor.broker.limits.max_subscribers_per_filter = 4;  // SUBSCRIBEs park on two shards
    floor.broker.auth_methods.push_back(&scram());
    _floor = std::make_unique<sim::SimFloor>(options, floor);
  }
  ~FuzzFloor() {
    run(200);
    _floor->stop();
    check_output();
  }

  sim::SimFloor& floor() { return *_floor; }
  // A well-behaved client, connected on `shard` and given time to get its CONNACK.
  std::unique_ptr<sim::SimClient> client(const std::string& id, mqtt::ProtocolVersion version,
                                         uint16_t shard, bool clean, uint32_t expiry_s = 0) {
    auto c = std::make_unique<sim::SimClient>(*_floor, id, version);
    c->connect(shard, clean, expiry_s);
    run(20);
    c->poll();
    return c;
  }
  mqtt::ProtocolVersion version() const {
    return (_options & 1) != 0 ? mqtt::ProtocolVersion::kV5 : mqtt::ProtocolVersion::kV311;
  }
  uint16_t accepting_shard() const {
    return static_cast<uint16_t>(((_options >> 2) & 3) % _floor->shards());
  }

  // A raw connection; `known`: the version its output is decoded with (else only framed).
  sim::SimPipe* open(bool known) {
    sim::SimPipe* pipe = _floor->connect(accepting_shard());
    _raw.push_back({pipe, known, {}});
    return pipe;
  }
  // The connection's first packets as a well-behaved client sends them.
  void send_connect(sim::SimPipe* pipe, const std::string& client_id) {
    mqtt::Connect connect;
    connect.version = version();
    connect.clean_start = false;
    connect.client_id = client_id;
    if (version() == mqtt::ProtocolVersion::kV5) {
      connect.properties.session_expiry_interval = 60;
      connect.properties.topic_alias_maximum = 4;
      connect.properties.receive_maximum = 2;
    }
    std::vector<uint8_t> out;
    mqtt::encode(version(), connect, out);
    pipe->to_broker.append(reinterpret_cast<const char*>(out.data()), out.size());
  }
  void feed(sim::SimPipe* pipe, std::span<const uint8_t> bytes) {
    pipe->to_broker.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  // Steps the floor, reading every raw connection's output as it comes.
  void run(uint32_t steps) {
    for (uint32_t i = 0; i < steps; ++i) {
      _floor->step(7);  // time moves: connect timeouts and keep alives fire
      collect();
    }
  }

 private:
  struct Raw {
    sim::SimPipe* pipe;
    bool known;
    std::string out;
  };
  void collect() {
    for (Raw& raw : _raw) {
      raw.out.append(raw.pipe->to_client);
      raw.pipe->to_client.clear();
    }
  }
  void check_output() {
    collect();
    for (const Raw& raw : _raw) {
      mqtt::Bytes rest(reinterpret_cast<const uint8_t*>(raw.out.data()), raw.out.size());
      while (!rest.empty()) {
        const mqtt::Frame frame = mqtt::read_frame(rest, 1u << 28);
        PG_ASSERT_MSG(frame.status != mqtt::FrameStatus::kMalformed, "a malformed frame out");
        if (frame.status == mqtt::FrameStatus::kNeedMore) {
          break;  // cut by the stop
        }
        if (raw.known) {
          mqtt::Packet packet;
          const mqtt::ReasonCode rc =
              mqtt::decode(version(), frame.header,
                           rest.subspan(frame.header.header_length,
                                        frame.header.remaining_length),
                           packet);
          PG_ASSERT_MSG(rc == mqtt::ReasonCode::kSuccess, "an undecodable packet out");
        }
        rest = rest.subspan(frame.header.total_length());
      }
    }
  }

  uint8_t _options;
  std::unique_ptr<sim::SimFloor> _floor;
  std::vector<Raw> _raw;
};

// Feeds `bytes` to `pipe` in pieces of up to `piece`, stepping between them.
inline void trickle(FuzzFloor& f, sim::SimPipe* pipe, std::span<const uint8_t> bytes,
                    size_t piece) {
  while (!bytes.empty()) {
    const size_t n = std::min(piece, bytes.size());
    f.feed(pipe, bytes.first(n));
    bytes = bytes.subspan(n);
    f.run(2);
  }
}

}  // namespace peregrine::fuzz
