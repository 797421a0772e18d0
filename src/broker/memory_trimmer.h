// Gives memory the broker freed back to the operating system at quiet times. The
// allocator keeps what is freed for reuse (main.cc raises its trim threshold so that
// bursts do not page-fault), so after 10,000 clients leave their memory stays resident
// (bench/memory churn). Once every shard has been idle for kQuietChecks checks in a row
// after some activity, shard 0 calls malloc_trim(0), which returns free pages from every
// arena, the middle of the heap included.
// Lives on shard 0 (one per process); its timer fires once a second. malloc_trim takes
// each arena's lock in turn, so it runs only when every shard is idle, when nobody waits.
#pragma once

#include <cstdint>
#include <functional>

#include "src/broker/broker_stats.h"
#include "src/io/timer_wheel.h"

namespace peregrine::broker {

class MemoryTrimmer final : public io::Timer {
 public:
  static constexpr uint64_t kCheckMs = 1000;
  static constexpr uint32_t kQuietChecks = 2;
  static constexpr uint32_t kIdlePermille = 10;  // "idle": busy less than 1 % of the time

  // `busiest` tells the busiest shard's load (this one's and its peers' as last told).
  MemoryTrimmer(io::TimerWheel& wheel, BrokerStats& stats, std::function<uint32_t()> busiest,
                std::function<uint64_t()> now_ms)
      : _wheel(wheel), _stats(stats), _busiest(std::move(busiest)), _now(std::move(now_ms)) {}

  void start() { _wheel.arm(*this, _now() + kCheckMs); }
  void stop() { _wheel.cancel(*this); }
  void on_timer() override;

 private:
  io::TimerWheel& _wheel;
  BrokerStats& _stats;
  std::function<uint32_t()> _busiest;
  std::function<uint64_t()> _now;
  bool _active_since_trim = false;
  uint32_t _quiet = 0;
};

}  // namespace peregrine::broker
