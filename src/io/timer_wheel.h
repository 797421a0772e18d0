// A hashed timing wheel, one per shard thread: connect timeouts, keep-alive checks and
// any other deadline. Timers are intrusive (no allocation); a deadline beyond the wheel's
// horizon waits in its slot and is re-filed when its slot comes round. Bounds: at most
// kSlots slots are visited per advance(); a timer fires at most one tick late.
#pragma once

#include <array>
#include <cstdint>

namespace peregrine::io {

class Timer {
 public:
  virtual ~Timer() = default;
  virtual void on_timer() = 0;
  bool armed() const { return _slot >= 0; }
  uint64_t deadline_ms() const { return _deadline_ms; }

 private:
  friend class TimerWheel;
  Timer* _prev = nullptr;
  Timer* _next = nullptr;
  uint64_t _deadline_ms = 0;
  int _slot = -1;
};

class TimerWheel {
 public:
  static constexpr uint32_t kSlots = 4096;
  static constexpr uint64_t kTickMs = 16;

  explicit TimerWheel(uint64_t now_ms) : _now_tick(now_ms / kTickMs) {}
  ~TimerWheel();

  void arm(Timer& timer, uint64_t deadline_ms);
  void cancel(Timer& timer);
  // Fires every timer whose deadline is <= now_ms.
  void advance(uint64_t now_ms);
  // Milliseconds until the next non-empty slot (-1: none).
  int next_timeout_ms(uint64_t now_ms) const;
  uint32_t size() const { return _count; }

 private:
  void link(Timer& timer);
  void unlink(Timer& timer);

  std::array<Timer*, kSlots> _slots{};
  uint64_t _now_tick;
  uint32_t _count = 0;
};

}  // namespace peregrine::io
