#include "src/broker/rehome_policy.h"

namespace peregrine::broker {

uint16_t note_routed(PublishRun& run, uint64_t shards, uint16_t self, uint64_t now_ms,
                     const RehomeRules& rules) {
  if (shards == 0) {
    return kNoShard;
  }
  const bool single = (shards & (shards - 1)) == 0;
  const auto only = static_cast<uint16_t>(__builtin_ctzll(shards));
  if (!single || only == self) {
    run = {};
    return kNoShard;
  }
  if (run.shard != only) {
    run = {only, 1, now_ms};
    return kNoShard;
  }
  ++run.count;
  if (run.count >= rules.min_messages && now_ms - run.since_ms >= rules.min_span_ms) {
    return only;
  }
  return kNoShard;
}

bool target_has_room(uint32_t own_permille, uint32_t target_permille, const RehomeRules& rules) {
  return target_permille < rules.idle_permille ||
         target_permille <= own_permille + rules.load_slack_permille;
}

}  // namespace peregrine::broker
