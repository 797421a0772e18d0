// Micro-benchmarks of the MQTT codec: parse (read_frame + decode) and serialize per packet
// type, and the fan-out path's encode_publish_head. Bytes/s counters use the wire size.
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "src/mqtt/codec.h"

namespace {

using namespace peregrine::mqtt;

constexpr uint32_t kMaxPacket = 1 << 20;

// Payload bytes shared by every benchmark packet (views must outlive the packets).
const uint8_t* payload_bytes() {
  static const std::vector<uint8_t> data(1 << 16, 0x5A);
  return data.data();
}

Publish make_publish(size_t payload_size, uint8_t qos, bool properties) {
  Publish p;
  p.qos = qos;
  p.packet_id = qos == 0 ? 0 : 1234;
  p.topic = "sensors/building-7/floor-3/temperature";
  p.payload = Bytes(payload_bytes(), payload_size);
  if (properties) {
    p.properties.message_expiry_interval = 3600;
    p.properties.content_type = "application/json";
    p.properties.response_topic = "replies/client-42";
    p.properties.correlation_data = as_bytes("req-000123");
    p.properties.user_properties = {{"trace", "abc123"}, {"tenant", "t1"}};
    p.properties.subscription_identifiers = {7};
  }
  return p;
}

Connect make_connect(ProtocolVersion v) {
  Connect c;
  c.version = v;
  c.client_id = "bench-client-000001";
  c.keep_alive = 60;
  c.username = "user";
  c.password = as_bytes("secret");
  c.will.emplace();
  c.will->topic = "clients/bench-client-000001/status";
  c.will->payload = as_bytes("offline");
  if (v == ProtocolVersion::kV5) {
    c.properties.session_expiry_interval = 300;
    c.properties.receive_maximum = 100;
    c.properties.topic_alias_maximum = 10;
  }
  return c;
}

Subscribe make_subscribe() {
  Subscribe s;
  s.packet_id = 10;
  s.subscriptions = {{"sensors/+/floor-3/#", 1}, {"alerts/#", 2}, {"$share/g/jobs/+", 1}};
  return s;
}

Ack make_ack(PacketType type) {
  Ack a;
  a.type = type;
  a.packet_id = 1234;
  return a;
}

std::vector<uint8_t> encoded(ProtocolVersion v, const Packet& p) {
  std::vector<uint8_t> out;
  encode(v, p, out);
  return out;
}

void bm_parse(benchmark::State& state, ProtocolVersion v, Packet packet) {
  const std::vector<uint8_t> bytes = encoded(v, packet);
  Packet out;
  for (auto _ : state) {
    const Frame f = read_frame(Bytes(bytes), kMaxPacket);
    const ReasonCode rc =
        decode(v, f.header, Bytes(bytes).subspan(f.header.header_length), out);
    benchmark::DoNotOptimize(rc);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
}

void bm_serialize(benchmark::State& state, ProtocolVersion v, Packet packet) {
  std::vector<uint8_t> out;
  out.reserve(1 << 17);
  for (auto _ : state) {
    out.clear();
    encode(v, packet, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}

// The broker's path: frame, then decode_publish straight into a reused Publish.
void bm_parse_publish_fast(benchmark::State& state, ProtocolVersion v, Publish publish) {
  const std::vector<uint8_t> bytes = encoded(v, publish);
  Publish out;
  for (auto _ : state) {
    const Frame f = read_frame(Bytes(bytes), kMaxPacket);
    const ReasonCode rc = decode_publish(v, f.header.flags,
                                         Bytes(bytes).subspan(f.header.header_length), out);
    benchmark::DoNotOptimize(rc);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
}

void bm_publish_head(benchmark::State& state, ProtocolVersion v, Publish publish) {
  std::vector<uint8_t> out;
  out.reserve(256);
  const size_t payload_size = publish.payload.size();
  for (auto _ : state) {
    out.clear();
    encode_publish_head(v, publish, payload_size, out);
    benchmark::DoNotOptimize(out.data());
  }
}

void bm_publish_size(benchmark::State& state, ProtocolVersion v, Publish publish) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(publish_size(v, publish, publish.payload.size()));
  }
}

constexpr ProtocolVersion kV311 = ProtocolVersion::kV311;
constexpr ProtocolVersion kV5 = ProtocolVersion::kV5;

BENCHMARK_CAPTURE(bm_parse, connect_v311, kV311, make_connect(kV311));
BENCHMARK_CAPTURE(bm_parse, connect_v5, kV5, make_connect(kV5));
BENCHMARK_CAPTURE(bm_parse, publish_qos0_16b_v311, kV311, make_publish(16, 0, false));
BENCHMARK_CAPTURE(bm_parse, publish_qos0_16b_v5, kV5, make_publish(16, 0, false));
BENCHMARK_CAPTURE(bm_parse, publish_qos0_1k_v311, kV311, make_publish(1024, 0, false));
BENCHMARK_CAPTURE(bm_parse, publish_qos0_1k_v5, kV5, make_publish(1024, 0, false));
BENCHMARK_CAPTURE(bm_parse, publish_qos1_props_v5, kV5, make_publish(64, 1, true));
BENCHMARK_CAPTURE(bm_parse, subscribe_v311, kV311, make_subscribe());
BENCHMARK_CAPTURE(bm_parse, subscribe_v5, kV5, make_subscribe());
BENCHMARK_CAPTURE(bm_parse, puback_v311, kV311, make_ack(PacketType::kPuback));
BENCHMARK_CAPTURE(bm_parse, puback_v5, kV5, make_ack(PacketType::kPuback));
BENCHMARK_CAPTURE(bm_parse, pubrel_v5, kV5, make_ack(PacketType::kPubrel));
BENCHMARK_CAPTURE(bm_parse, pingreq, kV311, Pingreq{});

BENCHMARK_CAPTURE(bm_parse_publish_fast, qos0_16b_v311, kV311, make_publish(16, 0, false));
BENCHMARK_CAPTURE(bm_parse_publish_fast, qos0_16b_v5, kV5, make_publish(16, 0, false));
BENCHMARK_CAPTURE(bm_parse_publish_fast, qos0_1k_v311, kV311, make_publish(1024, 0, false));
BENCHMARK_CAPTURE(bm_parse_publish_fast, qos0_1k_v5, kV5, make_publish(1024, 0, false));
BENCHMARK_CAPTURE(bm_parse_publish_fast, qos1_props_v5, kV5, make_publish(64, 1, true));

BENCHMARK_CAPTURE(bm_serialize, connect_v311, kV311, make_connect(kV311));
BENCHMARK_CAPTURE(bm_serialize, connect_v5, kV5, make_connect(kV5));
BENCHMARK_CAPTURE(bm_serialize, publish_qos0_16b_v311, kV311, make_publish(16, 0, false));
BENCHMARK_CAPTURE(bm_serialize, publish_qos0_16b_v5, kV5, make_publish(16, 0, false));
BENCHMARK_CAPTURE(bm_serialize, publish_qos0_1k_v311, kV311, make_publish(1024, 0, false));
BENCHMARK_CAPTURE(bm_serialize, publish_qos0_1k_v5, kV5, make_publish(1024, 0, false));
BENCHMARK_CAPTURE(bm_serialize, publish_qos1_props_v5, kV5, make_publish(64, 1, true));
BENCHMARK_CAPTURE(bm_serialize, subscribe_v5, kV5, make_subscribe());
BENCHMARK_CAPTURE(bm_serialize, puback_v311, kV311, make_ack(PacketType::kPuback));
BENCHMARK_CAPTURE(bm_serialize, puback_v5, kV5, make_ack(PacketType::kPuback));
BENCHMARK_CAPTURE(bm_serialize, pingreq, kV311, Pingreq{});

BENCHMARK_CAPTURE(bm_publish_head, qos0_v311, kV311, make_publish(1024, 0, false));
BENCHMARK_CAPTURE(bm_publish_head, qos1_v5, kV5, make_publish(1024, 1, false));
BENCHMARK_CAPTURE(bm_publish_head, qos1_props_v5, kV5, make_publish(1024, 1, true));
BENCHMARK_CAPTURE(bm_publish_size, qos1_props_v5, kV5, make_publish(1024, 1, true));

}  // namespace

BENCHMARK_MAIN();
