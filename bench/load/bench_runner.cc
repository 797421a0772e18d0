#include "bench/load/bench_runner.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "bench/load/load_worker.h"
#include "bench/load/run_control.h"
#include "bench/load/source_addresses.h"
#include "src/base/clock.h"

namespace peregrine::bench {
namespace {

constexpr uint64_t kTickNs = 20'000'000;
constexpr uint64_t kSecondNs = 1'000'000'000;
constexpr double kSeedTimeoutS = 60;
// Descriptors a generator process keeps for itself: rings, pipes, stdio.
constexpr uint64_t kReservedFiles = 64;

// Connections per source address for this machine's ephemeral port range
// (source_addresses.h says why a quarter of it).
uint32_t this_machine_connections_per_source() {
  uint32_t low = 32768;  // the kernel's defaults, if the range cannot be read
  uint32_t high = 60999;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    uint32_t l = 0;
    uint32_t h = 0;
    if (std::fscanf(f, "%u %u", &l, &h) == 2) {
      low = l;
      high = h;
    }
    std::fclose(f);
  }
  return connections_per_source(low, high);
}

uint64_t seconds_to_ns(double s) { return static_cast<uint64_t>(s * 1e9); }

void sleep_tick() { std::this_thread::sleep_for(std::chrono::nanoseconds(kTickNs)); }

// Raises the soft open-files limit to the hard one; returns what one process may hold.
uint32_t connection_cap() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  const uint64_t usable = limit.rlim_cur > kReservedFiles ? limit.rlim_cur - kReservedFiles : 1;
  return static_cast<uint32_t>(std::min<uint64_t>(usable, UINT32_MAX));
}

std::vector<std::vector<ClientSpec>> plan(const BenchConfig& c, uint32_t threads,
                                          uint32_t id_offset) {
  std::vector<std::vector<ClientSpec>> per_worker(threads);
  if (c.mode == RunMode::kConnections) {
    for (uint32_t i = 0; i < c.connections; i++) {
      per_worker[i % threads].push_back({Role::kIdle, i, id_offset + i});
    }
    return per_worker;
  }
  // Subscribers first, so they are subscribed early; pair i shares a thread with its
  // publisher, which keeps its lag counter on one core.
  for (uint32_t i = 0; i < c.subscribers; i++) {
    per_worker[i % threads].push_back({Role::kSubscriber, i, i});
  }
  for (uint32_t i = 0; i < c.publishers; i++) {
    per_worker[i % threads].push_back({Role::kPublisher, i, c.subscribers + i});
  }
  return per_worker;
}

struct Totals {
  uint64_t ready = 0;
  uint64_t failed = 0;
  uint64_t received = 0;
  uint64_t sent = 0;
  uint64_t phase_done = 0;
  bool connect_done = true;
};

Totals totals(const RunControl& control) {
  Totals t;
  for (uint32_t i = 0; i < control.worker_count; i++) {
    const WorkerProgress& w = control.workers[i];
    t.ready += w.ready.load(std::memory_order_relaxed);
    t.failed += w.failed.load(std::memory_order_relaxed);
    t.received += w.received.load(std::memory_order_relaxed);
    t.sent += w.sent.load(std::memory_order_relaxed);
    t.phase_done += w.phase_done.load(std::memory_order_relaxed);
    t.connect_done = t.connect_done && w.connect_done.load();
  }
  return t;
}

// Prints a progress line once a second on runs long enough to want one.
class Progress {
 public:
  Progress(const BenchConfig& config, uint64_t start)
      : _on(config.progress && !config.quiet), _start(start), _next(start + kSecondNs) {}

  void tick(const char* phase, const Totals& t, uint64_t now) {
    if (!_on || now < _next) {
      return;
    }
    const double span = static_cast<double>(now - _last_ns) / 1e9;
    std::printf("PROGRESS t=%.0fs phase=%s ready=%llu failed=%llu sent/s=%.0f recv/s=%.0f\n",
                static_cast<double>(now - _start) / 1e9, phase,
                static_cast<unsigned long long>(t.ready),
                static_cast<unsigned long long>(t.failed),
                static_cast<double>(t.sent - _last_sent) / span,
                static_cast<double>(t.received - _last_received) / span);
    std::fflush(stdout);
    _next += kSecondNs;
    _last_ns = now;
    _last_sent = t.sent;
    _last_received = t.received;
  }

