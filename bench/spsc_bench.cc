// Mailbox throughput: one producer thread, one consumer thread, batches published per
// "turn" of 64 items as a shard publishes at the end of its loop turn. The consumer takes
// one item at a time (try_pop: a store of the shared head per item), or up to 64 at once
// as Shard::drain_inbound() does (pop_some: one store per batch). Each iteration starts
// its consumer thread, which the 65,536 items it moves amortise.
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "src/shard/envelope.h"
#include "src/shard/spsc_queue.h"

namespace {

using peregrine::shard::Envelope;
using peregrine::shard::SpscQueue;

template <bool kBatched>
void BM_SpscAcrossThreads(benchmark::State& state) {
  const int64_t per_iteration = 1 << 16;
  for (auto _ : state) {
    SpscQueue<Envelope> queue(4096);
    std::thread consumer([&] {
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
  state.SetItemsProcessed(state.iterations() * per_iteration);
}
BENCHMARK(BM_SpscAcrossThreads<false>)->Name("BM_SpscAcrossThreads/try_pop")->UseRealTime();
BENCHMARK(BM_SpscAcrossThreads<true>)->Name("BM_SpscAcrossThreads/pop_some_64")->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
