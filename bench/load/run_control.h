// State shared by the main thread and the worker threads of one generator process. The
// main thread owns the phase and the time marks (written before it advances the phase);
// workers only read them. Per-publisher progress is written by the publisher's worker
// (sent) and by every subscriber's worker (delivered), so each sits on its own cache line.
// Lives for the whole run; sized once before the workers start.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "bench/load/bench_config.h"
#include "bench/load/run_stats.h"

namespace peregrine::bench {

enum class Phase : int {
  kConnect,    // connect (and subscribe, unless retained-storm) every client
  kSeed,       // retained-storm: publishers write the retained set
  kSubscribe,  // retained-storm: subscribers subscribe and fetch it
  kRun,        // publish from run_start_ns until measure_to_ns
  kDrain,      // publishing stopped; subscribers keep reading
  kCleanup,    // retained-storm: publishers clear the retained set
  kHold,       // connections scenario: keep the idle connections open
  kStop,       // workers close everything and return
};

struct alignas(64) PublisherProgress {
  std::atomic<uint64_t> sent{0};       // messages written by the publisher
  std::atomic<uint64_t> delivered{0};  // copies received by its subscribers, all of them
};

// Per-worker counters the main thread reads for progress lines and phase decisions.
struct alignas(64) WorkerProgress {
  std::atomic<uint64_t> ready{0};     // connections set up (CONNACK, and SUBACK for subs)
  std::atomic<uint64_t> failed{0};    // connections that will never be ready
  std::atomic<uint64_t> received{0};  // delivered copies
  std::atomic<uint64_t> sent{0};
  std::atomic<uint32_t> phase_done{0};  // the worker finished the current phase's work
  std::atomic<bool> connect_done{false};  // no attempt left to make or wait for
};

struct RunControl {
  RunControl(const BenchConfig& c, uint32_t run, uint32_t worker_count)
      : config(c),
        run_id(run),
        publishers(std::make_unique<PublisherProgress[]>(c.publishers)),
        workers(std::make_unique<WorkerProgress[]>(worker_count)),
        worker_count(worker_count) {}

  // How many subscribers receive each message of one publisher.
  uint32_t fanout() const {
    return config.pattern == TopicPattern::kPairs ? 1 : config.subscribers;
  }

  // Stops the run early (unsupported feature, broker hung up). First reason wins.
  void abort(Verdict verdict, const char* why) {
    std::lock_guard<std::mutex> lock(_abort_mutex);  // cold path only
    abort_stats.set_verdict(verdict, why);
    aborted.store(true, std::memory_order_release);
  }

  const BenchConfig& config;
  const uint32_t run_id;
  std::atomic<Phase> phase{Phase::kConnect};
  std::atomic<bool> aborted{false};
  RunStats abort_stats;  // only verdict and reason are used
  uint64_t run_start_ns = 0;
  uint64_t measure_from_ns = 0;
  uint64_t measure_to_ns = 0;
  std::unique_ptr<PublisherProgress[]> publishers;
  std::unique_ptr<WorkerProgress[]> workers;
  const uint32_t worker_count;

 private:
  std::mutex _abort_mutex;
};

}  // namespace peregrine::bench