 private:
  bool _on;
  uint64_t _start;
  uint64_t _next;
  uint64_t _last_ns = _start;
  uint64_t _last_sent = 0;
  uint64_t _last_received = 0;
};

// "MARK name" on stdout brackets the measured window, so a script sampling the broker's
// CPU time (bench/compare) can take its readings at the same instants.
void mark(const char* name) {
  std::printf("MARK %s\n", name);
  std::fflush(stdout);
}

bool aborted(const RunControl& control) { return control.aborted.load(std::memory_order_acquire); }

void connect_phase(RunControl& control, uint64_t total, Progress& progress) {
  const BenchConfig& config = control.config;
  const bool idle = config.mode == RunMode::kConnections;
  uint64_t last_change = base::monotonic_ns();
  uint64_t last_count = 0;
  while (!aborted(control)) {
    const uint64_t now = base::monotonic_ns();
    const Totals t = totals(control);
    progress.tick("connect", t, now);
    if (idle ? t.connect_done : t.ready == total) {
      return;
    }
    if (!idle && t.failed > 0) {
      char why[160];
      std::snprintf(why, sizeof(why), "%llu of %llu connections failed",
                    static_cast<unsigned long long>(t.failed),
                    static_cast<unsigned long long>(total));
      control.abort(Verdict::kError, why);
      return;
    }
    if (t.ready + t.failed != last_count) {
      last_count = t.ready + t.failed;
      last_change = now;
    } else if (!idle && now - last_change > seconds_to_ns(config.connect_timeout_s + 2)) {
      control.abort(Verdict::kError, "connections stopped making progress (no SUBACK?)");
      return;
    }
    sleep_tick();
  }
}

uint64_t delivered_total(const RunControl& control) {
  uint64_t sum = 0;
  for (uint32_t p = 0; p < control.config.publishers; p++) {
    sum += control.publishers[p].delivered.load(std::memory_order_relaxed);
  }
  return sum;
}

uint64_t sent_total(const RunControl& control) {
  uint64_t sum = 0;
  for (uint32_t p = 0; p < control.config.publishers; p++) {
    sum += control.publishers[p].sent.load(std::memory_order_relaxed);
  }
  return sum;
}

void traffic_phase(RunControl& control, Progress& progress) {
  const BenchConfig& config = control.config;
  control.run_start_ns = base::monotonic_ns();
  control.measure_from_ns = control.run_start_ns + seconds_to_ns(config.warmup_s);
  control.measure_to_ns = control.measure_from_ns + seconds_to_ns(config.duration_s);
  control.phase.store(Phase::kRun, std::memory_order_release);
  bool marked = false;
  while (!aborted(control) && base::monotonic_ns() < control.measure_to_ns) {
    const uint64_t now = base::monotonic_ns();
    if (!marked && now >= control.measure_from_ns) {
      marked = true;
      mark("measure-start");
    }
    progress.tick(now < control.measure_from_ns ? "warmup" : "run", totals(control), now);
    sleep_tick();
  }
  mark("measure-end");
  control.phase.store(Phase::kDrain, std::memory_order_release);
  const uint64_t drain_end = base::monotonic_ns() + seconds_to_ns(config.drain_s);
  while (!aborted(control) && base::monotonic_ns() < drain_end) {
    if (delivered_total(control) >= sent_total(control) * control.fanout()) {
      return;
    }
    progress.tick("drain", totals(control), base::monotonic_ns());
    sleep_tick();
  }
}

