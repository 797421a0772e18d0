// The whole broker floor on one thread, with no socket: N ShardBrokers on a stepped
// ShardGroup, each on a SimRing, all reading one simulated clock. Tests and the seeded
// simulation connect simulated clients to it (accept() a SimPipe on a shard), run shard
// turns in an order the seed chooses (stall() skips a shard's turns a while), advance
// time, and look at what came out. A failure replays from its seed.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "src/base/clock.h"
#include "src/broker/shard_broker.h"
#include "src/shard/shard.h"
#include "src/store/shard_log.h"
#include "tests/sim/sim_disk.h"
#include "tests/sim/sim_net.h"
#include "tests/sim/sim_random.h"

namespace peregrine::sim {

class SimClock final : public base::Clock {
 public:
  uint64_t now_ms() const override { return _now_ms; }
  void advance(uint64_t ms) { _now_ms += ms; }

 private:
  uint64_t _now_ms = 1'000'000;
};

struct FloorOptions {
  uint16_t shards = 2;
  uint32_t mailbox_capacity = 64;  // small: full mailboxes and their overflow happen
  NetFaults faults;
  broker::BrokerConfig broker;
  uint32_t stall = 5;  // percent of steps in which one shard takes no turn
  uint32_t mail_delay = 0;  // percent of turns whose mail stays staged (slow hand-over)
  bool quiet_logs = true;  // warnings and errors only
  // Persistence: each shard's log in state_dir/shard-N on the SimDisk ("": in memory).
  std::string state_dir;
  store::FsyncPolicy fsync = store::FsyncPolicy::kInterval;
};

// A client id whose home shard is `shard` of `shards` (shard_for()).
std::string id_homed(const std::string& prefix, uint16_t shard, uint16_t shards);

class SimFloor {
 public:
  SimFloor(uint64_t seed, const FloorOptions& options);
  ~SimFloor();  // stops the shards if the test did not

  // A new connection accepted on `shard`; the pipe is the client's end.
  SimPipe* connect(uint16_t shard);
  // One round: every shard takes a turn (in the seed's order; one may stall), then the
  // clock moves `advance_ms`.
  void step(uint64_t advance_ms = 1);
  // One turn of `shard` alone (the others stalled), then the clock moves `advance_ms`.
  void step_only(uint16_t shard, uint64_t advance_ms = 1);
  // Steps until no ring has work and no mailbox holds mail, or `max_steps` ran out;
  // returns whether it went quiet.
  bool settle(uint32_t max_steps = 10'000);
  // SIGTERM: every shard says goodbye and finishes; the group is joined.
  void stop();
  // kill -9 (or, with `power_failure`, the machine loses power) between two steps: the
  // shards vanish without a word (their objects are abandoned, never destroyed, as a dead
  // process runs no destructors), every connection is reset, file writes still queued in
  // a ring are lost, and a power failure also loses unsynced bytes (SimDisk). Then the
  // broker starts again on the same state_dir and steps until every shard listens.
  // Returns the bytes the disk lost.
  uint64_t crash_and_restart(bool power_failure);

  uint16_t shards() const { return _options.shards; }
  broker::ShardBroker& broker(uint16_t shard) { return *_brokers[shard]; }
  SimNet& net() { return _net; }
  SimDisk& disk() { return _disk; }
  SimClock& clock() { return _clock; }
  SimRandom& random() { return _random; }
  // Every shard's counters summed.
  broker::BrokerStats stats() const;
  uint64_t steps() const { return _steps; }
  // No ring has work and every mailbox is empty.
  bool quiet() const;

 private:
  void start_shards();

  FloorOptions _options;
  SimRandom _random;
  SimClock _clock;
  SimNet _net;
  SimDisk _disk;
  std::unique_ptr<store::ShardLogFactory> _logs;
  std::vector<SimRing*> _rings;  // owned by the shards
  std::unique_ptr<shard::ShardGroup> _group;
  std::vector<std::unique_ptr<broker::ShardBroker>> _brokers;
  broker::BrokerStats _dead_stats;  // of the shards that crashed
  uint64_t _steps = 0;
  bool _stopped = false;
};

}  // namespace peregrine::sim
