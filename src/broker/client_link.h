// The connection a session is attached to, as the session, fan-out and the broker's
// session logic see it: sends, the QoS 0 fast paths, and what a takeover needs. Client
// implements it (its calls devirtualise where the type is known); the seeded simulation
// and unit tests can attach sessions to their own. Lives on the session's shard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "src/mqtt/packets.h"

namespace peregrine::broker {

class Message;
struct Delivery;

class ClientLink {
 public:
  // Names the connection (No Local compares it with a message's origin).
  virtual uint64_t connection_id() const = 0;
  virtual mqtt::ProtocolVersion version() const = 0;
  // Bytes waiting to be written to it.
  virtual size_t queued_bytes() const = 0;

  // QoS 0 fan-out: whether the shard's shared heads fit it (no outbound aliases), whether
  // it would copy a shared payload of `size` rather than reference it, and the two sends.
  virtual bool takes_shared_heads() const = 0;
  virtual bool copies_shared(size_t size) const = 0;
  // `head`: the QoS 0 head encoded once for every subscriber of its layout.
  virtual void send_qos0_shared(Message* message, std::span<const uint8_t> head) = 0;
  virtual void send_qos0_copy(std::span<const uint8_t> head,
                              std::span<const uint8_t> payload) = 0;

  // The session's flows.
  virtual bool fits(const Delivery& delivery) = 0;  // its Maximum Packet Size [MQTT-3.1.2-24]
  virtual void send_qos0(const Delivery& delivery) = 0;
  virtual void send_publish(const Delivery& delivery, uint16_t packet_id, bool dup) = 0;
  virtual void send_success_ack(mqtt::PacketType type, uint16_t packet_id) = 0;
  virtual void send_packet(const mqtt::Packet& packet) = 0;

  // On its way to another shard with its session (rehoming).
  virtual bool rehoming() const = 0;
  // A new connection takes the session over: v5 DISCONNECT 0x8E, then close; the
  // session goes on with the new one and no delayed will is due [MQTT-3.1.3-9].
  virtual void take_over() = 0;

 protected:
  ~ClientLink() = default;
};

}  // namespace peregrine::broker