// Waits for the publishers' PINGREQ barrier of a seed or cleanup phase.
void wait_publishers(RunControl& control, uint64_t target, Progress& progress, double limit_s) {
  const uint64_t end = base::monotonic_ns() + seconds_to_ns(limit_s);
  while (!aborted(control) && base::monotonic_ns() < end) {
    const Totals t = totals(control);
    if (t.phase_done >= target) {
      return;
    }
    progress.tick(control.phase.load() == Phase::kSeed ? "seed" : "cleanup", t,
                  base::monotonic_ns());
    sleep_tick();
  }
  if (!aborted(control)) {
    control.abort(Verdict::kError, "publishers did not finish writing the retained set");
  }
}

void retained_phase(RunControl& control, Progress& progress) {
  const BenchConfig& config = control.config;
  const uint64_t publishers = config.publishers;
  control.phase.store(Phase::kSeed, std::memory_order_release);
  wait_publishers(control, publishers, progress, kSeedTimeoutS);
  if (aborted(control)) {
    return;
  }
  mark("measure-start");
  control.phase.store(Phase::kSubscribe, std::memory_order_release);
  const uint64_t expected = uint64_t{config.subscribers} * config.retained_topics;
  const uint64_t start = base::monotonic_ns();
  const uint64_t end = start + seconds_to_ns(config.duration_s);
  uint64_t last_count = 0;
  uint64_t last_change = start;
  while (!aborted(control) && base::monotonic_ns() < end) {
    const Totals t = totals(control);
    const uint64_t now = base::monotonic_ns();
    if (t.received >= expected) {
      break;
    }
    if (t.received != last_count) {
      last_count = t.received;
      last_change = now;
    } else if (now - last_change > seconds_to_ns(std::max(config.drain_s, 1.0))) {
      break;  // nothing more is coming
    }
    progress.tick("fetch", t, now);
    sleep_tick();
  }
  mark("measure-end");
  if (totals(control).received == 0) {
    control.abort(Verdict::kUnsupported, "no retained message was delivered to a subscriber");
  }
  control.phase.store(Phase::kCleanup, std::memory_order_release);
  wait_publishers(control, 2 * publishers, progress, kSeedTimeoutS);
}

void hold_phase(RunControl& control, Progress& progress) {
  control.phase.store(Phase::kHold, std::memory_order_release);
  mark("hold-start");
  const uint64_t end = base::monotonic_ns() + seconds_to_ns(control.config.duration_s);
  while (base::monotonic_ns() < end) {
    progress.tick("hold", totals(control), base::monotonic_ns());
    sleep_tick();
  }
  mark("hold-end");
}

RunStats run_local(const BenchConfig& config, uint32_t run_id, uint32_t id_offset,
                   uint32_t source_addresses, uint32_t processes) {
  const uint64_t clients = config.mode == RunMode::kConnections
                               ? config.connections
                               : uint64_t{config.publishers} + config.subscribers;
  const auto threads = static_cast<uint32_t>(
      std::max<uint64_t>(1, std::min<uint64_t>(config.threads, clients)));
  RunControl control(config, run_id, threads);
  const double connect_rate = config.connect_rate / threads / processes;
  std::vector<std::unique_ptr<LoadWorker>> workers;
  auto plans = plan(config, threads, id_offset);
  for (uint32_t i = 0; i < threads; i++) {
    workers.push_back(std::make_unique<LoadWorker>(control, i, std::move(plans[i]),
                                                   source_addresses, connect_rate));
  }
  std::vector<std::thread> threads_running;
  for (auto& w : workers) {
    threads_running.emplace_back([&w] { w->run(); });
  }
  Progress progress(config, base::monotonic_ns());
  connect_phase(control, clients, progress);
  if (!aborted(control)) {
    switch (config.mode) {
      case RunMode::kTraffic:
        traffic_phase(control, progress);
        break;
      case RunMode::kRetained:
        retained_phase(control, progress);
        break;
      case RunMode::kConnections:
        hold_phase(control, progress);
        break;
    }
  }
  control.phase.store(Phase::kStop, std::memory_order_release);
  for (auto& t : threads_running) {
    t.join();
  }
  RunStats stats;
  for (auto& w : workers) {
    stats.merge(w->stats());
  }
  stats.merge(control.abort_stats);
  return stats;
}

