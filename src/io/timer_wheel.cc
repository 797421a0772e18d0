#include "src/io/timer_wheel.h"

#include "src/base/assert.h"

namespace peregrine::io {

TimerWheel::~TimerWheel() {
  for (Timer*& head : _slots) {
    while (head != nullptr) {
      unlink(*head);
    }
  }
}

void TimerWheel::link(Timer& timer) {
  uint64_t tick = timer._deadline_ms / kTickMs;
  if (tick <= _now_tick) {
    tick = _now_tick + 1;  // due: fire on the next advance
  }
  const int slot = static_cast<int>(tick % kSlots);
  timer._slot = slot;
  timer._prev = nullptr;
  timer._next = _slots[slot];
  if (timer._next != nullptr) {
    timer._next->_prev = &timer;
  }
  _slots[slot] = &timer;
  ++_count;
}

void TimerWheel::unlink(Timer& timer) {
  PG_DASSERT(timer._slot >= 0);
  if (timer._prev != nullptr) {
    timer._prev->_next = timer._next;
  } else {
    _slots[timer._slot] = timer._next;
  }
  if (timer._next != nullptr) {
    timer._next->_prev = timer._prev;
  }
  timer._prev = timer._next = nullptr;
  timer._slot = -1;
  --_count;
}

void TimerWheel::arm(Timer& timer, uint64_t deadline_ms) {
  if (timer.armed()) {
    unlink(timer);
  }
  timer._deadline_ms = deadline_ms;
  link(timer);
}

void TimerWheel::cancel(Timer& timer) {
  if (timer.armed()) {
    unlink(timer);
  }
}

void TimerWheel::advance(uint64_t now_ms) {
  const uint64_t target = now_ms / kTickMs;
  uint64_t steps = 0;
  while (_now_tick < target && steps < kSlots) {
    ++_now_tick;
    ++steps;
    Timer* timer = _slots[_now_tick % kSlots];
    // Detach the slot first: callbacks may arm timers into this same slot.
    Timer* due = nullptr;
    while (timer != nullptr) {
      Timer* next = timer->_next;
      unlink(*timer);
      if (timer->_deadline_ms / kTickMs <= target) {
        timer->_next = due;
        due = timer;
      } else {
        link(*timer);  // beyond the horizon: wait for its slot to come round again
      }
      timer = next;
    }
    while (due != nullptr) {
      Timer* next = due->_next;
      due->_next = nullptr;
      due->on_timer();
      due = next;
    }
  }
  _now_tick = target;
}

int TimerWheel::next_timeout_ms(uint64_t now_ms) const {
  if (_count == 0) {
    return -1;
  }
  for (uint64_t i = 1; i <= kSlots; ++i) {
    if (_slots[(_now_tick + i) % kSlots] != nullptr) {
      const uint64_t at = (_now_tick + i) * kTickMs;
      return at > now_ms ? static_cast<int>(at - now_ms) : 0;
    }
  }
  return static_cast<int>(kTickMs);
}

}  // namespace peregrine::io
