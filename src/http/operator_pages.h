// The operator's pages an HTTP listener serves besides Fastly's surface: `/healthz` (the
// process answers: the bridge itself), `/readyz` (the broker takes traffic), `/metrics`
// (Prometheus) and `/status` (HTML). The bridge asks its sink for readiness in place and
// for a page as a call answered in a later turn (the broker gathers every shard's
// figures); these are the plain values they pass.
#pragma once

#include <cstdint>

namespace peregrine::http {

enum class OperatorPage : uint8_t { kMetrics, kStatus };

// Whether the broker takes traffic, as /readyz, /metrics and /status say it.
struct Readiness {
  bool ready = false;
  // Not ready yet, but soon: a request that needs the broker waits (held by the bridge
  // until HttpBridge::resume()) rather than being refused.
  bool starting = false;
  const char* why = "";  // "ready", "recovering", "draining"
};

}  // namespace peregrine::http