// Connections scenario over several processes: each holds a share, stats come back whole.
RunStats run_processes(const BenchConfig& config, uint32_t run_id, uint32_t processes,
                       uint32_t source_addresses) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<int> pipes;
  std::vector<pid_t> children;
  uint32_t offset = 0;
  for (uint32_t k = 0; k < processes; k++) {
    BenchConfig share = config;
    share.connections = config.connections / processes + (k < config.connections % processes);
    share.progress = k == 0 && config.progress;
    int fds[2];
    if (pipe(fds) != 0) {
      break;
    }
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      const RunStats stats = run_local(share, run_id, offset, source_addresses, processes);
      const auto* bytes = reinterpret_cast<const char*>(&stats);
      for (size_t done = 0; done < sizeof(stats);) {
        const ssize_t n = write(fds[1], bytes + done, sizeof(stats) - done);
        if (n <= 0) {
          _exit(1);
        }
        done += static_cast<size_t>(n);
      }
      std::fflush(stdout);
      _exit(0);
    }
    close(fds[1]);
    pipes.push_back(fds[0]);
    children.push_back(pid);
    offset += share.connections;
  }
  RunStats total;
  for (size_t k = 0; k < pipes.size(); k++) {
    RunStats stats;
    auto* bytes = reinterpret_cast<char*>(&stats);
    size_t done = 0;
    while (done < sizeof(stats)) {
      const ssize_t n = read(pipes[k], bytes + done, sizeof(stats) - done);
      if (n <= 0) {
        break;
      }
      done += static_cast<size_t>(n);
    }
    close(pipes[k]);
    waitpid(children[k], nullptr, 0);
    if (done == sizeof(stats)) {
      total.merge(stats);
    } else {
      total.set_verdict(Verdict::kError, "a generator process died");
    }
  }
  return total;
}

}  // namespace

RunSummary run_bench(const BenchConfig& config) {
  RunSummary summary;
  summary.run_id = std::random_device{}();
  summary.per_process_cap = connection_cap();
  const uint64_t clients = config.mode == RunMode::kConnections
                               ? config.connections
                               : uint64_t{config.publishers} + config.subscribers;
  summary.source_addresses =
      config.source_addresses != 0
          ? config.source_addresses
          : source_addresses_for(clients, this_machine_connections_per_source());
  if (config.mode == RunMode::kConnections) {
    const uint64_t needed = (clients + summary.per_process_cap - 1) / summary.per_process_cap;
    summary.processes = config.processes != 0 ? config.processes
                                              : static_cast<uint32_t>(std::max<uint64_t>(1, needed));
  } else if (clients > summary.per_process_cap) {
    std::fprintf(stderr,
                 "peregrine-bench: %llu clients exceed this process's open-files limit "
                 "(%u usable); traffic runs use one process\n",
                 static_cast<unsigned long long>(clients), summary.per_process_cap);
  }
  if (summary.processes > 1) {
    summary.stats = run_processes(config, summary.run_id, summary.processes,
                                  summary.source_addresses);
  } else {
    summary.stats = run_local(config, summary.run_id, 0, summary.source_addresses, 1);
  }
  const RunStats& s = summary.stats;
  switch (config.mode) {
    case RunMode::kTraffic: {
      const uint64_t fanout = config.pattern == TopicPattern::kPairs ? 1 : config.subscribers;
      summary.expected = s.sent * fanout;
      summary.measured_s = config.duration_s;
      break;
    }
    case RunMode::kRetained:
      summary.expected = uint64_t{config.subscribers} * config.retained_topics;
      if (s.last_receive_ns > s.first_subscribe_ns && s.first_subscribe_ns != 0) {
        summary.measured_s = static_cast<double>(s.last_receive_ns - s.first_subscribe_ns) / 1e9;
      }
      break;
    case RunMode::kConnections:
      summary.expected = 0;
      summary.measured_s = config.duration_s;
      break;
  }
  const uint64_t unique = s.received - s.duplicated;
  summary.lost = summary.expected > unique ? summary.expected - unique : 0;
  return summary;
}

}  // namespace peregrine::bench
