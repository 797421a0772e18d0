// The receive side of the load generator's PUBLISH handling, kept apart from the worker
// so that it can be tested on its own.
#pragma once

#include <cstdint>

#include "src/mqtt/codec.h"

namespace peregrine::bench {

// What the generator reads of a PUBLISH it receives (see read_publish()).
struct ReceivedPublish {
  uint8_t qos = 0;
  bool retain = false;
  uint16_t packet_id = 0;
  mqtt::Bytes payload;
};

// Frames a PUBLISH body cheaply for the receive path: the flags, the lengths of topic and
// properties inside the body, a non-zero packet id for QoS 1/2. It checks no UTF-8 and
// decodes no property (the generator uses none): the stamp of every payload is its
// check that the right bytes arrived. False when the body is malformed.
bool read_publish(mqtt::ProtocolVersion version, uint8_t flags, mqtt::Bytes body,
                  ReceivedPublish& out);

}  // namespace peregrine::bench
