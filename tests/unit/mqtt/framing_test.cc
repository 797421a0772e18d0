// Incremental framing: a connection's stream arrives in arbitrary pieces, and the caller
// loops read_frame over what it has. Every split must yield the same packets.
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "src/mqtt/codec.h"
#include "tests/unit/mqtt/packet_testing.h"

namespace peregrine::mqtt {
namespace {

using testing::view;
using testing::wire;

constexpr uint32_t kMaxPacket = 1 << 20;

// A mixed v5 stream: every packet type, empty and multi-byte-length packets.
std::vector<Packet> stream_packets(const std::vector<uint8_t>& big_payload) {
  std::vector<Packet> packets;
  Connect c;
  c.version = ProtocolVersion::kV5;
  c.client_id = "stream";
  packets.push_back(c);
  packets.push_back(Connack{});
  for (int i = 0; i < 40; ++i) {
    Publish p;
    p.qos = static_cast<uint8_t>(i % 3);
    p.packet_id = p.qos == 0 ? 0 : static_cast<uint16_t>(i + 1);
    p.topic = "s/t";
    p.payload = Bytes(big_payload.data(), static_cast<size_t>(i * 97) % big_payload.size());
    if (i % 5 == 0) {
      p.properties.user_properties = {{"i", "x"}};
    }
    packets.push_back(p);
    Ack a;
    a.type = static_cast<PacketType>(4 + i % 4);
    a.packet_id = static_cast<uint16_t>(i + 1);
    packets.push_back(a);
    if (i % 7 == 0) {
      packets.push_back(Pingreq{});
      packets.push_back(Pingresp{});
    }
  }
  Publish large;
  large.topic = "large";
  large.payload = Bytes(big_payload.data(), big_payload.size());
  packets.push_back(large);
  Subscribe s;
  s.packet_id = 1;
  s.subscriptions = {{"a/#", 1}, {"b/+", 2}};
  packets.push_back(s);
  Suback sa;
  sa.packet_id = 1;
  sa.reasons = {ReasonCode::kGrantedQos1};
  packets.push_back(sa);
  Unsubscribe u;
  u.packet_id = 2;
  u.filters = {"a/#"};
  packets.push_back(u);
  Unsuback ua;
  ua.packet_id = 2;
  ua.reasons = {ReasonCode::kSuccess};
  packets.push_back(ua);
  Auth auth;
  auth.reason = ReasonCode::kReAuthenticate;
  packets.push_back(auth);
  packets.push_back(Disconnect{});
  return packets;
}

// Feeds `stream` in chunks whose sizes come from `next_chunk`, decoding as it goes, the
// way a connection does with a receive buffer.
template <class NextChunk>
std::vector<Packet> feed(const std::vector<uint8_t>& stream, NextChunk next_chunk,
                         std::vector<uint8_t>& buffer) {
  std::vector<Packet> out;
  // Never reallocated, so packets decoded early still point at live bytes at the end;
  // the caller keeps `buffer` alive while it compares them.
  buffer.clear();
  buffer.reserve(stream.size());
  size_t offset = 0;
  size_t consumed = 0;
  while (offset < stream.size()) {
    const size_t n = std::min(next_chunk(), stream.size() - offset);
    buffer.insert(buffer.end(), stream.begin() + offset, stream.begin() + offset + n);
    offset += n;
    for (;;) {
      const Bytes rest = view(buffer).subspan(consumed);
      const Frame frame = read_frame(rest, kMaxPacket);
      if (frame.status == FrameStatus::kNeedMore) {
        if (frame.header.header_length != 0) {
          EXPECT_GT(frame.header.total_length(), rest.size());
        }
        break;
      }
      EXPECT_EQ(frame.status, FrameStatus::kComplete);
      if (frame.status != FrameStatus::kComplete) {
        return out;
      }
      Packet p;
      const Bytes body =
          rest.subspan(frame.header.header_length, frame.header.remaining_length);
      EXPECT_EQ(decode(ProtocolVersion::kV5, frame.header, body, p), ReasonCode::kSuccess);
      out.push_back(p);
      consumed += frame.header.total_length();
    }
  }
  EXPECT_EQ(consumed, stream.size());
  return out;
}

class FramingStream : public ::testing::Test {
 protected:
  void SetUp() override {
    _payload.resize(3000);
    for (size_t i = 0; i < _payload.size(); ++i) {
      _payload[i] = static_cast<uint8_t>(i * 31);
    }
    _packets = stream_packets(_payload);
    for (const Packet& p : _packets) {
      encode(ProtocolVersion::kV5, p, _stream);
    }
  }

  template <class NextChunk>
  void expect_same_packets(NextChunk next_chunk) {
    std::vector<uint8_t> received;
    const std::vector<Packet> got = feed(_stream, next_chunk, received);
    ASSERT_EQ(got.size(), _packets.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i], _packets[i]) << "packet " << i;
    }
  }

  std::vector<uint8_t> _payload;
  std::vector<Packet> _packets;
  std::vector<uint8_t> _stream;
};

TEST_F(FramingStream, WholeStreamInOneRead) {
  expect_same_packets([this] { return _stream.size(); });
}

