#include "tests/sim/sim_floor.h"

#include <cstdlib>
#include <string>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/base/owner.h"
#include "src/broker/connection_slots.h"
#include "src/broker/shard_for.h"

namespace peregrine::sim {

std::string id_homed(const std::string& prefix, uint16_t shard, uint16_t shards) {
  for (int i = 0;; ++i) {
    std::string id = prefix + "-" + std::to_string(i);
    if (broker::shard_for(id, shards) == shard) {
      return id;
    }
  }
}

SimFloor::SimFloor(uint64_t seed, const FloorOptions& options)
    : _options(options), _random(seed), _net(_random, options.faults) {
  if (options.quiet_logs && getenv("SIM_DEBUG_LOGS") == nullptr) {
    base::set_log_level(base::LogLevel::kWarn);
  } else if (getenv("SIM_DEBUG_LOGS") != nullptr) {
    base::set_log_level(base::LogLevel::kDebug);
  }
  if (!options.state_dir.empty()) {
    _logs = std::make_unique<store::ShardLogFactory>(options.state_dir, options.fsync,
                                                     /*fsync_interval_ms=*/50,
                                                     /*compact_bytes=*/64 << 10);
    _options.broker.durable_log = _logs.get();
  }
  start_shards();
}

void SimFloor::start_shards() {
  shard::ShardGroupOptions group;
  group.shards = _options.shards;
  group.mailbox_capacity = _options.mailbox_capacity;
  group.clock = &_clock;
  _rings.assign(_options.shards, nullptr);
  group.make_ring = [this](uint16_t shard) {
    auto ring = std::make_unique<SimRing>(_net, _disk);
    _rings[shard] = ring.get();
    return ring;
  };
  if (_options.mail_delay != 0) {
    group.hold_outbound = [this](uint16_t) {
      return !_stopped && _random.chance(_options.mail_delay);
    };
  }
  _group = std::make_unique<shard::ShardGroup>(group);
  std::vector<shard::ShardService*> services;
  for (uint16_t i = 0; i < _options.shards; ++i) {
    _brokers.push_back(std::make_unique<broker::ShardBroker>(
        _options.broker, std::vector<broker::ShardListener>{}));
    services.push_back(_brokers.back().get());
  }
  std::string why;
  PG_ASSERT(_group->start_stepped(services, &why));
}

uint64_t SimFloor::crash_and_restart(bool power_failure) {
  PG_ASSERT(!_stopped);
  // What a dead process leaves: nothing runs its destructors. Kept reachable (not leaked
  // to the leak checker) and never touched again; their descriptors stay open as well,
  // but the connections' ends close: each client sees a reset.
  struct Dead {
    std::unique_ptr<shard::ShardGroup> group;
    std::vector<std::unique_ptr<broker::ShardBroker>> brokers;
  };
  static auto* graveyard = new std::vector<Dead>();
  for (const auto& b : _brokers) {
    _dead_stats.add(b->stats());  // the run's counters count every life
  }
  graveyard->push_back({std::move(_group), std::move(_brokers)});
  _brokers.clear();
  _net.reset_all();
  const uint64_t lost = power_failure ? _disk.power_failure(_random) : 0;
  start_shards();
  for (uint32_t i = 0; i < 10'000; ++i) {
    bool all = true;
    for (const auto& b : _brokers) {
      all = all && b->listening();
    }
    if (all) {
      return lost;
    }
    step(1);
  }
  PG_ASSERT(false && "the restarted shards never listened");
  return lost;
}

SimFloor::~SimFloor() {
  if (!_stopped) {
    stop();
  }
}

SimPipe* SimFloor::connect(uint16_t shard) {
  SimPipe* pipe = _net.open_pipe();
  base::set_current_shard(shard);
  _brokers[shard]->on_turn_begin();
  _brokers[shard]->accept(pipe->fd, nullptr, broker::ConnectionSlots::kNoListener);
  base::set_current_shard(base::kNoShardThread);
  return pipe;
}

void SimFloor::step(uint64_t advance_ms) {
  std::vector<uint16_t> order(_options.shards);
  for (uint16_t i = 0; i < _options.shards; ++i) {
    order[i] = i;
  }
  for (size_t i = order.size(); i > 1; --i) {
    std::swap(order[i - 1], order[_random.below(i)]);
  }
  const bool stall = _options.shards > 1 && _random.chance(_options.stall);
  for (size_t i = stall ? 1 : 0; i < order.size(); ++i) {
    _group->shard(order[i]).step();
  }
  base::set_current_shard(base::kNoShardThread);
  _clock.advance(advance_ms);
  ++_steps;
}

void SimFloor::step_only(uint16_t shard, uint64_t advance_ms) {
  _group->shard(shard).step();
  base::set_current_shard(base::kNoShardThread);
  _clock.advance(advance_ms);
  ++_steps;
}

bool SimFloor::quiet() const {
  for (const SimRing* ring : _rings) {
    if (ring->busy()) {
      return false;
    }
  }
  for (uint16_t from = 0; from < _options.shards; ++from) {
    if (!_group->shard(from).all_outbound_drained() || _brokers[from]->wants_turn()) {
      return false;  // mail waits in a mailbox, or in a shard's mail to itself
    }
  }
  return true;
}

bool SimFloor::settle(uint32_t max_steps) {
  // Quiet twice in a row: a turn end may post mail that the next turn takes.
  uint32_t quiet_rounds = 0;
  for (uint32_t i = 0; i < max_steps; ++i) {
    step(1);
    quiet_rounds = quiet() ? quiet_rounds + 1 : 0;
    if (quiet_rounds >= 3) {
      return true;
    }
  }
  return false;
}

void SimFloor::stop() {
  _stopped = true;
  _group->request_stop();
  std::vector<bool> finished(_options.shards, false);
  for (uint32_t round = 0; round < 100'000; ++round) {
    bool all = true;
    for (uint16_t i = 0; i < _options.shards; ++i) {
      if (!finished[i]) {
        finished[i] = _group->shard(i).step();
      }
      all = all && finished[i];
    }
    _clock.advance(1);
    if (all) {
      break;
    }
  }
  base::set_current_shard(base::kNoShardThread);
  _group->join();
  _brokers.clear();
  _group.reset();
}

broker::BrokerStats SimFloor::stats() const {
  broker::BrokerStats total = _dead_stats;
  for (const auto& b : _brokers) {
    total.add(b->stats());
  }
  return total;
}

}  // namespace peregrine::sim
