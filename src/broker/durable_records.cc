#include "src/broker/durable_records.h"

#include <vector>

#include "src/base/assert.h"
#include "src/mqtt/codec.h"

namespace peregrine::broker {

namespace {

constexpr size_t kWallBytes = 8;

}  // namespace

std::string encode_retained(const Message& message, int64_t received_wall_ms,
                            std::string_view tenant) {
  PG_ASSERT(tenant.size() <= kMaxTenantNameBytes);
  mqtt::Publish publish = message.to_publish();
  publish.retain = true;
  publish.dup = false;
  publish.packet_id = publish.qos > 0 ? 1 : 0;
  std::vector<uint8_t> head;
  mqtt::encode_publish_head(mqtt::ProtocolVersion::kV5, publish, message.payload().size(), head);
  std::string out;
  out.reserve(kWallBytes + head.size() + message.payload().size());
  const auto wall = static_cast<uint64_t>(received_wall_ms);
  for (size_t i = 0; i < kWallBytes; i++) {
    out.push_back(static_cast<char>(wall >> (8 * i)));
  }
  out.push_back(static_cast<char>(tenant.size() & 0xFF));
  out.push_back(static_cast<char>(tenant.size() >> 8));
  out.append(tenant);
  out.append(reinterpret_cast<const char*>(head.data()), head.size());
  out.append(reinterpret_cast<const char*>(message.payload().data()), message.payload().size());
  return out;
}

DecodedRetained decode_retained(std::span<const uint8_t> body, int64_t now_wall_ms,
                                uint64_t now_ms) {
  DecodedRetained out;
  if (body.size() < kWallBytes + 2) {
    out.why = "shorter than its time and tenant";
    return out;
  }
  uint64_t wall = 0;
  for (size_t i = 0; i < kWallBytes; i++) {
    wall |= static_cast<uint64_t>(body[i]) << (8 * i);
  }
  const size_t tenant_size = body[kWallBytes] | static_cast<size_t>(body[kWallBytes + 1]) << 8;
  if (tenant_size > kMaxTenantNameBytes || body.size() < kWallBytes + 2 + tenant_size) {
    out.why = "a tenant name over 255 bytes or past the end";
    return out;
  }
  const mqtt::Bytes tenant = body.subspan(kWallBytes + 2, tenant_size);
  if (!mqtt::valid_utf8(std::string_view(reinterpret_cast<const char*>(tenant.data()),
                                         tenant.size()))) {
    out.why = "a tenant name that is not UTF-8";
    return out;
  }
  const mqtt::Bytes packet = body.subspan(kWallBytes + 2 + tenant_size);
  const mqtt::Frame frame = mqtt::read_frame(packet, UINT32_MAX);
  if (frame.status != mqtt::FrameStatus::kComplete ||
      frame.header.type != mqtt::PacketType::kPublish ||
      frame.header.total_length() != packet.size()) {
    out.why = "not one whole PUBLISH packet";
    return out;
  }
  mqtt::Publish publish;
  if (mqtt::decode_publish(mqtt::ProtocolVersion::kV5, frame.header.flags,
                           packet.subspan(frame.header.header_length), publish) !=
          mqtt::ReasonCode::kSuccess ||
      !publish.retain || publish.topic.empty() || !mqtt::valid_topic_name(publish.topic) ||
      publish.properties.topic_alias.has_value()) {
    out.why = "a PUBLISH that is not a retained message";
    return out;
  }
  if (publish.properties.message_expiry_interval) {
    // What is left of the interval now; the clock may have gone back: nothing elapsed.
    const uint64_t now = static_cast<uint64_t>(std::max<int64_t>(now_wall_ms, 0));
    const int64_t elapsed_ms = wall >= now ? 0 : static_cast<int64_t>(now - wall);
    const int64_t left_s =
        static_cast<int64_t>(*publish.properties.message_expiry_interval) - elapsed_ms / 1000;
    if (left_s <= 0) {
      out.outcome = DecodedRetained::Outcome::kExpired;
      return out;
    }
    publish.properties.message_expiry_interval = static_cast<uint32_t>(left_s);
  }
  out.message = Message::create(publish, 0, now_ms);
  out.tenant.assign(reinterpret_cast<const char*>(tenant.data()), tenant.size());
  out.outcome = DecodedRetained::Outcome::kMessage;
  return out;
}

}  // namespace peregrine::broker
