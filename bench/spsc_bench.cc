// Mailbox throughput: one producer thread, one consumer thread, batches published per
// "turn" of 64 items as a shard publishes at the end of its loop turn.
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "src/shard/envelope.h"
#include "src/shard/spsc_queue.h"

namespace {

using peregrine::shard::Envelope;
using peregrine::shard::SpscQueue;

void BM_SpscAcrossThreads(benchmark::State& state) {
  const int64_t per_iteration = 1 << 16;
  for (auto _ : state) {
    SpscQueue<Envelope> queue(4096);
    std::atomic<bool> done{false};
    std::thread consumer([&] {
      Envelope e;
      int64_t got = 0;
      while (got < per_iteration) {
        if (queue.try_pop(e)) {
          ++got;
        }
      }
      done = true;
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
BENCHMARK(BM_SpscAcrossThreads)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
