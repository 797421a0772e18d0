// The seeded simulation of the whole broker (TigerBeetle's VOPR is the model): N shards on
// a SimFloor, a crowd of simulated 3.1.1 and 5 clients doing random but valid things —
// connect (persistent or not, on any shard), subscribe, unsubscribe, publish at QoS 0/1/2,
// disconnect, drop, reconnect over a live connection (takeover) — and some hostile bytes,
// while the floor reads and writes in pieces, delays and reorders completions, stalls
// shards and runs with small mailboxes. Most seeds run with persistence (each shard's log
// on a SimDisk) and crash the broker one to three times — kill -9, or a power failure
// under fsync "always" — restarting it on its log, every connection reset. After every
// step it checks what the broker promises; at the end every persistent client comes back
// and everything settles, and it checks that nothing acknowledged was lost, crashes or
// not:
//  - an acknowledged QoS 1/2 message reaches every client whose session lives with a
//    matching QoS >= 1 subscription acknowledged before the message was sent and never
//    unsubscribed (no bound may drop it: the run's limits leave room, and drops are
//    counted and reported);
//  - a message delivered at QoS 2 arrives once (across a crash too, except a message
//    that had no PUBREC when the broker crashed: its second copy is counted, see
//    docs/architecture.md);
//  - from one publisher to one subscriber, new QoS >= 1 messages arrive in send order;
//  - nothing arrives that no subscription of the receiving session asked for, and
//    nothing published after the UNSUBACK of the only matching subscription;
//  - a persistent session once confirmed is never reported missing (after a crash: once
//    a SUBACK of it was received, since SUBACK waits for the session's records);
//  - the shards' own bound checks hold (ShardBroker::check_bounds()).
// A run is a pure function of its seed: a failure prints the seed and replays from it.
#pragma once

#include <cstdint>
#include <string>

namespace peregrine::sim {

struct SimRunOptions {
  uint64_t seed = 1;
  uint16_t shards = 0;    // 0: 2-4, from the seed
  uint32_t clients = 0;   // 0: 20-60, from the seed
  uint32_t steps = 1500;  // rounds of actions and shard turns before the final settle
  bool crash = true;  // false: the seed's persistence, without its crashes
  bool verbose = false;
};

struct SimRunResult {
  bool ok = true;
  std::string failure;  // the first broken promise, with when and who
  uint64_t digest = 0;  // every delivery and the final counters, hashed: replays match
  uint64_t published = 0;
  uint64_t acknowledged = 0;
  uint64_t delivered = 0;
  uint64_t checked = 0;  // acknowledged (message, subscriber) pairs owed and found
  std::string summary;
};

SimRunResult run_simulation(const SimRunOptions& options);

}  // namespace peregrine::sim
