// Persistent sessions as a shard's log describes them (issue 30): the session records
// (durable_records.h) applied in log order — snapshot first, then the segments after it —
// into one image per session (its fields, subscriptions, QoS 1/2 deliveries and inbound
// QoS 2 ids), plus the stored messages those deliveries name, which the shard then brings
// to life. Records replayed on top of a snapshot that already holds them (a snapshot is
// taken in slices while the log goes on) change nothing: each record sets or deletes what
// its key names. A delivery may name a message whose record comes later (a message
// written again after a failed write): names are resolved only at the end.
// Pure but for the messages it makes (one reference each, released with it). Bounds:
// what the log holds (at most its live state plus log_compact_bytes).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "src/broker/durable_records.h"

namespace peregrine::broker {

struct DeliveryImage {
  MessageKey message;  // unused once released
  uint8_t qos = 1;
  bool retain = false;
  bool released = false;   // PUBREC came: only the packet id is left
  uint16_t packet_id = 0;  // 0: the one its seq gives
  std::vector<uint32_t> subscription_ids;
};

struct SessionImage {
  SessionRecord session;
  std::map<std::string, SubscriptionOptions> subscriptions;  // filter → options
  std::map<uint64_t, DeliveryImage> deliveries;               // by seq
  std::set<uint16_t> inbound;  // QoS 2 packet ids received, awaiting PUBREL
  // Its delayed will, due then (one reference, released by SessionImages), or nullptr.
  Message* will = nullptr;
  int64_t will_due_wall_ms = 0;
};

class SessionImages {
 public:
  // Stored messages are read as of `now_wall_ms` (their expiry) and made on a shard
  // clock at `now_ms`.
  SessionImages(int64_t now_wall_ms = 0, uint64_t now_ms = 0)
      : _now_wall_ms(now_wall_ms), _now_ms(now_ms) {}
  ~SessionImages();
  SessionImages(const SessionImages&) = delete;
  SessionImages& operator=(const SessionImages&) = delete;

  // Applies one session record (any type but kRetained); false with `why` when its body
  // does not read. A record for no session is counted, not invented.
  bool apply(RecordType type, std::span<const uint8_t> body, std::string& why);

  // The sessions that remain, by key (tenant, then client id).
  const std::map<std::pair<std::string, std::string>, SessionImage>& images() const {
    return _images;
  }
  // The stored message `key` names; nullptr: none (expired, or lost with a damaged
  // segment).
  Message* message(const MessageKey& key) const {
    auto it = _messages.find(key);
    return it == _messages.end() ? nullptr : it->second;
  }
  size_t orphans() const { return _orphans; }
  size_t expired_messages() const { return _expired; }

 private:
  SessionImage* find(const SessionKey& key);
  int64_t _now_wall_ms;
  uint64_t _now_ms;
  std::map<std::pair<std::string, std::string>, SessionImage> _images;
  absl::flat_hash_map<MessageKey, Message*> _messages;  // a reference each
  size_t _orphans = 0;
  size_t _expired = 0;
};

}  // namespace peregrine::broker
