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
