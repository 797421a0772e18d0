// When a publisher-only session should leave its home shard for the one its messages go
// to (DESIGN.md §2, "rehoming"). A connection lives on its session's home shard, the hash
// of its client id; a publisher whose every subscriber sits on one other shard pays a
// mailbox hop and a cross-core wake per message there. Moving the session (with its
// connection) to that shard makes delivery shard-local. Pure decisions, no broker state:
// the broker feeds each routed PUBLISH and asks.
// Invariants: a run counts only consecutive messages whose subscribers were all on the
// same one other shard; a message with a subscriber anywhere else ends the run.
#pragma once

#include <cstdint>

namespace peregrine::broker {

inline constexpr uint16_t kNoShard = 0xFFFF;

// A publisher's current run of messages that went to one other shard only.
struct PublishRun {
  uint16_t shard = kNoShard;
  uint32_t count = 0;
  uint64_t since_ms = 0;  // when the run's first message was routed
};

struct RehomeRules {
  // A run this long in messages and in time is traffic worth following: a burst of a few
  // messages is not, nor is a session that just connected.
  uint32_t min_messages = 8;
  uint64_t min_span_ms = 250;
  // The target takes more work only while it is not the busier one by more than this
  // (thousandths of its time awake), or is below `idle_permille` anyway.
  uint32_t load_slack_permille = 100;
  uint32_t idle_permille = 500;
};

// Records a message routed to the shard set `shards` (bit i: shard i has subscribers) by a
// publisher on shard `self` at `now_ms`. Returns the shard to move to once the run
// qualifies, else kNoShard. A message with no subscribers at all neither counts nor
// breaks the run.
uint16_t note_routed(PublishRun& run, uint64_t shards, uint16_t self, uint64_t now_ms,
                     const RehomeRules& rules);

// Whether a shard at `target_permille` busy may take a publisher from one at
// `own_permille`.
bool target_has_room(uint32_t own_permille, uint32_t target_permille, const RehomeRules& rules);

}  // namespace peregrine::broker
