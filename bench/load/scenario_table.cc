#include "bench/load/scenario_table.h"

#include <cstdio>
#include <string>

namespace peregrine::bench {
namespace {

struct Scenario {
  const char* name;
  const char* summary;
  void (*apply)(BenchConfig& config);
};

void pairs_preset(BenchConfig& c, uint32_t pairs) {
  c.mode = RunMode::kTraffic;
  c.pattern = TopicPattern::kPairs;
  c.publishers = pairs;
  c.subscribers = pairs;
  c.topic = "bench/%r/%i";
}

constexpr Scenario kScenarios[] = {
    {"fan-in", "64 publishers -> 1 wildcard subscriber, QoS 0, max rate",
     [](BenchConfig& c) {
       c.pattern = TopicPattern::kFanIn;
       c.publishers = 64;
       c.subscribers = 1;
       c.qos = 0;
       c.rate = 0;
     }},
    {"fan-out", "1 publisher -> 500 subscribers, 200 msg/s (100,000 deliveries/s)",
     [](BenchConfig& c) {
       c.pattern = TopicPattern::kShared;
       c.topic = "bench/%r/fan-out";
       c.publishers = 1;
       c.subscribers = 500;
       c.qos = 0;
       c.rate = 200;
     }},
    {"pairs", "200 publisher/subscriber pairs, QoS 0, max rate",
     [](BenchConfig& c) {
       pairs_preset(c, 200);
       c.qos = 0;
       c.rate = 0;
     }},
    {"tls", "pairs over TLS (--transport tls; the broker's mqtts:// listener)",
     [](BenchConfig& c) {
       pairs_preset(c, 200);
       c.qos = 0;
       c.rate = 0;
       c.transport = Transport::kTls;
     }},
    {"ws", "pairs over WebSocket (--transport ws; the broker's ws:// listener)",
     [](BenchConfig& c) {
       pairs_preset(c, 200);
       c.qos = 0;
       c.rate = 0;
       c.transport = Transport::kWs;
     }},
    {"wss", "pairs over WebSocket in TLS (--transport wss; the broker's wss:// listener)",
     [](BenchConfig& c) {
       pairs_preset(c, 200);
       c.qos = 0;
       c.rate = 0;
       c.transport = Transport::kWss;
     }},
    {"pairs-qos1", "200 pairs, QoS 1, max rate",
     [](BenchConfig& c) {
       pairs_preset(c, 200);
       c.qos = 1;
       c.rate = 0;
     }},
    {"latency", "200 pairs, QoS 0, 10,000 msg/s in total",
     [](BenchConfig& c) {
       pairs_preset(c, 200);
       c.qos = 0;
       c.rate = 10'000;
     }},
    {"large", "50 pairs, 16 KiB payloads, QoS 0, max rate",
     [](BenchConfig& c) {
       pairs_preset(c, 50);
       c.payload_size = 16 * 1024;
       c.max_lag = 32;
       c.qos = 0;
       c.rate = 0;
     }},
    {"connections", "10,000 idle connections: connect rate, then held (measure broker RSS)",
     [](BenchConfig& c) {
       c.mode = RunMode::kConnections;
       c.connections = 10'000;
       c.publishers = 0;
       c.subscribers = 0;
       c.warmup_s = 0;
     }},
    {"retained-storm", "seed 10,000 retained topics, then 100 subscribers fetch them all",
     [](BenchConfig& c) {
       c.mode = RunMode::kRetained;
       c.pattern = TopicPattern::kFanIn;
       c.topic = "bench/%r/retained/%i";
       c.publishers = 1;
       c.subscribers = 100;
       c.retained_topics = 10'000;
       c.retain = true;
       c.qos = 0;
       c.warmup_s = 0;
       c.duration_s = 30;  // an upper bound: the run ends once every subscriber has all
     }},
};

}  // namespace

bool apply_scenario(std::string_view name, BenchConfig& config) {
  for (const Scenario& scenario : kScenarios) {
    if (name == scenario.name) {
      scenario.apply(config);
      config.scenario = std::string(name);
      return true;
    }
  }
  return false;
}

void print_scenarios() {
  for (const Scenario& scenario : kScenarios) {
    std::printf("  %-15s %s\n", scenario.name, scenario.summary);
  }
}

}  // namespace peregrine::bench
