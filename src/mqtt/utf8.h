// UTF-8 checks internal to src/mqtt beyond the public valid_utf8().
#pragma once

#include <string_view>

#include "src/mqtt/reason_code.h"

namespace peregrine::mqtt {

// One pass over a PUBLISH topic name: kMalformedPacket for ill-formed UTF-8 or U+0000,
// else kTopicNameInvalid if it holds '+' or '#', else kSuccess. Emptiness is the caller's.
ReasonCode scan_topic_name(std::string_view s);

// Well-formed UTF-8 that may contain U+0000: what a payload with Payload Format
// Indicator 1 must be (spec §3.3.2.3.2 refers to RFC 3629, which allows it).
bool well_formed_utf8(std::string_view s);

}  // namespace peregrine::mqtt
