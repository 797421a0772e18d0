#include "src/broker/routing_table.h"

#include <algorithm>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/base/owner.h"

namespace peregrine::broker {

void mail::RouteChangeMail::discard() const { RoutingTable::release(change); }
void mail::RouteAck::discard() const { RoutingTable::release(change); }

RoutingTable::RoutingTable(Outbox& outbox)
    : _outbox(outbox), _acked(outbox.count(), 0), _acked_routed(outbox.count(), 0) {
  PG_ASSERT(outbox.count() <= kMaxShards);
}

void RoutingTable::add(Session* session, std::string_view filter,
                       const SubscriptionOptions& options) {
  PG_DASSERT_OWNER(_outbox.self());
  ++_epoch;
  FilterEntry& entry = _filters.insert(filter);
  for (Subscriber& sub : entry.subscribers) {
    if (sub.session == session) {
      sub.options = options;  // a repeated filter replaces the old options [MQTT-3.8.4-3]
      return;
    }
  }
  entry.subscribers.push_back({session, options});
  if (entry.subscribers.size() == 1) {
    entry.shards |= uint64_t{1} << _outbox.self();
    broadcast(filter, true);
  }
}

bool RoutingTable::remove(Session* session, std::string_view filter) {
  PG_DASSERT_OWNER(_outbox.self());
  ++_epoch;
  FilterEntry* entry = _filters.find(filter);
  if (entry == nullptr) {
    return false;
  }
  auto& subs = entry->subscribers;
  auto it = std::find_if(subs.begin(), subs.end(),
                         [&](const Subscriber& s) { return s.session == session; });
  if (it == subs.end()) {
    return false;
  }
  subs.erase(it);
  if (subs.empty()) {
    entry->shards &= ~(uint64_t{1} << _outbox.self());
    _filters.erase_if_empty(filter);
    broadcast(filter, false);
  }
  return true;
}

void RoutingTable::broadcast(std::string_view filter, bool add, uint32_t members,
                             uint64_t group_key) {
  const uint16_t count = _outbox.count();
  if (count == 1) {
    return;
  }
  ++_seq;
  auto* change = new RouteChange{_outbox.self(), static_cast<uint32_t>(count - 1), _seq,
                                 add, members, group_key, std::string(filter)};
  _outbox.post_to_others(mail::RouteChangeMail{change});
}

void RoutingTable::apply(const RouteChange& change, uint16_t from) {
  PG_DASSERT_OWNER(_outbox.self());
  PG_DASSERT(from != _outbox.self());
  ++_epoch;
  const uint64_t bit = uint64_t{1} << from;
  if (TopicTrie<FilterEntry>::has_wildcard(change.filter)) {
    if (change.add) {
      _filters.insert(change.filter).shards |= bit;
    } else if (FilterEntry* route = _filters.find(change.filter)) {
      route->shards &= ~bit;
      _filters.erase_if_empty(change.filter);
    }
  } else {
    apply_exact(route_hash(change.filter), from, change.add);
  }
  PG_DEBUG("route %s filter=%s shard=%u", change.add ? "added" : "removed",
           change.filter.c_str(), from);
}

void RoutingTable::apply_exact(uint64_t hash, uint16_t from, bool add) {
  const uint64_t bit = uint64_t{1} << from;
  if (add) {
    uint64_t& shards = _remote_exact[hash];
    if ((shards & bit) != 0) {
      _remote_extra[{hash, from}]++;  // another filter of `from` with this hash
    }
    shards |= bit;
    return;
  }
  auto extra = _remote_extra.find({hash, from});
  if (extra != _remote_extra.end()) {
    if (--extra->second == 0) {
      _remote_extra.erase(extra);
    }
    return;  // `from` still has a filter with this hash
  }
  auto it = _remote_exact.find(hash);
  // A removal follows its addition from the same shard (FIFO mailboxes).
  PG_ASSERT(it != _remote_exact.end() && (it->second & bit) != 0);
  it->second &= ~bit;
  if (it->second == 0) {
    _remote_exact.erase(it);
  }
}

void RoutingTable::ack(const mail::RouteChangeMail& mail, uint16_t from, uint64_t routed) {
  // The change goes back with the ack: its maker frees it once every shard read it.
  _outbox.post(from, mail::RouteAck{mail.change, routed});
}

void RoutingTable::on_ack(const mail::RouteAck& ack, uint16_t from) {
  PG_DASSERT(ack.change->home == _outbox.self());
  // One mailbox per pair is FIFO and each change is acked once: in order, never ahead.
  const uint64_t seq = ack.change->seq;
  PG_ASSERT(seq > _acked[from]);
  PG_ASSERT(seq <= _seq);
  PG_ASSERT(ack.routed >= _acked_routed[from]);  // a shard's numbers only grow
  _acked[from] = seq;
  _acked_routed[from] = ack.routed;
  release(ack.change);
}

void RoutingTable::release(RouteChange* change) {
  PG_DASSERT_OWNER(change->home);
  PG_ASSERT(change->outstanding > 0);
  if (--change->outstanding == 0) {
    delete change;
  }
}

uint64_t RoutingTable::min_acked() const {
  uint64_t low = _seq;
  for (uint16_t s = 0; s < _acked.size(); ++s) {
    if (s != _outbox.self()) {
      low = std::min(low, _acked[s]);
    }
  }
  return low;
}

bool RoutingTable::hold_suback(HeldSuback& suback) {
  PG_DASSERT_OWNER(_outbox.self());
  suback.seq = _seq;
  if (_held.empty() && min_acked() >= _seq) {
    return true;
  }
  PG_DASSERT(_held.empty() || _held.back().seq <= suback.seq);
  _held.push_back(std::move(suback));
  return false;
}

bool RoutingTable::holds_suback_for(uint64_t connection_id) const {
  return std::any_of(_held.begin(), _held.end(), [&](const HeldSuback& held) {
    return held.connection_id == connection_id;
  });
}

}  // namespace peregrine::broker
