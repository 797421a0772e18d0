// An application message in flight: topic, payload and the v5 properties that travel with
// it [MQTT-3.3.2-*], copied once from the publisher's receive buffer into one allocation
// and shared, immutable, by every subscriber on every shard (DESIGN.md §3).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "src/io/shared_buffer.h"
#include "src/mqtt/packets.h"

namespace peregrine::broker {

class Message final : public io::SharedBuffer {
 public:
  // Copies what `in` views; topic alias and subscription identifiers are not carried
  // (they belong to one connection). The result holds one reference.
  static Message* create(const mqtt::Publish& in, uint64_t origin_connection,
                         uint64_t received_ms);

  // The message as a PUBLISH (QoS, retain and packet id are per delivery); its views
  // point into this object.
  const mqtt::Publish& publish() const { return _publish; }
  std::span<const uint8_t> payload() const { return _publish.payload; }
  uint64_t origin_connection() const { return _origin_connection; }
  // Unique in the process: names the message without its address (addresses come back).
  uint64_t id() const { return _id; }
  uint64_t received_ms() const { return _received_ms; }
  // Seconds of Message Expiry Interval left at `now_ms` [MQTT-3.3.2-6]; nullopt: none set.
  // 0 means expired.
  std::optional<uint32_t> expiry_left(uint64_t now_ms) const;

 private:
  Message() = default;
  ~Message() override = default;
  void destroy() override;

  mqtt::Publish _publish;
  uint64_t _origin_connection = 0;
  uint64_t _received_ms = 0;
  uint64_t _id = 0;
};

}  // namespace peregrine::broker
