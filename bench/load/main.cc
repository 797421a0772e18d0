// peregrine-bench: the MQTT load generator (see bench/README.md and --help).
#include <csignal>

#include "bench/load/bench_config.h"
#include "bench/load/bench_runner.h"
#include "bench/load/run_report.h"

int main(int argc, char** argv) {
  // A broker that hangs up mid-write must not kill the generator.
  std::signal(SIGPIPE, SIG_IGN);
  const peregrine::bench::BenchConfig config = peregrine::bench::parse_bench_config(argc, argv);
  const peregrine::bench::RunSummary summary = peregrine::bench::run_bench(config);
  return peregrine::bench::print_report(config, summary);
}
