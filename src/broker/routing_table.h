// The shard's routing table (DESIGN.md §2): one trie whose entry for a filter holds the
// sessions of this shard subscribed to it and the replica of which shards have any, so a
// publish walks it once for both; and the route-change protocol that keeps the replicas
// true. A filter gaining its first or losing its last local subscriber is broadcast to
// every other shard as a numbered RouteChange; each applies it and acks; a SUBACK held
// here (hold_suback) leaves only once every shard acked every change made before it, so
// a publish from any shard after SUBACK reaches the new subscriber.
// Lives on its shard's thread. Invariants: acks from one shard arrive in sequence order
// (FIFO mailboxes) and never name a change not yet made; a RouteChange is read by every
// other shard, comes back with each ack, and is freed on its maker when the last is back.
// The replica of other shards' filters without wildcards is kept by the filter's 64-bit
// hash alone (`_remote_exact`: hash → shards, ~20 bytes a filter where a keyed entry is
// ~90, and every shard keeps one per filter of every other): a topic whose hash meets a
// filter it is not sends its message to a shard that finds no subscriber there and drops
// it, a false positive that costs one mail, never a lost message. Two filters of one
// shard with one hash count in `_remote_extra`, so that removing one keeps the route.
// Bounds: the trie holds the filters its shard's sessions subscribe plus the replica of
// others' wildcard filters, `_remote_exact` one entry per other shards' exact filter;
// held SUBACKs are one per SUBSCRIBE waiting for acks, bounded by the clients' packets in
// flight and freed when their connection is gone.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/hash/hash.h"
#include "src/broker/outbox.h"
#include "src/broker/scan_cut.h"
#include "src/broker/session.h"
#include "src/broker/shard_mail.h"
#include "src/broker/topic_trie.h"

namespace peregrine::broker {

// The largest shard count: routing entries hold shard sets as one 64-bit mask.
inline constexpr uint16_t kMaxShards = 64;

// What crosses to the other shards when a filter's subscribers on its maker change.
// For a shared subscription ($share/g/f) `members` is the maker's new member count and
// `group_key` names the group there (shared_groups.h).
struct RouteChange {
  uint16_t home;         // the shard that made it, and frees it
  uint32_t outstanding;  // receivers whose ack has not come back; home's thread only
  uint64_t seq;          // home's route sequence number for it
  bool add;
  uint32_t members;
  uint64_t group_key;
  std::string filter;
};

class RoutingTable {
 public:
  struct Subscriber {
    Session* session;
    SubscriptionOptions options;
  };
  struct FilterEntry {
    // On this shard; most filters have one subscriber here, held without an allocation.
    absl::InlinedVector<Subscriber, 1> subscribers;
    uint64_t shards = 0;                  // shards with subscribers (this one's bit too)
    bool empty() const { return subscribers.empty() && shards == 0; }
  };
  // A SUBACK waiting for the route changes made before it.
  struct HeldSuback {
    uint64_t connection_id;
    uint64_t seq;
    std::vector<uint8_t> packet;
    std::vector<RetainedRequest> retained;  // owed once it is sent
    uint64_t session_id = 0;                // with `retained`: whose scan window it holds
    std::shared_ptr<ScanCut> cut;           // with `retained`: completed when it is sent
    // Persistence: the log batch its subscriptions' records went into (0: none), the
    // filters it added (taken back if that write fails), and its reason-code count.
    uint64_t log_ticket = 0;
    std::vector<std::string> added;
    uint16_t reason_count = 0;
  };

  explicit RoutingTable(Outbox& outbox);

  // Local subscriptions: `session` on `filter` (a plain filter, not $share/). Adding the
  // first or removing the last one here broadcasts the change.
  void add(Session* session, std::string_view filter, const SubscriptionOptions& options);
  bool remove(Session* session, std::string_view filter);

  // `visit(FilterEntry&)` for each filter matching `topic`; other shards' exact filters
  // come as one entry with their shards and no subscribers.
  template <typename Visit>
  void match(std::string_view topic, Visit&& visit) {
    _filters.match(topic, visit);
    if (!_remote_exact.empty()) {
      auto it = _remote_exact.find(route_hash(topic));
      if (it != _remote_exact.end()) {
        _remote_hit.shards = it->second;
        visit(_remote_hit);
      }
    }
  }
  // The hash other shards' exact filters are kept under (the same on every shard).
  static uint64_t route_hash(std::string_view topic) {
    return absl::Hash<std::string_view>{}(topic);
  }
  // Other shards' exact filters known here (tests, $SYS).
  size_t remote_exact_routes() const { return _remote_exact.size(); }
  // Bumped by every change to the trie: what a RouteMemo was made under (route_memo.h).
  uint64_t epoch() const { return _epoch; }

  // Tells every other shard of a change on `filter` (shared: its member count here).
  void broadcast(std::string_view filter, bool add, uint32_t members = 0,
                 uint64_t group_key = 0);
  // A change from shard `from` to a plain filter's replica.
  void apply(const RouteChange& change, uint16_t from);
  // After a change from `from` was applied (to this trie or the shared groups): acks it,
  // with `routed`, the last number this shard stamped on a message (scan_cut.h).
  void ack(const mail::RouteChangeMail& mail, uint16_t from, uint64_t routed);
  // An ack from `from`; returns the change to its maker's count.
  void on_ack(const mail::RouteAck& ack, uint16_t from);
  // Frees `change` once no receiver holds it (an ack back, or a discarded mail).
  static void release(RouteChange* change);

  // Holds `suback` until every shard applied what this shard broadcast so far; true if it
  // may be sent now instead (nothing to wait for, nothing held before it).
  bool hold_suback(HeldSuback& suback);
  // `write(HeldSuback&)` for each held SUBACK whose changes every shard has applied, in
  // order.
  template <typename Write>
  void release_subacks(Write&& write) {
    const uint64_t applied = min_acked();
    while (!_held.empty() && _held.front().seq <= applied) {
      write(_held.front());
      _held.pop_front();
    }
  }
  // Every other shard has applied every change this one broadcast.
  bool all_applied() const { return min_acked() >= _seq; }
  // Whether a SUBACK for `connection_id` waits here.
  bool holds_suback_for(uint64_t connection_id) const;
  // What shard `from` had routed when it sent the last ack that came here.
  uint64_t acked_routed(uint16_t from) const { return _acked_routed[from]; }

  // A route change from `from` to an exact filter with `hash` (apply()'s; public so that
  // tests can put two filters on one hash).
  void apply_exact(uint64_t hash, uint16_t from, bool add);

 private:
  uint64_t min_acked() const;

  Outbox& _outbox;
  TopicTrie<FilterEntry> _filters;  // local subscribers; other shards' wildcard filters
  absl::flat_hash_map<uint64_t, uint64_t> _remote_exact;  // route_hash → other shards
  // (route_hash, shard) pairs added more than once (distinct filters, one hash): how many
  // more times. Almost always empty.
  absl::flat_hash_map<std::pair<uint64_t, uint16_t>, uint32_t> _remote_extra;
  FilterEntry _remote_hit;  // what match() shows of _remote_exact
  uint64_t _epoch = 1;
  // This shard's broadcasts are numbered; _acked[s]: the highest shard s acked.
  uint64_t _seq = 0;
  std::vector<uint64_t> _acked;
  std::vector<uint64_t> _acked_routed;  // by shard: the `routed` of its last ack
  std::deque<HeldSuback> _held;
};

}  // namespace peregrine::broker
