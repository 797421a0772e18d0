// Mailbox throughput: one producer thread, one consumer thread, batches published per
// "turn" of 64 items as a shard publishes at the end of its loop turn. The consumer takes
// one item at a time (try_pop: a store of the shared head per item), or up to 64 at once
// as Shard::drain_inbound() does (pop_some: one store per batch). Each iteration starts
// its consumer thread, which the 65,536 items it moves amortise. With two CPUs or more the
// two threads are pinned to different ones, as two busy shards run on two CPUs (pinned or
// not). Left to the scheduler, the same runs gave either 3.6-5.1M items/s (the threads
// taking turns on one CPU) or 53-176M, by placement; pinned, 10-16M in each of 10 runs.
#include <benchmark/benchmark.h>

#include <pthread.h>
#include <sched.h>

#include <thread>
#include <utility>

#include "src/shard/envelope.h"
#include "src/base/spsc_queue.h"

namespace {

using peregrine::shard::Envelope;
using peregrine::base::SpscQueue;

// The first two CPUs this process may run on, or {-1, -1} when it has fewer than two.
std::pair<int, int> two_cpus(const cpu_set_t& allowed) {
  int found[2] = {-1, -1};
  for (int cpu = 0, n = 0; cpu < CPU_SETSIZE && n < 2; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) {
      found[n++] = cpu;
    }
  }
  return found[1] < 0 ? std::pair{-1, -1} : std::pair{found[0], found[1]};
}

void pin_this_thread(int cpu) {
  if (cpu < 0) {
    return;
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

template <bool kBatched>
void BM_SpscAcrossThreads(benchmark::State& state) {
  const int64_t per_iteration = 1 << 16;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  pthread_getaffinity_np(pthread_self(), sizeof allowed, &allowed);
  const auto [producer_cpu, consumer_cpu] = two_cpus(allowed);
  pin_this_thread(producer_cpu);
  for (auto _ : state) {
    SpscQueue<Envelope> queue(4096);
    std::thread consumer([&, consumer_cpu = consumer_cpu] {
      pin_this_thread(consumer_cpu);
      Envelope batch[64];
      int64_t got = 0;
      while (got < per_iteration) {
        if constexpr (kBatched) {
          got += queue.pop_some(batch, 64);
        } else if (queue.try_pop(batch[0])) {
          ++got;
        }
      }
      benchmark::DoNotOptimize(batch[0]);
    });
    int64_t sent = 0;
    while (sent < per_iteration) {
      for (int i = 0; i < 64 && sent < per_iteration; ++i) {
        if (!queue.try_push(Envelope{1, 0, 0, static_cast<uint64_t>(sent), nullptr})) {
          break;
        }
        ++sent;
      }
      queue.publish();
    }
    consumer.join();
  }
  pthread_setaffinity_np(pthread_self(), sizeof allowed, &allowed);
  state.SetItemsProcessed(state.iterations() * per_iteration);
}
BENCHMARK(BM_SpscAcrossThreads<false>)->Name("BM_SpscAcrossThreads/try_pop")->UseRealTime();
BENCHMARK(BM_SpscAcrossThreads<true>)->Name("BM_SpscAcrossThreads/pop_some_64")->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
