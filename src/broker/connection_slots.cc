#include "src/broker/connection_slots.h"

#include "src/base/assert.h"

namespace peregrine::broker {

void ConnectionSlots::set_limits(uint32_t total, const std::vector<uint32_t>& per_listener) {
  PG_ASSERT(per_listener.size() <= kMaxListeners);
  set_total_limit(total);
  for (size_t i = 0; i < per_listener.size(); ++i) {
    set_listener_limit(static_cast<uint16_t>(i), per_listener[i]);
  }
}

bool ConnectionSlots::take_one(std::atomic<uint32_t>& count, uint32_t limit) {
  // Counted even without a bound (the total is a gauge); refused only past one.
  if (count.fetch_add(1, std::memory_order_relaxed) >= limit && limit != 0) {
    count.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

bool ConnectionSlots::take(uint16_t listener) {
  if (!take_one(_total, _total_limit.load(std::memory_order_relaxed))) {
    return false;
  }
  if (listener < kMaxListeners &&
      !take_one(_counts[listener], _limits[listener].load(std::memory_order_relaxed))) {
    _total.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void ConnectionSlots::give_back(uint16_t listener) {
  PG_ASSERT(_total.load(std::memory_order_relaxed) > 0);
  _total.fetch_sub(1, std::memory_order_relaxed);
  if (listener < kMaxListeners) {
    PG_ASSERT(_counts[listener].load(std::memory_order_relaxed) > 0);
    _counts[listener].fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace peregrine::broker
