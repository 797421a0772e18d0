#include "bench/load/received_publish.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace peregrine::bench {
namespace {

using mqtt::ProtocolVersion;

constexpr ProtocolVersion kVersions[] = {ProtocolVersion::kV31, ProtocolVersion::kV311,
                                         ProtocolVersion::kV5};

// The body and flags of `publish` as the codec encodes it.
struct Encoded {
  uint8_t flags = 0;
  std::vector<uint8_t> body;
};

Encoded encode(ProtocolVersion v, const mqtt::Publish& publish) {
  std::vector<uint8_t> wire;
  mqtt::encode(v, publish, wire);
  const mqtt::Frame frame = mqtt::read_frame(wire, 1 << 20);
  EXPECT_EQ(frame.status, mqtt::FrameStatus::kComplete);
  Encoded out;
  out.flags = frame.header.flags;
  out.body.assign(wire.begin() + frame.header.header_length, wire.end());
  return out;
}

TEST(ReadPublish, AgreesWithTheCodecOnEveryVersionAndQos) {
  const std::string payload_text = "0123456789abcdefghijklmnopqrstuvwxyz";
  const std::vector<uint8_t> payload(payload_text.begin(), payload_text.end());
  const std::string content = "text/plain";
  for (ProtocolVersion v : kVersions) {
    for (uint8_t qos = 0; qos <= 2; ++qos) {
      for (bool with_props : {false, true}) {
        mqtt::Publish p;
        p.qos = qos;
        p.retain = qos == 1;
        p.packet_id = qos > 0 ? 4242 : 0;
        p.topic = "bench/run/17";
        p.payload = payload;
        if (with_props && v == ProtocolVersion::kV5) {
          p.properties.content_type = content;
          p.properties.subscription_identifiers = {1, 300};
        }
        const Encoded e = encode(v, p);
        ReceivedPublish got;
        ASSERT_TRUE(read_publish(v, e.flags, e.body, got));
        EXPECT_EQ(got.qos, qos);
        EXPECT_EQ(got.retain, p.retain);
        EXPECT_EQ(got.packet_id, p.packet_id);
        EXPECT_EQ(std::string(got.payload.begin(), got.payload.end()), payload_text);
      }
    }
  }
}

TEST(ReadPublish, RefusesBodiesThatEndInsideTheirFields) {
  const std::vector<uint8_t> payload(8, 'p');
  for (ProtocolVersion v : kVersions) {
    mqtt::Publish p;
    p.qos = 1;
    p.packet_id = 7;
    p.topic = "a/b";
    p.payload = payload;
    const Encoded e = encode(v, p);
    // Every cut that ends before the payload begins is malformed.
    const size_t payload_at = e.body.size() - payload.size();
    for (size_t n = 0; n < payload_at; ++n) {
      ReceivedPublish got;
      EXPECT_FALSE(read_publish(v, e.flags, mqtt::Bytes(e.body.data(), n), got))
          << "version " << static_cast<int>(v) << " cut at " << n;
    }
  }
}

TEST(ReadPublish, RefusesQos3AndPacketIdZero) {
  const std::vector<uint8_t> body = {0, 1, 't', 0, 0, 'x'};
  ReceivedPublish got;
  EXPECT_FALSE(read_publish(ProtocolVersion::kV311, 0x06, body, got));  // QoS 3
  EXPECT_FALSE(read_publish(ProtocolVersion::kV311, 0x02, body, got));  // QoS 1, id 0
  EXPECT_TRUE(read_publish(ProtocolVersion::kV311, 0x00, body, got));   // QoS 0: id is payload
  EXPECT_EQ(got.payload.size(), 3u);
}

TEST(ReadPublish, RefusesAPropertyLengthPastTheBodyOrTooLong) {
  // topic "t", QoS 0, property length 5 with 2 bytes left.
  const std::vector<uint8_t> past = {0, 1, 't', 5, 0, 0};
  ReceivedPublish got;
  EXPECT_FALSE(read_publish(ProtocolVersion::kV5, 0x00, past, got));
  // A five-byte variable integer.
  const std::vector<uint8_t> too_long = {0, 1, 't', 0x80, 0x80, 0x80, 0x80, 0x01};
  EXPECT_FALSE(read_publish(ProtocolVersion::kV5, 0x00, too_long, got));
}

TEST(ReadPublish, NeverReadsPastRandomBodies) {
  std::mt19937 rng(5);
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> body(rng() % 12);
    for (auto& b : body) {
      b = static_cast<uint8_t>(rng() % 4 == 0 ? 0x80 | rng() : rng() % 6);
    }
    ReceivedPublish got;
    const ProtocolVersion v = kVersions[rng() % 3];
    if (read_publish(v, static_cast<uint8_t>(rng() % 16), body, got)) {
      EXPECT_GE(got.payload.data(), body.data());
      EXPECT_LE(got.payload.data() + got.payload.size(), body.data() + body.size());
    }
  }
}

}  // namespace
}  // namespace peregrine::bench
