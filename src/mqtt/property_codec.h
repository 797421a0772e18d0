// Reading and writing MQTT 5 property blocks (internal to src/mqtt). Which properties a
// block may hold depends on where it sits (spec §2.2.2.2 table); that place is the
// PropertyContext. Decoded strings are views into the packet buffer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "src/mqtt/properties.h"
#include "src/mqtt/reason_code.h"
#include "src/mqtt/wire.h"

namespace peregrine::mqtt {

// Where a property block sits; PUBACK, PUBREC, PUBREL and PUBCOMP share kAck.
enum class PropertyContext : uint8_t {
  kConnect,
  kWill,
  kConnack,
  kPublish,
  kAck,
  kSubscribe,
  kSuback,
  kUnsubscribe,
  kUnsuback,
  kDisconnect,
  kAuth,
};

// Reads a property length and the block it announces into `out` (which must be empty).
// kMalformedPacket for a truncated block, an unknown property or one not allowed here;
// kProtocolError for a repeated property or a value out of range; kTopicAliasInvalid for
// Topic Alias 0.
ReasonCode read_properties(Reader& r, PropertyContext context, Properties& out);

// Empties `props` while keeping the capacity of its vectors (decode reuses packets).
void clear_properties(Properties& props);

// Bytes of the property block after the property length.
size_t properties_body_size(const Properties& props);

// Writes the property length and block.
void write_properties(Writer& w, const Properties& props);

inline void count_properties(Counter& c, const Properties& props) {
  const size_t body = properties_body_size(props);
  c.n += varint_size(static_cast<uint32_t>(body)) + body;
}

}  // namespace peregrine::mqtt
