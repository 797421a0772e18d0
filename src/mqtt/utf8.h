// UTF-8 checks internal to src/mqtt beyond the public valid_utf8().
#pragma once

#include <string_view>

#include "src/mqtt/reason_code.h"

namespace peregrine::mqtt {

// One pass over a PUBLISH topic name: kMalformedPacket for ill-formed UTF-8 or U+0000,
// else kTopicNameInvalid if it holds '+' or '#', else kSuccess. Emptiness is the caller's.
ReasonCode scan_topic_name(std::string_view s);

}  // namespace peregrine::mqtt
