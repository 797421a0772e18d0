// libFuzzer target for the MQTT codec. Byte 0 picks the protocol version (3, 4 or 5) and
// the maximum packet size; the rest is a connection's byte stream, framed and decoded
// packet by packet. Every packet that decodes is re-encoded, decoded again, and encoded
// once more: the second decode must succeed and the two encodings must be identical.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "src/base/assert.h"
#include "src/mqtt/codec.h"

namespace {

using peregrine::mqtt::Bytes;
using peregrine::mqtt::FrameStatus;
using peregrine::mqtt::Packet;
using peregrine::mqtt::ProtocolVersion;
using peregrine::mqtt::ReasonCode;

constexpr uint32_t kMaxSizes[] = {16, 128, 1024, 65'536, 268'435'460, 4096, 300, 2};

void check_round_trip(ProtocolVersion version, const Packet& packet) {
  std::vector<uint8_t> first;
  peregrine::mqtt::encode(version, packet, first);
  const auto frame = peregrine::mqtt::read_frame(Bytes(first), 268'435'460);
  PG_ASSERT(frame.status == FrameStatus::kComplete);
  PG_ASSERT(frame.header.total_length() == first.size());
  Packet again;
  const ReasonCode rc = peregrine::mqtt::decode(
      version, frame.header, Bytes(first).subspan(frame.header.header_length), again);
  PG_ASSERT_MSG(rc == ReasonCode::kSuccess, peregrine::mqtt::reason_name(rc));
  std::vector<uint8_t> second;
  peregrine::mqtt::encode(version, again, second);
  PG_ASSERT(first == second);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const uint8_t selector = data[0];
  const auto version = static_cast<ProtocolVersion>(3 + selector % 3);
  const uint32_t max_size = kMaxSizes[(selector >> 2) % std::size(kMaxSizes)];
  Bytes rest(data + 1, size - 1);
  Packet packet;
  while (!rest.empty()) {
    const auto frame = peregrine::mqtt::read_frame(rest, max_size);
    if (frame.status != FrameStatus::kComplete) {
      break;  // need more, too large or malformed: the connection would stop here
    }
    const Bytes body = rest.subspan(frame.header.header_length, frame.header.remaining_length);
    if (peregrine::mqtt::decode(version, frame.header, body, packet) == ReasonCode::kSuccess) {
      // A CONNECT carries its own version; encode it with that one.
      ProtocolVersion encode_version = version;
      if (const auto* connect = std::get_if<peregrine::mqtt::Connect>(&packet)) {
        encode_version = connect->version;
      }
      check_round_trip(encode_version, packet);
    }
    rest = rest.subspan(frame.header.total_length());
  }
  return 0;
}
