// What the shards tell the main thread without mail: how many are listening (past the
// start-up barrier), and a heartbeat each, for the service manager's watchdog
// (src/daemon/service_manager.h). Lock-free: each beat is written by its own shard only
// (at most once per beat_ms, not per turn) and read by main; `listening` is bumped once
// per shard at start.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace peregrine::shard {

struct ShardPulse {
  static constexpr size_t kMaxShards = 64;
  std::atomic<uint32_t> listening{0};
  // Each on its own cache line: shards beat independently.
  struct alignas(64) Beat {
    std::atomic<uint64_t> count{0};
  };
  std::array<Beat, kMaxShards> beats{};
  uint32_t beat_ms = 0;  // how often a shard beats, even when idle (0: never); set before start
};

}  // namespace peregrine::shard
