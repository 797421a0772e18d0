// Runs one peregrine-bench run in this process, or, for the connections scenario when one
// process may not open enough files, in several forked generator processes whose stats
// come back through pipes. Owns the worker threads for the run's lifetime and drives the
// phases of RunControl from the calling (main) thread.
#pragma once

#include <cstdint>

#include "bench/load/bench_config.h"
#include "bench/load/run_stats.h"

namespace peregrine::bench {

struct RunSummary {
  RunStats stats;
  uint32_t run_id = 0;
  uint32_t processes = 1;
  uint32_t source_addresses = 1;
  uint32_t per_process_cap = 0;  // connections one process may hold (open-files limit)
  uint64_t expected = 0;         // deliveries owed to subscribers
  uint64_t lost = 0;
  double measured_s = 0;         // window the msg/s figures are over
};

RunSummary run_bench(const BenchConfig& config);

}  // namespace peregrine::bench
