// What one peregrine-bench run does: the broker address, the clients, the traffic and its
// timing. Built once on the main thread by parse_bench_config() (a scenario preset first,
// then flags over it) and read-only afterwards, so worker threads share it freely.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/mqtt/packets.h"

namespace peregrine::bench {

// Which subscribers receive which publisher's messages.
enum class TopicPattern : uint8_t {
  kShared,  // every publisher on one topic, every subscriber on it: each sub gets all
  kPairs,   // publisher i on topic i, subscriber i on topic i: one stream per pair
  kFanIn,   // publisher i on topic i, subscribers on the wildcard: each sub gets all
};

// What carries MQTT between a client and the broker (ClientTransport does the work).
// The generator threads' scheduling policy. On a host it shares with the broker, a
// generator thread woken by data preempts the broker (CFS wake-up preemption), cutting
// the broker's batches short; SCHED_BATCH threads are never preferred on wake-up.
enum class SchedPolicy : uint8_t {
  kAuto,    // batch at max rate (throughput runs), normal at a fixed rate (latency runs)
  kBatch,   // SCHED_BATCH
  kNormal,  // SCHED_OTHER
};

enum class Transport : uint8_t {
  kTcp,  // MQTT straight on the socket: no adapter at all
  kTls,  // MQTT in TLS records (wolfSSL client)
  kWs,   // MQTT in masked WebSocket Binary frames after an HTTP upgrade
  kWss,  // the same inside TLS
};

// What the run measures.
enum class RunMode : uint8_t {
  kTraffic,      // publishers → subscribers for warm-up + duration
  kConnections,  // idle connections: connect rate, then hold them for duration
  kRetained,     // seed retained messages, then subscribers fetch them all at once
};

struct BenchConfig {
  std::string scenario = "custom";
  RunMode mode = RunMode::kTraffic;
  std::string host = "127.0.0.1";
  uint16_t port = 1883;
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::kV311;
  uint16_t keep_alive_s = 300;
  Transport transport = Transport::kTcp;
  std::string ca_file;                         // verify the broker's certificate; "" = don't
  std::string tls_server_name = "localhost";   // SNI, and the name verified with ca_file
  std::string tls_ciphers;                     // wolfSSL cipher list; "" = wolfSSL's default
  std::string ws_path = "/mqtt";
  // Credentials in CONNECT: a username ("" = none), and passwords used in turn by
  // connection number (empty = none): one from -P, or one per line of --passwords FILE
  // (distinct tokens measure verification; one token measures the broker's cache).
  std::string username;
  std::vector<std::string> passwords;

  uint32_t publishers = 10;
  uint32_t subscribers = 10;
  uint32_t connections = 0;  // idle connections (RunMode::kConnections)
  TopicPattern pattern = TopicPattern::kPairs;
  // Publish topic; %i is the publisher index, %r the run id. Subscribers use the same
  // template with %i → their pair's index (pairs), the literal topic (shared) or '+'.
  std::string topic = "bench/%r/%i";
  uint8_t qos = 0;
  bool retain = false;
  uint32_t payload_size = 256;

  double rate = 0;             // total offered msg/s over all publishers; 0 = max rate
  uint32_t max_lag = 200;      // a publisher is at most this many messages ahead of its subs
  uint32_t inflight = 64;      // unacknowledged QoS 1/2 PUBLISHes per publisher
  // Subscribers' sessions outlive their connections this long (0 = clean sessions): what
  // a persistent subscriber costs a broker that stores sessions.
  uint32_t subscriber_session_expiry_s = 0;
  uint32_t retained_topics = 10'000;

  double warmup_s = 1;
  double duration_s = 5;
  double drain_s = 3;           // after publishing stops, how long to wait for stragglers
  double connect_rate = 0;      // new connections per second over all threads; 0 = max
  // Unanswered connection attempts per thread. Near a broker's listen backlog (mosquitto:
  // 100) so SYNs are not dropped and retried a second later, which would measure the
  // backlog rather than the broker.
  uint32_t connect_parallel = 32;
  double connect_timeout_s = 5;

  uint32_t threads = 2;
  SchedPolicy sched = SchedPolicy::kAuto;
  uint32_t source_addresses = 0;  // 127.0.0.1..N as source; 0 = as many as needed
  uint32_t processes = 0;         // generator processes (connections mode); 0 = as needed
  bool progress = true;
  bool quiet = false;  // only the RESULT line
};

// Parses argv. Prints usage and exits on --help or a bad flag (startup code only).
BenchConfig parse_bench_config(int argc, char** argv);

const char* pattern_name(TopicPattern pattern);
const char* mode_name(RunMode mode);
const char* transport_name(Transport transport);
// Whether the worker threads run SCHED_BATCH (resolves kAuto).
bool batch_scheduling(const BenchConfig& config);
inline bool uses_tls(Transport t) { return t == Transport::kTls || t == Transport::kWss; }
inline bool uses_websocket(Transport t) { return t == Transport::kWs || t == Transport::kWss; }

}  // namespace peregrine::bench
