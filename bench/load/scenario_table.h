// The named scenarios of peregrine-bench (`--scenario NAME`): presets over BenchConfig's
// defaults. Flags given on the command line override any field a preset sets.
#pragma once

#include <string_view>

#include "bench/load/bench_config.h"

namespace peregrine::bench {

// Applies the preset `name` to `config`; false when there is no such scenario.
bool apply_scenario(std::string_view name, BenchConfig& config);

// One line per scenario: name and what it runs.
void print_scenarios();

}  // namespace peregrine::bench
