// broker_sim: runs the seeded simulation of the whole broker (tests/sim/broker_sim.h).
//   broker_sim --seed 42                 one run; a failure prints its seed
//   broker_sim --seeds 200 [--from 1000] many runs (the long mode)
//   broker_sim --seed 42 --replay        the run twice: the digests must match
// Options: --steps N, --shards N, --clients N, --no-crash (persistence as the seed says,
// no crash), --verbose. Ends with "N passed, N failed".
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tests/sim/broker_sim.h"

using peregrine::sim::SimRunOptions;
using peregrine::sim::SimRunResult;

namespace {

// Holds 1–4 MiB of small blocks, so that later small allocations land past them.
std::vector<std::unique_ptr<char[]>> shift_heap(uint64_t seed) {
  std::vector<std::unique_ptr<char[]>> blocks(16384 + (seed % 4) * 16384);
  for (auto& block : blocks) {
    block = std::make_unique<char[]>(48);
  }
  return blocks;
}

}  // namespace

int main(int argc, char** argv) {
  SimRunOptions options;
  uint64_t seeds = 1;
  bool replay = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> uint64_t {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "broker_sim: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return std::strtoull(argv[++i], nullptr, 10);
    };
    if (arg == "--seed" || arg == "--from") {
      options.seed = value();
    } else if (arg == "--seeds") {
      seeds = value();
    } else if (arg == "--steps") {
      options.steps = static_cast<uint32_t>(value());
    } else if (arg == "--shards") {
      options.shards = static_cast<uint16_t>(value());
    } else if (arg == "--clients") {
      options.clients = static_cast<uint32_t>(value());
    } else if (arg == "--no-crash") {
      options.crash = false;
    } else if (arg == "--replay") {
      replay = true;
    } else if (arg == "--verbose") {
      options.verbose = true;
    } else {
      std::fprintf(stderr, "usage: broker_sim [--seed S | --from S --seeds N] [--steps N] "
                           "[--shards N] [--clients N] [--no-crash] [--replay] [--verbose]\n");
      return 2;
    }
  }
  uint64_t passed = 0;
  uint64_t failed = 0;
  const uint64_t first = options.seed;
  for (uint64_t seed = first; seed < first + seeds; ++seed) {
    options.seed = seed;
    const SimRunResult result = peregrine::sim::run_simulation(options);
    bool ok = result.ok;
    std::string why = result.failure;
    if (ok && replay) {
      // The second run's heap starts elsewhere, as a new process's would (ASLR): a run
      // whose course follows addresses — a pointer-keyed map, or an absl hash table,
      // whose iteration order is salted by its own address — fails here, in every build,
      // rather than only now and then under ASan's allocator.
      const std::vector<std::unique_ptr<char[]>> shift = shift_heap(seed);
      const SimRunResult again = peregrine::sim::run_simulation(options);
      if (again.digest != result.digest) {
        ok = false;
        why = "the same seed did not replay the same run (digest " +
              std::to_string(result.digest) + " then " + std::to_string(again.digest) + ")";
      }
    }
    if (ok) {
      ++passed;
      if (options.verbose || seeds == 1) {
        std::printf("seed %" PRIu64 " ok: published %" PRIu64 ", acknowledged %" PRIu64
                    ", delivered %" PRIu64 ", owed deliveries checked %" PRIu64
                    ", digest %016" PRIx64 "; %s\n",
                    seed, result.published, result.acknowledged, result.delivered,
                    result.checked, result.digest, result.summary.c_str());
      }
    } else {
      ++failed;
      std::printf("seed %" PRIu64 " FAILED: %s\n  %s\n  replay: broker_sim --seed %" PRIu64
                  "%s\n",
                  seed, why.c_str(), result.summary.c_str(), seed,
                  options.steps != SimRunOptions{}.steps
                      ? (" --steps " + std::to_string(options.steps)).c_str()
                      : "");
    }
    std::fflush(stdout);
  }
  std::printf("%" PRIu64 " passed, %" PRIu64 " failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
