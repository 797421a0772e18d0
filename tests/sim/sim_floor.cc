#include "tests/sim/sim_floor.h"

#include <string>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/base/owner.h"
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
  if (options.quiet_logs) {
    base::set_log_level(base::LogLevel::kWarn);
  }
  shard::ShardGroupOptions group;
  group.shards = options.shards;
  group.mailbox_capacity = options.mailbox_capacity;
  group.clock = &_clock;
  _rings.assign(options.shards, nullptr);
  group.make_ring = [this](uint16_t shard) {
    auto ring = std::make_unique<SimRing>(_net);
    _rings[shard] = ring.get();
    return ring;
  };
  if (options.mail_delay != 0) {
    group.hold_outbound = [this](uint16_t) {
      return !_stopped && _random.chance(_options.mail_delay);
    };
  }
  _group = std::make_unique<shard::ShardGroup>(group);
  std::vector<shard::ShardService*> services;
  for (uint16_t i = 0; i < options.shards; ++i) {
    _brokers.push_back(std::make_unique<broker::ShardBroker>(
        options.broker, std::vector<broker::ShardListener>{}));
    services.push_back(_brokers.back().get());
  }
  std::string why;
  PG_ASSERT(_group->start_stepped(services, &why));
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
  _brokers[shard]->accept(pipe->fd, nullptr);
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
  broker::BrokerStats total;
  for (const auto& b : _brokers) {
    total.add(b->stats());
  }
  return total;
}

}  // namespace peregrine::sim