TEST_F(FramingStream, ByteByByte) {
  expect_same_packets([] { return size_t{1}; });
}

TEST_F(FramingStream, RandomChunks) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> size(1, 700);
    expect_same_packets([&] { return size(rng); });
  }
}

TEST(Framing, EmptyAndPartialHeaderNeedMore) {
  EXPECT_EQ(read_frame(Bytes(), kMaxPacket).status, FrameStatus::kNeedMore);
  const std::vector<uint8_t> one = wire({0x30});
  const Frame f1 = read_frame(view(one), kMaxPacket);
  EXPECT_EQ(f1.status, FrameStatus::kNeedMore);
  EXPECT_EQ(f1.header.header_length, 0);
  const std::vector<uint8_t> partial_length = wire({0x30, 0x80, 0x80});
  EXPECT_EQ(read_frame(view(partial_length), kMaxPacket).header.header_length, 0);
}

TEST(Framing, HeaderFilledWhileBodyPending) {
  const std::vector<uint8_t> bytes = wire({0x32, 0xC8, 0x01, 0x00});  // 200-byte body
  const Frame f = read_frame(view(bytes), kMaxPacket);
  EXPECT_EQ(f.status, FrameStatus::kNeedMore);
  EXPECT_EQ(f.header.type, PacketType::kPublish);
  EXPECT_EQ(f.header.flags, 0x02);
  EXPECT_EQ(f.header.remaining_length, 200u);
  EXPECT_EQ(f.header.header_length, 3);
  EXPECT_EQ(f.header.total_length(), 203u);
}

TEST(Framing, CompleteReportsOnlyTheFirstPacket) {
  const std::vector<uint8_t> bytes = wire({0xC0, 0x00, 0xD0, 0x00});
  const Frame f = read_frame(view(bytes), kMaxPacket);
  EXPECT_EQ(f.status, FrameStatus::kComplete);
  EXPECT_EQ(f.header.type, PacketType::kPingreq);
  EXPECT_EQ(f.header.total_length(), 2u);
}

TEST(Framing, TooLargeDetectedFromHeaderAlone) {
  // Only the fixed header has arrived; the limit is enforced before any body byte.
  const std::vector<uint8_t> bytes = wire({0x30, 0x80, 0x08});  // 1024-byte body
  EXPECT_EQ(read_frame(view(bytes), 1026).status, FrameStatus::kTooLarge);
  EXPECT_EQ(read_frame(view(bytes), 1027).status, FrameStatus::kNeedMore);
  const std::vector<uint8_t> max = wire({0x30, 0xFF, 0xFF, 0xFF, 0x7F});
  const Frame f = read_frame(view(max), kMaxPacket);
  EXPECT_EQ(f.status, FrameStatus::kTooLarge);
  const Frame unlimited = read_frame(view(max), kMaxRemainingLength + 5);
  EXPECT_EQ(unlimited.status, FrameStatus::kNeedMore);
  EXPECT_EQ(unlimited.header.remaining_length, kMaxRemainingLength);
  EXPECT_EQ(unlimited.header.header_length, 5);
}

TEST(Framing, LengthEncodingBoundaries) {
  struct Case {
    std::vector<uint8_t> length;
    uint32_t value;
  };
  const Case cases[] = {{wire({0x00}), 0},
                        {wire({0x7F}), 127},
                        {wire({0x80, 0x01}), 128},
                        {wire({0xFF, 0x7F}), 16'383},
                        {wire({0x80, 0x80, 0x01}), 16'384},
                        {wire({0xFF, 0xFF, 0x7F}), 2'097'151},
                        {wire({0x80, 0x80, 0x80, 0x01}), 2'097'152},
                        {wire({0xFF, 0xFF, 0xFF, 0x7F}), 268'435'455}};
  for (const Case& c : cases) {
    std::vector<uint8_t> bytes = {0x30};
    bytes.insert(bytes.end(), c.length.begin(), c.length.end());
    const Frame f = read_frame(view(bytes), kMaxRemainingLength + 5);
    EXPECT_EQ(f.header.remaining_length, c.value);
    EXPECT_EQ(f.header.header_length, 1 + c.length.size());
    EXPECT_EQ(varint_size(c.value), c.length.size());
  }
}

TEST(Framing, NonMinimalAndFiveByteLengthsAreMalformed) {
  const std::vector<uint8_t> cases[] = {
      wire({0x30, 0x80, 0x00}), wire({0x30, 0xFF, 0x80, 0x00}),
      wire({0x30, 0x80, 0x80, 0x80, 0x00}), wire({0x30, 0x80, 0x80, 0x80, 0x80, 0x01}),
      wire({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F})};
  for (const std::vector<uint8_t>& bytes : cases) {
    EXPECT_EQ(read_frame(view(bytes), kMaxRemainingLength + 5).status,
              FrameStatus::kMalformed);
  }
  // The fifth byte is refused as soon as the fourth says "more follows".
  const std::vector<uint8_t> four = wire({0x30, 0x80, 0x80, 0x80, 0x80});
  EXPECT_EQ(read_frame(view(four), kMaxRemainingLength + 5).status, FrameStatus::kMalformed);
}

}  // namespace
}  // namespace peregrine::mqtt
