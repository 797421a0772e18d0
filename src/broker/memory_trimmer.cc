#include "src/broker/memory_trimmer.h"

#include <malloc.h>
#include <time.h>

#include "src/base/log.h"

namespace peregrine::broker {

void MemoryTrimmer::on_timer() {
  if (_busiest() >= kIdlePermille) {
    _active_since_trim = true;
    _quiet = 0;
  } else if (_active_since_trim && ++_quiet >= kQuietChecks) {
    timespec start{};
    timespec end{};
    clock_gettime(CLOCK_MONOTONIC, &start);
    malloc_trim(0);
    clock_gettime(CLOCK_MONOTONIC, &end);
    _stats.memory_trims++;
    _active_since_trim = false;
    _quiet = 0;
    PG_DEBUG("quiet: freed memory given back to the system (malloc_trim) in %.1f ms",
             static_cast<double>(end.tv_sec - start.tv_sec) * 1e3 +
                 static_cast<double>(end.tv_nsec - start.tv_nsec) / 1e6);
  }
  _wheel.arm(*this, _now() + kCheckMs);
}

}  // namespace peregrine::broker
