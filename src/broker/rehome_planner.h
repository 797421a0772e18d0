// Rehoming's decisions on one shard (DESIGN.md §2; rules in rehome_policy.h): which
// publisher-only client moves to the shard its messages go to, and when. It owns the
// peers' load as they last told it, this shard's load as it last told them (Load mail:
// on a change worth telling or once a second), and the moves allowed per load window
// (kMaxRehomesPerWindow). The move itself — the connection and its session out and in —
// is ShardBroker's. Lives on its shard's thread.
#pragma once

#include <cstdint>
#include <vector>

#include "src/broker/outbox.h"
#include "src/broker/rehome_policy.h"
#include "src/broker/shard_mail.h"

namespace peregrine::broker {

class RehomePlanner {
 public:
  static constexpr uint32_t kMaxRehomesPerWindow = 32;
  static constexpr uint32_t kLoadChangeTold = 20;  // thousandths
  static constexpr uint64_t kLoadRepeatMs = 1000;

  // `enabled`: the config asks for it and there is another shard to move to.
  RehomePlanner(Outbox& outbox, bool enabled);

  bool enabled() const { return _enabled; }
  void set_enabled(bool enabled) { _enabled = enabled && _peer_load.size() > 1; }
  // A PUBLISH of a client went to `shards` (its bytes read at `rx_ms`): the shard it
  // should move to once its run qualifies, else kNoShard. Asked or not, a qualifying run
  // starts over.
  uint16_t note(PublishRun& run, uint64_t shards, uint64_t rx_ms);
  // Whether a client whose session's home is `home` may move to `target` now: from its
  // home to any shard or back home (the home always knows where it is), within this
  // window's budget, to a shard with room, and only once every message it sent from
  // here to a third shard has been taken (order per publisher). The caller has checked
  // that it is a publisher only and free to go.
  bool admit(uint16_t target, uint16_t home, uint64_t now_ms, uint32_t own_busy_permille);
  // Tells the peers this shard's load when it changed enough (turn end).
  void tell_load(uint64_t now_ms, uint32_t busy_permille);
  void on_load(const mail::Load& load, uint16_t from, uint64_t now_ms) {
    _peer_load[from] = load.permille;
    _peer_load_ms[from] = now_ms;
  }
  // The busiest peer's load as last told (thousandths), counting a peer that has told
  // nothing for two repeat periods as idle: a shard that turns tells its load at least
  // once a period, and one that does not turn is waiting.
  uint32_t busiest_peer(uint64_t now_ms) const {
    uint32_t most = 0;
    for (size_t i = 0; i < _peer_load.size(); ++i) {
      if (now_ms - _peer_load_ms[i] <= 2 * kLoadRepeatMs) {
        most = _peer_load[i] > most ? _peer_load[i] : most;
      }
    }
    return most;
  }

 private:
  Outbox& _outbox;
  bool _enabled;
  RehomeRules _rules;
  std::vector<uint32_t> _peer_load;     // by shard, as last told
  std::vector<uint64_t> _peer_load_ms;  // when it was told
  uint64_t _load_sent_ms = 0;
  uint32_t _load_sent = 0;
  uint64_t _window_ms = 0;
  uint32_t _moves_in_window = 0;
};

}  // namespace peregrine::broker
