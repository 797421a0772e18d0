#include "bench/load/bench_config.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

#include "bench/load/scenario_table.h"

namespace peregrine::bench {
namespace {

constexpr const char* kUsage = R"(usage: peregrine-bench [--scenario NAME] [flags]

Drives an MQTT broker on this host with publishers and subscribers on io_uring and reports
delivered msg/s, loss, duplicates, reordering and latency. One human table and one line
"RESULT {json}" per run. Flags override the scenario's preset.

broker and protocol (emqtt_bench names where they overlap)
  -h HOST                 broker address (default 127.0.0.1; loopback only)
  -p PORT                 broker port (default 1883)
  -V 3|4|5                MQTT 3.1, 3.1.1 or 5.0 (default 4)
  -k SECONDS              keep alive (default 300)
  -u USER                 username in CONNECT
  -P PASSWORD             password in CONNECT (a token, say)
  --passwords FILE        one password per line, used in turn by connection number
transport (the broker's listener must match)
  --transport T           tcp | tls | ws | wss (default tcp); ws and wss upgrade with
                          subprotocol mqtt and send each write batch as one masked frame
  --cafile FILE           verify the broker's certificate against this CA (tls, wss);
                          without it the certificate is not checked
  --tls-server-name NAME  SNI and the name the certificate must carry (default localhost)
  --tls-ciphers LIST      offer only these (wolfSSL names, e.g. TLS13-AES128-GCM-SHA256)
  --ws-path PATH          the upgrade request's path (default /mqtt)
clients and topics
  -c N                    clients: pairs for --pattern pairs, publishers for fan-in,
                          subscribers for shared, connections for the connections scenario
  --pubs N / --subs N     publishers / subscribers
  --pairs N               N publishers and N subscribers, pattern pairs
  --connections N         idle connections (connections scenario)
  --pattern P             shared | pairs | fan-in (default pairs)
  -t TOPIC                publish topic; %i = publisher index, %r = run id
messages
  -q 0|1|2                QoS of PUBLISH and SUBSCRIBE (default 0)
  -r                      set the retain flag on PUBLISH
  -s BYTES                payload size, at least 24 (default 256)
  -I MS                   publish interval per publisher (sets --rate)
  --rate N                total offered msg/s over all publishers; 0 = max rate (default)
  --max-lag N             a publisher stays at most N messages ahead of what its
                          subscribers received (default 200)
  --inflight N            unacknowledged QoS 1/2 messages per publisher (default 64)
  --session-expiry S      subscribers keep their sessions S seconds after they disconnect
                          (v5 Session Expiry Interval, 3.x clean session 0), so a broker
                          with persistence stores their subscriptions and queues; 0 =
                          clean sessions (default)
  --retained N            retained topics to seed (retained-storm, default 10000)
timing
  --warmup S              seconds before measuring (default 1)
  --duration S            measured seconds (default 5)
  --drain S               wait for stragglers after publishing stops (default 3)
  -i MS                   interval between connections (sets --connect-rate)
  --connect-rate N        new connections per second; 0 = as fast as possible
  --connect-parallel N    unanswered connection attempts per thread (default 32)
  --connect-timeout S     a connection without CONNACK after S seconds failed (default 5)
process
  --threads N             worker threads, each owning its connections (default 2)
  --sched P               auto | batch | normal: the worker threads' policy; batch
                          (SCHED_BATCH) keeps their wake-ups from preempting a broker on
                          the same cores; auto = batch at max rate, normal at a fixed
                          rate or for idle connections (default auto)
  --source-addresses N    spread connections over 127.0.0.1..N (default: enough that
                          none takes over a quarter of the ephemeral port range)
  --processes N           generator processes for the connections scenario (default: as
                          many as the open-files limit needs)
  --no-progress           no progress line each second
  --quiet                 print only the RESULT line
  --scenario NAME         a preset (below); --list-scenarios lists them
  --help

scenarios
)";

// The non-empty lines of a file (one password or token each).
std::vector<std::string> read_lines(std::string_view flag, std::string_view path) {
  std::vector<std::string> lines;
  FILE* file = std::fopen(std::string(path).c_str(), "r");
  if (file == nullptr) {
    std::fprintf(stderr, "peregrine-bench: %.*s: cannot read %.*s\n", static_cast<int>(flag.size()),
                 flag.data(), static_cast<int>(path.size()), path.data());
    std::exit(2);
  }
  std::string line;
  for (int ch = std::fgetc(file); ch != EOF; ch = std::fgetc(file)) {
    if (ch == '\n') {
      if (!line.empty()) {
        lines.push_back(std::move(line));
      }
      line.clear();
    } else if (ch != '\r') {
      line.push_back(static_cast<char>(ch));
    }
  }
  if (!line.empty()) {
    lines.push_back(std::move(line));
  }
  std::fclose(file);
  return lines;
}

[[noreturn]] void usage_exit(int status) {
  std::fputs(kUsage, status == 0 ? stdout : stderr);
  print_scenarios();
  std::exit(status);
}

[[noreturn]] void bad_flag(const char* flag, const char* why) {
  std::fprintf(stderr, "peregrine-bench: %s: %s (see --help)\n", flag, why);
  std::exit(2);
}

double number(const char* flag, const char* text, double lo, double hi) {
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(value >= lo && value <= hi)) {
    bad_flag(flag, "not a number in range");
  }
  return value;
}

uint32_t count(const char* flag, const char* text, double lo, double hi) {
  const double value = number(flag, text, lo, hi);
  if (value != static_cast<double>(static_cast<uint32_t>(value))) {
    bad_flag(flag, "not a whole number");
  }
  return static_cast<uint32_t>(value);
}

std::optional<TopicPattern> parse_pattern(std::string_view name) {
  if (name == "shared") {
    return TopicPattern::kShared;
  }
  if (name == "pairs") {
    return TopicPattern::kPairs;
  }
  if (name == "fan-in") {
    return TopicPattern::kFanIn;
  }
  return std::nullopt;
}

std::optional<Transport> parse_transport(std::string_view name) {
  if (name == "tcp") {
    return Transport::kTcp;
  }
  if (name == "tls") {
    return Transport::kTls;
  }
  if (name == "ws") {
    return Transport::kWs;
  }
  if (name == "wss") {
    return Transport::kWss;
  }
  return std::nullopt;
}

// Flags whose meaning depends on others are applied after the whole line is read.
struct Deferred {
  std::optional<uint32_t> clients;
  std::optional<double> publish_interval_ms;
  std::optional<double> connect_interval_ms;
};

void apply_deferred(const Deferred& d, BenchConfig& c) {
  if (d.clients) {
    if (c.mode == RunMode::kConnections) {
      c.connections = *d.clients;
    } else if (c.pattern == TopicPattern::kPairs) {
      c.publishers = *d.clients;
      c.subscribers = *d.clients;
    } else if (c.pattern == TopicPattern::kFanIn) {
      c.publishers = *d.clients;
    } else {
      c.subscribers = *d.clients;
    }
  }
  if (d.publish_interval_ms) {
    c.rate = *d.publish_interval_ms > 0 ? c.publishers * 1000.0 / *d.publish_interval_ms : 0;
  }
  if (d.connect_interval_ms) {
    c.connect_rate = *d.connect_interval_ms > 0 ? 1000.0 / *d.connect_interval_ms : 0;
  }
}

void check(const BenchConfig& c) {
  // A load generator pointed elsewhere is a denial of service: loopback only.
  if (c.host != "localhost" && c.host.rfind("127.", 0) != 0) {
    bad_flag("-h", "peregrine-bench targets loopback only (127.0.0.0/8 or localhost)");
  }
  if (c.pattern == TopicPattern::kPairs && c.mode == RunMode::kTraffic &&
      c.publishers != c.subscribers) {
    bad_flag("--pattern pairs", "needs as many publishers as subscribers");
  }
  if (c.mode == RunMode::kTraffic && (c.publishers == 0 || c.subscribers == 0)) {
    bad_flag("--pubs/--subs", "a traffic run needs publishers and subscribers");
  }
  if (c.mode == RunMode::kRetained && (c.publishers == 0 || c.retained_topics == 0)) {
    bad_flag("--retained", "retained-storm needs a publisher and topics to seed");
  }
  if (c.topic.find('+') != std::string::npos || c.topic.find('#') != std::string::npos) {
    bad_flag("-t", "a publish topic has no wildcards (fan-in subscribes to %i -> '+')");
  }
  if (c.pattern != TopicPattern::kShared && c.topic.find("%i") == std::string::npos) {
    bad_flag("-t", "pairs and fan-in need %i in the topic");
  }
  if (!uses_tls(c.transport) && (!c.ca_file.empty() || !c.tls_ciphers.empty())) {
    bad_flag("--cafile/--tls-ciphers", "only with --transport tls or wss");
  }
  if (c.ws_path.empty() || c.ws_path[0] != '/' ||
      c.ws_path.find_first_of(" \r\n") != std::string::npos) {
    bad_flag("--ws-path", "a path starting with '/', no spaces");
  }
}

}  // namespace

