// Framing: the fixed header and its Variable Byte Integer remaining length (spec §2.1,
// §1.5.5). Decoding of bodies lives in decode.cc, encoding in encode.cc.
#include "src/mqtt/codec.h"

#include <variant>

#include "src/base/assert.h"

namespace peregrine::mqtt {

namespace {

// A visitor rather than variant indexes, so reordering Packet cannot break the mapping.
struct TypeOf {
  PacketType operator()(const Connect&) const { return PacketType::kConnect; }
  PacketType operator()(const Connack&) const { return PacketType::kConnack; }
  PacketType operator()(const Publish&) const { return PacketType::kPublish; }
  PacketType operator()(const Ack& ack) const { return ack.type; }
  PacketType operator()(const Subscribe&) const { return PacketType::kSubscribe; }
  PacketType operator()(const Suback&) const { return PacketType::kSuback; }
  PacketType operator()(const Unsubscribe&) const { return PacketType::kUnsubscribe; }
  PacketType operator()(const Unsuback&) const { return PacketType::kUnsuback; }
  PacketType operator()(const Pingreq&) const { return PacketType::kPingreq; }
  PacketType operator()(const Pingresp&) const { return PacketType::kPingresp; }
  PacketType operator()(const Disconnect&) const { return PacketType::kDisconnect; }
  PacketType operator()(const Auth&) const { return PacketType::kAuth; }
};

}  // namespace

Frame read_frame(Bytes data, uint32_t max_packet_size) {
  Frame frame;
  if (data.empty()) {
    return frame;
  }
  const uint8_t first = data[0];
  if ((first >> 4) == 0) {
    frame.status = FrameStatus::kMalformed;  // packet type 0 is reserved
    return frame;
  }
  uint32_t length = 0;
  size_t i = 1;
  for (;; ++i) {
    if (i == data.size()) {
      return frame;  // the remaining length has not fully arrived
    }
    const uint8_t byte = data[i];
    length |= uint32_t{byte & 0x7Fu} << (7 * (i - 1));
    if ((byte & 0x80) == 0) {
      // A zero final group after the first byte is a non-minimal encoding [MQTT-1.5.5-1].
      if (byte == 0 && i > 1) {
        frame.status = FrameStatus::kMalformed;
        return frame;
      }
      break;
    }
    if (i == 4) {
      frame.status = FrameStatus::kMalformed;  // a fifth length byte
      return frame;
    }
  }
  frame.header.type = static_cast<PacketType>(first >> 4);
  frame.header.flags = first & 0x0F;
  frame.header.remaining_length = length;
  frame.header.header_length = static_cast<uint8_t>(i + 1);
  const size_t total = frame.header.total_length();
  if (total > max_packet_size) {
    frame.status = FrameStatus::kTooLarge;
  } else if (data.size() >= total) {
    frame.status = FrameStatus::kComplete;
  }
  return frame;
}

size_t varint_size(uint32_t value) {
  PG_DASSERT(value <= kMaxRemainingLength);
  if (value < 128) {
    return 1;
  }
  if (value < 16'384) {
    return 2;
  }
  if (value < 2'097'152) {
    return 3;
  }
  return 4;
}

PacketType packet_type(const Packet& packet) {
  return std::visit(TypeOf{}, packet);
}

}  // namespace peregrine::mqtt
