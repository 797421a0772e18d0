#include "bench/load/run_stats.h"

#include <algorithm>
#include <cstdio>

namespace peregrine::bench {
namespace {

uint64_t earliest(uint64_t a, uint64_t b) {
  if (a == 0) {
    return b;
  }
  if (b == 0) {
    return a;
  }
  return std::min(a, b);
}

}  // namespace

void RunStats::set_verdict(Verdict v, const char* why) {
  // An error outranks an unsupported feature; the first reason of a rank stays.
  if (static_cast<int>(v) <= static_cast<int>(verdict)) {
    return;
  }
  verdict = v;
  std::snprintf(reason, sizeof(reason), "%s", why);
}

void RunStats::merge(const RunStats& o) {
  connect_attempted += o.connect_attempted;
  connected += o.connected;
  connect_refused += o.connect_refused;
  connect_timed_out += o.connect_timed_out;
  connect_local_fail += o.connect_local_fail;
  closed_by_broker += o.closed_by_broker;
  first_connect_ns = earliest(first_connect_ns, o.first_connect_ns);
  last_connack_ns = std::max(last_connack_ns, o.last_connack_ns);
  connect_latency.merge(o.connect_latency);

  sent += o.sent;
  sent_measured += o.sent_measured;
  acked += o.acked;
  received += o.received;
  received_measured += o.received_measured;
  payload_bytes_measured += o.payload_bytes_measured;
  duplicated += o.duplicated;
  reordered += o.reordered;
  unique += o.unique;
  foreign += o.foreign;
  downgraded += o.downgraded;
  lag_resets += o.lag_resets;
  first_subscribe_ns = earliest(first_subscribe_ns, o.first_subscribe_ns);
  last_receive_ns = std::max(last_receive_ns, o.last_receive_ns);
  latency.merge(o.latency);

  if (o.verdict != Verdict::kOk) {
    set_verdict(o.verdict, o.reason);
  }
  if (first_connect_failure[0] == '\0' && o.first_connect_failure[0] != '\0') {
    std::snprintf(first_connect_failure, sizeof(first_connect_failure), "%s",
                  o.first_connect_failure);
  }
  if (stop_reason[0] == '\0' && o.stop_reason[0] != '\0') {
    std::snprintf(stop_reason, sizeof(stop_reason), "%s", o.stop_reason);
  }
  if (tls_cipher[0] == '\0' && o.tls_cipher[0] != '\0') {
    std::snprintf(tls_version, sizeof(tls_version), "%s", o.tls_version);
    std::snprintf(tls_cipher, sizeof(tls_cipher), "%s", o.tls_cipher);
  }
}

}  // namespace peregrine::bench
