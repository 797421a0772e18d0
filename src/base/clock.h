// Monotonic time for timers and timeouts, in milliseconds since an arbitrary epoch.
#pragma once

#include <cstdint>
#include <ctime>

namespace peregrine::base {

inline uint64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1'000'000;
}

inline uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

// A clock the shards can be given instead of the system's (the seeded simulation's,
// advanced by the simulator). Read on the shard threads it is given to.
class Clock {
 public:
  virtual uint64_t now_ms() const = 0;

 protected:
  ~Clock() = default;
};

}  // namespace peregrine::base
