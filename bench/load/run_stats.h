// Counters of one run: each worker thread fills its own RunStats without sharing it, and
// the main thread merges them (or receives a child process's through a pipe, which is why
// the type is trivially copyable: no strings, fixed arrays only) after the workers end.
#pragma once

#include <cstdint>
#include <type_traits>

#include "bench/load/latency_histogram.h"

namespace peregrine::bench {

// Why a run could not do what it was asked, first cause wins.
enum class Verdict : uint8_t {
  kOk = 0,
  kUnsupported = 1,  // the broker refused a feature (QoS, retain): not a failure of the run
  kError = 2,        // connections failed or the broker hung up on a traffic run
};

struct RunStats {
  // Connections.
  uint64_t connect_attempted = 0;
  uint64_t connected = 0;          // got a successful CONNACK
  uint64_t connect_refused = 0;    // TCP refused/reset or CONNACK with an error
  uint64_t connect_timed_out = 0;  // no CONNACK within --connect-timeout
  uint64_t connect_local_fail = 0;  // socket()/bind() failed here (open-files cap, ports)
  uint64_t closed_by_broker = 0;   // established connections the broker closed
  uint64_t first_connect_ns = 0;
  uint64_t last_connack_ns = 0;
  LatencyHistogram connect_latency;  // connect() issued → CONNACK read, ns

  // Traffic.
  uint64_t sent = 0;            // PUBLISHes written, whole run
  uint64_t sent_measured = 0;   // of which sent inside the measured window
  uint64_t acked = 0;           // PUBACK/PUBCOMP received
  uint64_t received = 0;        // every delivered copy, whole run
  uint64_t received_measured = 0;
  uint64_t payload_bytes_measured = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  uint64_t unique = 0;
  uint64_t foreign = 0;         // not stamped by this run
  uint64_t downgraded = 0;      // delivered at a lower QoS than subscribed
  uint64_t lag_resets = 0;      // publishers that gave up waiting for lost messages
  uint64_t first_subscribe_ns = 0;  // retained-storm: first SUBSCRIBE written
  uint64_t last_receive_ns = 0;
  LatencyHistogram latency;     // send → receive, ns, messages sent in the window

  Verdict verdict = Verdict::kOk;
  char reason[160] = {};        // why, when verdict != kOk
  // What went wrong with the first connection that failed, for diagnosis.
  char first_connect_failure[96] = {};
  // The cap that stopped the connections scenario short of its target, if any.
  char stop_reason[160] = {};
  // tls, wss: what the first connection negotiated ("" for tcp and ws).
  char tls_version[16] = {};
  char tls_cipher[48] = {};

  void merge(const RunStats& other);
  void set_verdict(Verdict v, const char* why);
};

static_assert(std::is_trivially_copyable_v<RunStats>);

}  // namespace peregrine::bench
