// The retained messages of the topics this shard owns (owner = hash(topic) mod N). Ordered
// by topic so that a scan can resume after the last topic it returned: a wildcard
// subscribe over many retained messages is answered in slices, and the map may change
// between slices without invalidating the scan. Touched by the owning shard's thread only.
// Bounds: count and bytes (topic + payload), each shard holding its share of the broker's
// limits; a new topic beyond either is refused and counted (replacing or deleting is
// always allowed).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "src/broker/message.h"

namespace peregrine::broker {

class RetainedStore {
 public:
  enum class StoreResult : uint8_t { kStored, kDeleted, kRefused };

  RetainedStore(uint64_t max_count, uint64_t max_bytes)
      : _max_count(max_count), _max_bytes(max_bytes) {}
  ~RetainedStore();
  RetainedStore(const RetainedStore&) = delete;
  RetainedStore& operator=(const RetainedStore&) = delete;

  // Stores (takes one reference) or, for an empty payload, deletes [MQTT-3.3.1-6..7].
  // With `replaced`, what the topic held before is handed back (its reference with it;
  // nullptr when nothing) instead of released: for undo().
  StoreResult store(Message* message, Message** replaced = nullptr);
  // Takes back a store() whose write to the log failed: when `topic` still holds what that
  // store left (`applied`; nullptr: nothing, it was a delete), it holds `previous` again
  // (nullptr: nothing). Otherwise a later store() has replaced it and stays. Takes
  // `previous`'s reference either way.
  void undo(std::string_view topic, const Message* applied, Message* previous);

  // Appends up to `max_results` messages (each with a reference taken) whose topic matches
  // `filter`, examining at most `max_examined` entries after `cursor` (exclusive; empty:
  // from the start). Expired messages met on the way are deleted. Returns true when the
  // end was reached; `cursor` is updated to resume.
  bool scan(std::string_view filter, std::string& cursor, size_t max_examined,
            size_t max_results, uint64_t now_ms, std::vector<Message*>& out);

  // Up to `max` topics of the virtual broker of `scope` (src/mqtt/scope.h), in order.
  std::vector<std::string> topics_in_scope(std::string_view scope, size_t max) const;
  // Calls `visit` for up to `max` messages after `cursor` (exclusive; empty: from the
  // start), every topic, $-topics too, in topic order; true when the end was reached.
  // For a snapshot of the store; `cursor` is updated to resume.
  template <typename Visit>
  bool each(std::string& cursor, size_t max, Visit&& visit) const {
    auto it = cursor.empty() ? _messages.begin() : _messages.upper_bound(cursor);
    for (size_t n = 0; it != _messages.end() && n < max; ++it, ++n) {
      cursor = it->first;
      visit(*it->second);
    }
    return it == _messages.end();
  }

  // The message retained on exactly `topic` (a reference taken), or nullptr.
  Message* lookup(std::string_view topic, uint64_t now_ms);

  size_t size() const { return _messages.size(); }
  // A reload: new bounds for new retained topics (those held beyond stay until replaced).
  void set_limits(uint64_t max_count, uint64_t max_bytes) {
    _max_count = max_count;
    _max_bytes = max_bytes;
  }
  uint64_t bytes() const { return _bytes; }

 private:
  static uint64_t cost(const Message* message);
  void erase(std::map<std::string, Message*, std::less<>>::iterator it);

  std::map<std::string, Message*, std::less<>> _messages;
  uint64_t _bytes = 0;
  uint64_t _max_count;
  uint64_t _max_bytes;
};

}  // namespace peregrine::broker
