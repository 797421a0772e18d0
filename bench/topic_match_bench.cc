// Topic matching against a shard's trie: one filter, and 1,000,000 filters (device-style
// topics with a few wildcard filters mixed in), the way a busy shard holds them.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "src/broker/topic_trie.h"

namespace {

using peregrine::broker::TopicTrie;

struct Count {
  int n = 0;
  bool empty() const { return n == 0; }
};

void BM_MatchOneFilter(benchmark::State& state) {
  TopicTrie<Count> trie;
  trie.insert("sensors/+/temp").n = 1;
  int hits = 0;
  for (auto _ : state) {
    trie.match("sensors/42/temp", [&](Count& c) { hits += c.n; });
  }
  benchmark::DoNotOptimize(hits);
}
BENCHMARK(BM_MatchOneFilter);

TopicTrie<Count>& million() {
  static TopicTrie<Count>* trie = [] {
    auto* t = new TopicTrie<Count>();
    for (int i = 0; i < 1'000'000; ++i) {
      t->insert("site/" + std::to_string(i % 1000) + "/dev/" + std::to_string(i) + "/temp").n = 1;
    }
    t->insert("site/+/dev/+/temp").n = 1;
    t->insert("site/7/#").n = 1;
    t->insert("#").n = 1;
    return t;
  }();
  return *trie;
}

void BM_MatchMillionFilters(benchmark::State& state) {
  TopicTrie<Count>& trie = million();
  std::vector<std::string> topics;
  for (int i = 0; i < 1024; ++i) {
    const int dev = (i * 7919) % 1'000'000;
    topics.push_back("site/" + std::to_string(dev % 1000) + "/dev/" + std::to_string(dev) +
                     "/temp");
  }
  size_t next = 0;
  int hits = 0;
  for (auto _ : state) {
    trie.match(topics[next++ & 1023], [&](Count& c) { hits += c.n; });
  }
  benchmark::DoNotOptimize(hits);
}
BENCHMARK(BM_MatchMillionFilters);

void BM_MatchMillionFiltersMiss(benchmark::State& state) {
  TopicTrie<Count>& trie = million();
  int hits = 0;
  for (auto _ : state) {
    trie.match("other/topic/entirely", [&](Count& c) { hits += c.n; });
  }
  benchmark::DoNotOptimize(hits);
}
BENCHMARK(BM_MatchMillionFiltersMiss);

}  // namespace

BENCHMARK_MAIN();
