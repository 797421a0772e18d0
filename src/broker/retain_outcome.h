// What became of a PUBLISH's retained message, as its acknowledgement needs it (a v5
// PUBACK or PUBREC says 0x97 Quota exceeded when the retained limits refused it), and
// whether its durable writes are done.
#pragma once

#include <cstdint>

namespace peregrine::broker {

enum class RetainOutcome : uint8_t {
  kNone,     // not retained, or no answer asked for
  kStored,   // kept (or cleared) by its owner shard
  kRefused,  // the retained limits were reached: delivered, not kept
  kLater,    // the owner is another shard: its answer comes to Client::retain_answer()
};

// What a PUBLISH's acknowledgement waits for: its retained message's outcome, and the
// writes of the durable sessions that took it (persistence), here and on other shards.
struct PublishOutcome {
  RetainOutcome retained = RetainOutcome::kNone;
  // The writes are not all on disk yet: the answer comes to Client::durable_answer().
  bool durable_later = false;
};

}  // namespace peregrine::broker
