// Prints a finished run: the human table (unless --quiet) and exactly one line
// "RESULT {json}" for scripts. Returns the process exit status: 0 ok, 1 error,
// 3 unsupported (the broker refused a feature the run needs).
#pragma once

#include "bench/load/bench_config.h"
#include "bench/load/bench_runner.h"

namespace peregrine::bench {

int print_report(const BenchConfig& config, const RunSummary& summary);

}  // namespace peregrine::bench
