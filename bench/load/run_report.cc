#include "bench/load/run_report.h"

#include <picojson.h>

#include <cstdio>
#include <string>

namespace peregrine::bench {
namespace {

const char* version_name(mqtt::ProtocolVersion v) {
  switch (v) {
    case mqtt::ProtocolVersion::kV31:
      return "3.1";
    case mqtt::ProtocolVersion::kV311:
      return "3.1.1";
    case mqtt::ProtocolVersion::kV5:
      return "5.0";
  }
  return "?";
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kOk:
      return "ok";
    case Verdict::kUnsupported:
      return "unsupported";
    case Verdict::kError:
      return "error";
  }
  return "?";
}

std::string json_string(const char* text) {
  return picojson::value(std::string(text)).serialize();
}

double us(uint64_t ns) { return static_cast<double>(ns) / 1e3; }

struct Figures {
  double delivered_per_s = 0;
  double sent_per_s = 0;
  double mb_per_s = 0;
  double connect_s = 0;
  double connect_per_s = 0;
  uint64_t duplicated = 0;
  std::string stopped_short;
};

Figures figures(const BenchConfig& config, const RunSummary& r) {
  const RunStats& s = r.stats;
  Figures f;
  if (r.measured_s > 0) {
    const double received = config.mode == RunMode::kRetained
                                ? static_cast<double>(s.received)
                                : static_cast<double>(s.received_measured);
    f.delivered_per_s = received / r.measured_s;
    f.sent_per_s = static_cast<double>(s.sent_measured) / r.measured_s;
    f.mb_per_s = static_cast<double>(s.payload_bytes_measured) / r.measured_s / 1e6;
  }
  if (s.last_connack_ns > s.first_connect_ns && s.first_connect_ns != 0) {
    f.connect_s = static_cast<double>(s.last_connack_ns - s.first_connect_ns) / 1e9;
    f.connect_per_s = static_cast<double>(s.connected) / f.connect_s;
  }
  f.duplicated = s.duplicated;
  if (config.mode == RunMode::kRetained && s.received > r.expected) {
    f.duplicated = s.received - r.expected;
  }
  if (config.mode == RunMode::kConnections && s.connected < config.connections) {
    char line[400];
    std::snprintf(line, sizeof(line), "held %llu of the %u connections asked for: %s",
                  static_cast<unsigned long long>(s.connected), config.connections,
                  s.stop_reason[0] != '\0' ? s.stop_reason
                                           : "connections were refused or timed out");
    f.stopped_short = line;
  }
  return f;
}

void print_table(const BenchConfig& c, const RunSummary& r, const Figures& f) {
  const RunStats& s = r.stats;
  std::printf("peregrine-bench  scenario %s  broker %s:%u  MQTT %s over %s\n",
              c.scenario.c_str(), c.host.c_str(), c.port, version_name(c.version),
              transport_name(c.transport));
  if (uses_tls(c.transport)) {
    std::printf("  tls         %s%s%s, certificate %s\n",
                s.tls_version[0] ? s.tls_version : "no session established",
                s.tls_cipher[0] ? " " : "", s.tls_cipher,
                c.ca_file.empty() ? "not checked" : ("checked against " + c.ca_file).c_str());
  }
  if (c.mode == RunMode::kConnections) {
    std::printf("  clients     %u idle connections, %u process(es), %u source address(es)\n",
                c.connections, r.processes, r.source_addresses);
  } else if (c.mode == RunMode::kRetained) {
    std::printf("  clients     %u publishers seed %u retained topics, then %u subscribers fetch"
                " them with one wildcard each, QoS %u, %u B\n",
                c.publishers, c.retained_topics, c.subscribers, c.qos, c.payload_size);
    std::printf("  fetch       %.3f s from the first SUBSCRIBE to the last retained message;"
                " latency below is SUBSCRIBE -> message\n", r.measured_s);
  } else {
    std::printf("  clients     %u publishers -> %u subscribers, pattern %s, QoS %u, %u B\n",
                c.publishers, c.subscribers, pattern_name(c.pattern), c.qos, c.payload_size);
    std::printf("  offered     %s, lag <= %u, warm-up %.1f s, measured %.2f s\n",
                c.rate > 0 ? (std::to_string(static_cast<long long>(c.rate)) + " msg/s").c_str()
                           : "max rate",
                c.max_lag, c.warmup_s, r.measured_s);
  }
  std::printf("  connect     %llu of %llu in %.2f s (%.0f/s), CONNACK p50 %.2f ms p99 %.2f ms%s\n",
              static_cast<unsigned long long>(s.connected),
              static_cast<unsigned long long>(s.connect_attempted), f.connect_s,
              f.connect_per_s, us(s.connect_latency.percentile(0.5)) / 1e3,
              us(s.connect_latency.percentile(0.99)) / 1e3,
              c.transport == Transport::kTcp ? "" : " (handshakes included)");
  if (c.mode != RunMode::kConnections) {
    std::printf("  sent        %llu (%.0f msg/s in the window)\n",
                static_cast<unsigned long long>(s.sent), f.sent_per_s);
    std::printf("  delivered   %llu of %llu (%.0f msg/s, %.1f MB/s of payload)\n",
                static_cast<unsigned long long>(s.received),
                static_cast<unsigned long long>(r.expected), f.delivered_per_s, f.mb_per_s);
    std::printf("  integrity   lost %llu  duplicated %llu  reordered %llu  foreign %llu"
                "  downgraded %llu  lag resets %llu\n",
                static_cast<unsigned long long>(r.lost),
                static_cast<unsigned long long>(f.duplicated),
                static_cast<unsigned long long>(s.reordered),
                static_cast<unsigned long long>(s.foreign),
                static_cast<unsigned long long>(s.downgraded),
                static_cast<unsigned long long>(s.lag_resets));
    const LatencyHistogram& h = s.latency;
    std::printf("  latency us  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (%llu samples)\n",
                us(h.percentile(0.5)), us(h.percentile(0.9)), us(h.percentile(0.99)),
                us(h.percentile(0.999)), us(h.max()), static_cast<unsigned long long>(h.count()));
  } else {
    std::printf("  held        %llu for %.1f s; closed by the broker %llu\n",
                static_cast<unsigned long long>(s.connected), c.duration_s,
                static_cast<unsigned long long>(s.closed_by_broker));
  }
  if (s.first_connect_failure[0] != '\0') {
    std::printf("  first connection failure: %s\n", s.first_connect_failure);
  }
  if (!f.stopped_short.empty()) {
    std::printf("  STOPPED SHORT: %s\n", f.stopped_short.c_str());
  }
  std::printf("  verdict     %s%s%s\n", verdict_name(s.verdict), s.reason[0] ? ": " : "",
              s.reason);
}

void print_json(const BenchConfig& c, const RunSummary& r, const Figures& f) {
  const RunStats& s = r.stats;
  const LatencyHistogram& h = s.latency;
  std::printf(
      "RESULT {\"scenario\":%s,\"mode\":\"%s\",\"host\":%s,\"port\":%u,\"mqtt\":%d,"
      "\"pattern\":\"%s\",\"qos\":%u,\"publishers\":%u,\"subscribers\":%u,"
      "\"payload_bytes\":%u,\"rate_target\":%.0f,\"max_lag\":%u,\"warmup_s\":%.3f,"
      "\"measured_s\":%.3f,\"run_id\":\"%08x\",\"threads\":%u,\"sched\":\"%s\","
      "\"processes\":%u,"
      "\"source_addresses\":%u,\"transport\":\"%s\",\"tls_version\":%s,\"tls_cipher\":%s,",
      json_string(c.scenario.c_str()).c_str(), mode_name(c.mode),
      json_string(c.host.c_str()).c_str(), c.port, static_cast<int>(c.version),
      pattern_name(c.pattern), c.qos, c.publishers, c.subscribers, c.payload_size, c.rate,
      c.max_lag, c.warmup_s, r.measured_s, r.run_id, c.threads,
      batch_scheduling(c) ? "batch" : "normal", r.processes,
      r.source_addresses, transport_name(c.transport), json_string(s.tls_version).c_str(),
      json_string(s.tls_cipher).c_str());
  std::printf(
      "\"sent\":%llu,\"sent_per_s\":%.1f,\"expected\":%llu,\"received\":%llu,"
      "\"delivered_per_s\":%.1f,\"payload_mb_per_s\":%.3f,\"lost\":%llu,\"duplicated\":%llu,"
      "\"reordered\":%llu,\"foreign\":%llu,\"downgraded\":%llu,\"lag_resets\":%llu,",
      static_cast<unsigned long long>(s.sent), f.sent_per_s,
      static_cast<unsigned long long>(r.expected), static_cast<unsigned long long>(s.received),
      f.delivered_per_s, f.mb_per_s, static_cast<unsigned long long>(r.lost),
      static_cast<unsigned long long>(f.duplicated), static_cast<unsigned long long>(s.reordered),
      static_cast<unsigned long long>(s.foreign), static_cast<unsigned long long>(s.downgraded),
      static_cast<unsigned long long>(s.lag_resets));
  std::printf(
      "\"latency_us\":{\"count\":%llu,\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
      "\"p999\":%.1f,\"max\":%.1f},",
      static_cast<unsigned long long>(h.count()), h.mean() / 1e3, us(h.percentile(0.5)),
      us(h.percentile(0.9)), us(h.percentile(0.99)), us(h.percentile(0.999)), us(h.max()));
  std::printf(
      "\"connect\":{\"target\":%llu,\"attempted\":%llu,\"connected\":%llu,\"refused\":%llu,"
      "\"timed_out\":%llu,\"local_fail\":%llu,\"closed_by_broker\":%llu,\"seconds\":%.3f,"
      "\"per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"per_process_cap\":%u,"
      "\"first_failure\":%s},",
      static_cast<unsigned long long>(c.mode == RunMode::kConnections
                                          ? c.connections
                                          : uint64_t{c.publishers} + c.subscribers),
      static_cast<unsigned long long>(s.connect_attempted),
      static_cast<unsigned long long>(s.connected),
      static_cast<unsigned long long>(s.connect_refused),
      static_cast<unsigned long long>(s.connect_timed_out),
      static_cast<unsigned long long>(s.connect_local_fail),
      static_cast<unsigned long long>(s.closed_by_broker), f.connect_s, f.connect_per_s,
      us(s.connect_latency.percentile(0.5)) / 1e3, us(s.connect_latency.percentile(0.99)) / 1e3,
      r.per_process_cap, json_string(s.first_connect_failure).c_str());
  std::printf("\"stopped_short\":%s,\"status\":\"%s\",\"reason\":%s}\n",
              f.stopped_short.empty() ? "null" : json_string(f.stopped_short.c_str()).c_str(),
              verdict_name(s.verdict), json_string(s.reason).c_str());
}

}  // namespace

int print_report(const BenchConfig& config, const RunSummary& summary) {
  const Figures f = figures(config, summary);
  if (!config.quiet) {
    print_table(config, summary, f);
  }
  print_json(config, summary, f);
  std::fflush(stdout);
  switch (summary.stats.verdict) {
    case Verdict::kOk:
      return 0;
    case Verdict::kUnsupported:
      return 3;
    case Verdict::kError:
      return 1;
  }
  return 1;
}

}  // namespace peregrine::bench