const char* pattern_name(TopicPattern pattern) {
  switch (pattern) {
    case TopicPattern::kShared:
      return "shared";
    case TopicPattern::kPairs:
      return "pairs";
    case TopicPattern::kFanIn:
      return "fan-in";
  }
  return "?";
}

bool batch_scheduling(const BenchConfig& config) {
  switch (config.sched) {
    case SchedPolicy::kBatch:
      return true;
    case SchedPolicy::kNormal:
      return false;
    case SchedPolicy::kAuto:
      break;
  }
  return config.rate == 0 && config.mode != RunMode::kConnections;
}

const char* transport_name(Transport transport) {
  switch (transport) {
    case Transport::kTcp:
      return "tcp";
    case Transport::kTls:
      return "tls";
    case Transport::kWs:
      return "ws";
    case Transport::kWss:
      return "wss";
  }
  return "?";
}

const char* mode_name(RunMode mode) {
  switch (mode) {
    case RunMode::kTraffic:
      return "traffic";
    case RunMode::kConnections:
      return "connections";
    case RunMode::kRetained:
      return "retained";
  }
  return "?";
}

BenchConfig parse_bench_config(int argc, char** argv) {
  BenchConfig c;
  // The scenario goes first wherever it stands, so flags override its preset.
  for (int i = 1; i + 1 < argc; i++) {
    if (std::strcmp(argv[i], "--scenario") == 0 && !apply_scenario(argv[i + 1], c)) {
      bad_flag("--scenario", "unknown scenario (--list-scenarios)");
    }
  }
  Deferred d;
  for (int i = 1; i < argc; i++) {
    const std::string_view flag = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        bad_flag(argv[i], "needs a value");
      }
      return argv[++i];
    };
    const char* f = argv[i];
    if (flag == "--help") {
      usage_exit(0);
    } else if (flag == "--list-scenarios") {
      print_scenarios();
      std::exit(0);
    } else if (flag == "--scenario") {
      value();
    } else if (flag == "-h" || flag == "--host") {
      c.host = value();
    } else if (flag == "-p" || flag == "--port") {
      c.port = static_cast<uint16_t>(count(f, value(), 1, 65535));
    } else if (flag == "-V" || flag == "--version") {
      c.version = static_cast<mqtt::ProtocolVersion>(count(f, value(), 3, 5));
    } else if (flag == "-k" || flag == "--keepalive") {
      c.keep_alive_s = static_cast<uint16_t>(count(f, value(), 0, 65535));
    } else if (flag == "--transport") {
      const auto transport = parse_transport(value());
      if (!transport) {
        bad_flag(f, "tcp, tls, ws or wss");
      }
      c.transport = *transport;
    } else if (flag == "--cafile") {
      c.ca_file = value();
    } else if (flag == "--tls-server-name") {
      c.tls_server_name = value();
    } else if (flag == "--tls-ciphers") {
      c.tls_ciphers = value();
    } else if (flag == "--ws-path") {
      c.ws_path = value();
    } else if (flag == "-u" || flag == "--username") {
      c.username = value();
    } else if (flag == "-P" || flag == "--password") {
      c.passwords = {std::string(value())};
    } else if (flag == "--passwords") {
      c.passwords = read_lines(f, value());
    } else if (flag == "-c" || flag == "--count") {
      d.clients = count(f, value(), 1, 1e7);
    } else if (flag == "--pubs") {
      c.publishers = count(f, value(), 0, 1e6);
    } else if (flag == "--subs") {
      c.subscribers = count(f, value(), 0, 1e6);
    } else if (flag == "--pairs") {
      c.publishers = c.subscribers = count(f, value(), 1, 1e6);
      c.pattern = TopicPattern::kPairs;
    } else if (flag == "--connections") {
      c.connections = count(f, value(), 1, 1e7);
    } else if (flag == "--pattern") {
      const auto pattern = parse_pattern(value());
      if (!pattern) {
        bad_flag(f, "shared, pairs or fan-in");
      }
      c.pattern = *pattern;
    } else if (flag == "-t" || flag == "--topic") {
      c.topic = value();
    } else if (flag == "-q" || flag == "--qos") {
      c.qos = static_cast<uint8_t>(count(f, value(), 0, 2));
    } else if (flag == "-r" || flag == "--retain") {
      c.retain = true;
    } else if (flag == "-s" || flag == "--size") {
      c.payload_size = count(f, value(), 24, 256 * 1024 * 1024);
    } else if (flag == "-I" || flag == "--interval_of_msg") {
      d.publish_interval_ms = number(f, value(), 0, 1e9);
    } else if (flag == "--rate") {
      c.rate = number(f, value(), 0, 1e9);
    } else if (flag == "--max-lag") {
      c.max_lag = count(f, value(), 1, 1e7);
    } else if (flag == "--session-expiry") {
      c.subscriber_session_expiry_s = count(f, value(), 0, 4294967295.0);
    } else if (flag == "--inflight") {
      c.inflight = count(f, value(), 1, 65535);
    } else if (flag == "--retained") {
      c.retained_topics = count(f, value(), 1, 1e7);
    } else if (flag == "--warmup") {
      c.warmup_s = number(f, value(), 0, 3600);
    } else if (flag == "--duration") {
      c.duration_s = number(f, value(), 0.1, 24 * 3600);
    } else if (flag == "--drain") {
      c.drain_s = number(f, value(), 0, 600);
    } else if (flag == "-i" || flag == "--interval") {
      d.connect_interval_ms = number(f, value(), 0, 1e9);
    } else if (flag == "--connect-rate") {
      c.connect_rate = number(f, value(), 0, 1e9);
    } else if (flag == "--connect-parallel") {
      c.connect_parallel = count(f, value(), 1, 1e6);
    } else if (flag == "--connect-timeout") {
      c.connect_timeout_s = number(f, value(), 0.1, 600);
    } else if (flag == "--threads") {
      c.threads = count(f, value(), 1, 256);
    } else if (flag == "--sched") {
      const std::string_view policy = value();
      if (policy == "auto") {
        c.sched = SchedPolicy::kAuto;
      } else if (policy == "batch") {
        c.sched = SchedPolicy::kBatch;
      } else if (policy == "normal") {
        c.sched = SchedPolicy::kNormal;
      } else {
        bad_flag(f, "want auto, batch or normal");
      }
    } else if (flag == "--source-addresses") {
      c.source_addresses = count(f, value(), 1, 254);
    } else if (flag == "--processes") {
      c.processes = count(f, value(), 1, 256);
    } else if (flag == "--no-progress") {
      c.progress = false;
    } else if (flag == "--quiet") {
      c.quiet = true;
    } else {
      bad_flag(f, "unknown flag");
    }
  }
  apply_deferred(d, c);
  check(c);
  return c;
}

}  // namespace peregrine::bench
