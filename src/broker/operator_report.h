// The operator's pages over every shard: `/metrics` (Prometheus' text exposition format,
// version 0.0.4) and `/status` (one self-contained HTML page). A request on any shard
// gathers one ShardFigures from every shard into an OperatorReport (mail::ReportAsk and
// ReportBack: the report is lent to each shard, which writes its own slot only, and
// stays owned by the shard that made it) and renders them here.
//
// Why our own writer: no Debian package writes Prometheus text from C++ (prometheus-cpp
// is not packaged), and the format is a few lines of escaping.
//
// Pure: figures in, text out; no clock, no I/O.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "src/broker/broker_stats.h"
#include "src/broker/sys_publisher.h"
#include "src/http/operator_pages.h"

namespace peregrine::broker {

// What the process is, for build info and the status page; constant for its life, filled
// by main (embedders and the simulation may leave it empty).
struct ProcessFacts {
  std::string version;
  std::string io_backend;   // "uring" or "epoll"
  std::string tls_library;  // as `--version` says it
  std::vector<std::string> listeners;  // URLs
  int64_t started_unix_ms = 0;
};

// The counters a shard had a while ago, for rates over the last minute.
class CounterHistory {
 public:
  static constexpr uint64_t kStepMs = 10'000;
  static constexpr uint64_t kWindowMs = 60'000;

  // Keeps `stats` as the sample for now when a step has passed since the last one (cheap
  // when not: one comparison; call it once a turn).
  void maybe_sample(uint64_t now_ms, const BrokerStats& stats) {
    if (_count != 0 && now_ms < _samples[newest()].at_ms + kStepMs) {
      return;
    }
    _samples[(_first + _count) % kSlots] = {now_ms, stats};
    if (_count < kSlots) {
      _count++;
    } else {
      _first = (_first + 1) % kSlots;
    }
  }
  // The oldest sample at most a window old at `now_ms` (nullptr: none yet).
  const BrokerStats* window_start(uint64_t now_ms, uint64_t* age_ms) const {
    for (size_t i = 0; i < _count; ++i) {
      const Sample& sample = _samples[(_first + i) % kSlots];
      if (sample.at_ms + kWindowMs >= now_ms) {
        *age_ms = now_ms - sample.at_ms;
        return &sample.stats;
      }
    }
    return nullptr;
  }

 private:
  struct Sample {
    uint64_t at_ms = 0;
    BrokerStats stats;
  };
  // A window's worth of steps and one: the oldest within a minute is always kept.
  static constexpr size_t kSlots = kWindowMs / kStepMs + 1;
  size_t newest() const { return (_first + _count - 1) % kSlots; }
  std::array<Sample, kSlots> _samples{};
  size_t _first = 0;
  size_t _count = 0;
};

// What one shard reports.
struct ShardFigures {
  SysSnapshot now;
  BrokerStats window_start;    // the counters `window_ms` ago
  uint64_t window_ms = 0;      // 0: no earlier sample (rates unknown)
};

// One request's gathering, owned by the shard it was asked on.
struct OperatorReport {
  http::OperatorPage page = http::OperatorPage::kMetrics;
  uint16_t origin = 0;     // the shard that made it and answers
  uint64_t waiter = 0;     // the asking connection's id there
  uint16_t remaining = 0;  // shards that have not filled their slot yet
  std::vector<ShardFigures> shards;  // one slot per shard, written by that shard only
};

// Prometheus text: every counter (per shard, `_total`), the reason codes bad input was
// answered with, the gauges (per shard), readiness, build info and start time.
std::string render_metrics(const std::vector<ShardFigures>& shards, const ProcessFacts& facts,
                           http::Readiness readiness);

// The status page: version, uptime, shards, connections, sessions, message rates over the
// last minute, listeners, refusals over the last minute by reason; reloads itself.
std::string render_status(const std::vector<ShardFigures>& shards, const ProcessFacts& facts,
                          http::Readiness readiness, int64_t now_unix_ms);

// A Prometheus label value or HELP text, escaped (backslash, double quote in labels, and
// newline).
std::string prometheus_escape(std::string_view text, bool label);

}  // namespace peregrine::broker
