// Persistent sessions as a shard's log describes them (issue 30): the session records
// (durable_records.h) applied in log order — snapshot first, then the segments after it —
// into one image per session, which the shard then brings to life. Records replayed on
// top of a snapshot that already holds them (a snapshot is taken in slices while the log
// goes on) change nothing: each record sets or deletes what its key names.
// Pure. Bounds: what the log holds (at most its live state plus log_compact_bytes).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "src/broker/durable_records.h"

namespace peregrine::broker {

struct SessionImage {
  SessionRecord session;
  std::map<std::string, SubscriptionOptions> subscriptions;  // filter → options
};

class SessionImages {
 public:
  // Applies one session record (kSession, kSessionEnd, kSubscribe, kUnsubscribe); false
  // with `why` when its body does not read. A subscription for no session is counted.
  bool apply(RecordType type, std::span<const uint8_t> body, std::string& why);

  // The sessions that remain, by key (tenant, then client id).
  const std::map<std::pair<std::string, std::string>, SessionImage>& images() const {
    return _images;
  }
  size_t orphans() const { return _orphans; }

 private:
  SessionImage* find(const SessionKey& key);
  std::map<std::pair<std::string, std::string>, SessionImage> _images;
  size_t _orphans = 0;
};

}  // namespace peregrine::broker
