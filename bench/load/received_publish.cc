#include "bench/load/received_publish.h"

namespace peregrine::bench {

bool read_publish(mqtt::ProtocolVersion version, uint8_t flags, mqtt::Bytes body,
                  ReceivedPublish& out) {
  out.qos = (flags >> 1) & 0x03;
  out.retain = (flags & 0x01) != 0;
  if (out.qos == 3 || body.size() < 2) {
    return false;
  }
  size_t at = 2 + ((size_t{body[0]} << 8) | body[1]);
  if (at > body.size()) {
    return false;
  }
  out.packet_id = 0;
  if (out.qos > 0) {
    if (at + 2 > body.size()) {
      return false;
    }
    out.packet_id = static_cast<uint16_t>((body[at] << 8) | body[at + 1]);
    at += 2;
    if (out.packet_id == 0) {
      return false;
    }
  }
  if (version == mqtt::ProtocolVersion::kV5) {
    uint32_t length = 0;
    for (int i = 0;; ++i) {
      if (at == body.size() || i == 4) {
        return false;
      }
      const uint8_t byte = body[at++];
      length |= uint32_t{byte & 0x7Fu} << (7 * i);
      if ((byte & 0x80) == 0) {
        break;
      }
    }
    if (length > body.size() - at) {
      return false;
    }
    at += length;
  }
  out.payload = body.subspan(at);
  return true;
}

}  // namespace peregrine::bench
