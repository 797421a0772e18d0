// What became of a PUBLISH's retained message, as its acknowledgement needs it (a v5
// PUBACK or PUBREC says 0x97 Quota exceeded when the retained limits refused it).
#pragma once

#include <cstdint>

namespace peregrine::broker {

enum class RetainOutcome : uint8_t {
  kNone,     // not retained, or no answer asked for
  kStored,   // kept (or cleared) by its owner shard
  kRefused,  // the retained limits were reached: delivered, not kept
  kLater,    // the owner is another shard: its answer comes to Client::retain_answer()
};

}  // namespace peregrine::broker
