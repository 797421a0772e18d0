// A ClientLink that sends nothing anywhere: the connection a session's tests attach,
// overriding only what they look at (what was sent, a takeover).
#pragma once

#include <cstdint>
#include <span>

#include "src/broker/client_link.h"

namespace peregrine::broker {

class QuietClientLink : public ClientLink {
 public:
  uint64_t connection_id() const override { return 1; }
  mqtt::ProtocolVersion version() const override { return mqtt::ProtocolVersion::kV5; }
  size_t queued_bytes() const override { return 0; }
  bool takes_shared_heads() const override { return true; }
  bool copies_shared(size_t) const override { return true; }
  void send_qos0_shared(Message*, std::span<const uint8_t>) override {}
  void send_qos0_copy(std::span<const uint8_t>, std::span<const uint8_t>) override {}
  bool fits(const Delivery&) override { return true; }
  void send_qos0(const Delivery&) override {}
  void send_publish(const Delivery&, uint16_t, bool) override {}
  void send_success_ack(mqtt::PacketType, uint16_t) override {}
  void send_packet(const mqtt::Packet&) override {}
  bool rehoming() const override { return false; }
  void take_over() override {}
};

}  // namespace peregrine::broker
