#include "src/broker/rehome_planner.h"

#include "src/base/owner.h"
#include "src/shard/shard.h"

namespace peregrine::broker {

RehomePlanner::RehomePlanner(Outbox& outbox, bool enabled)
    : _outbox(outbox), _enabled(enabled && outbox.count() > 1), _peer_load(outbox.count(), 0), _peer_load_ms(outbox.count(), 0) {}

uint16_t RehomePlanner::note(PublishRun& run, uint64_t shards, uint64_t rx_ms) {
  // The time its bytes were read, not the clock: a clock read a message was 6 % of the
  // broker's own time in pairs, and the run's 250 ms window needs no finer a time.
  const uint16_t target = note_routed(run, shards, _outbox.self(), rx_ms, _rules);
  if (target != kNoShard) {
    run = {};  // moved or not, the next try takes a whole new run
  }
  return target;
}

bool RehomePlanner::admit(uint16_t target, uint16_t home, uint64_t now_ms,
                          uint32_t own_busy_permille) {
  PG_DASSERT_OWNER(_outbox.self());
  // From its home to any shard, or from where it moved to back to its home: either way
  // the home knows where the session is (one hop at most). From away to a third shard it
  // stays: its home would be left pointing at the shard it moved from.
  if (home != _outbox.self() && target != home) {
    return false;
  }
  if (now_ms - _window_ms >= shard::Shard::kLoadWindowMs) {
    _window_ms = now_ms;
    _moves_in_window = 0;
  }
  if (_moves_in_window >= kMaxRehomesPerWindow ||
      !target_has_room(own_busy_permille, _peer_load[target], _rules)) {
    return false;
  }
  // Order per publisher: its messages to a third shard, from here, must all have been
  // taken before any it sends from the target could arrive there.
  for (uint16_t other = 0; other < _outbox.count(); ++other) {
    if (other != _outbox.self() && other != target && !_outbox.drained(other)) {
      return false;
    }
  }
  _moves_in_window++;
  return true;
}

void RehomePlanner::tell_load(uint64_t now_ms, uint32_t busy_permille) {
  if (!_enabled || now_ms - _load_sent_ms < shard::Shard::kLoadWindowMs) {
    return;
  }
  // A change worth telling, or once a second anyway. Not lazy: it wakes an idle peer, so
  // what waits for it in mailboxes (lazy reclaims) is taken, as admit()'s order check
  // needs.
  const uint32_t change =
      busy_permille > _load_sent ? busy_permille - _load_sent : _load_sent - busy_permille;
  if (change < kLoadChangeTold && now_ms - _load_sent_ms < kLoadRepeatMs) {
    return;
  }
  _load_sent_ms = now_ms;
  _load_sent = busy_permille;
  _outbox.post_to_others(mail::Load{busy_permille});
}

}  // namespace peregrine::broker
