#include "src/broker/shared_groups.h"

#include <algorithm>

#include "src/base/owner.h"
#include "src/mqtt/codec.h"

namespace peregrine::broker {

SharedGroups::SharedGroups(Outbox& outbox, RoutingTable& routes, BrokerStats& stats)
    : _outbox(outbox), _routing(routes), _stats(stats) {}

SharedGroups::~SharedGroups() = default;

std::string SharedGroups::shared_filter(std::string_view group, std::string_view inner) {
  return std::string("$share/") + std::string(group) + "/" + std::string(inner);
}

void SharedGroups::add_member(Session* session, std::string_view group,
                              std::string_view inner, const SubscriptionOptions& options) {
  PG_DASSERT_OWNER(_outbox.self());
  LocalEntry& entry = _local.insert(inner);
  auto it = std::find_if(entry.groups.begin(), entry.groups.end(),
                         [&](const auto& g) { return g->name == group; });
  if (it == entry.groups.end()) {
    const uint64_t key = _next_key++;
    entry.groups.push_back(std::make_unique<Group>(Group{key, std::string(group), {}, 0}));
    _by_key.emplace(key, entry.groups.back().get());
    it = entry.groups.end() - 1;
  }
  Group& joined = **it;
  for (RoutingTable::Subscriber& member : joined.members) {
    if (member.session == session) {
      member.options = options;
      return;
    }
  }
  joined.members.push_back({session, options});
  const auto members = static_cast<uint32_t>(joined.members.size());
  set_route(group, inner, _outbox.self(), members, joined.key);
  _routing.broadcast(shared_filter(group, inner), true, members, joined.key);
}

void SharedGroups::remove_member(Session* session, std::string_view group,
                                 std::string_view inner) {
  PG_DASSERT_OWNER(_outbox.self());
  LocalEntry* entry = _local.find(inner);
  if (entry == nullptr) {
    return;
  }
  auto it = std::find_if(entry->groups.begin(), entry->groups.end(),
                         [&](const auto& g) { return g->name == group; });
  if (it == entry->groups.end()) {
    return;
  }
  Group& left = **it;
  auto member = std::find_if(left.members.begin(), left.members.end(),
                             [&](const auto& m) { return m.session == session; });
  if (member == left.members.end()) {
    return;
  }
  left.members.erase(member);
  const auto count = static_cast<uint32_t>(left.members.size());
  const uint64_t key = left.key;
  if (count == 0) {
    _by_key.erase(key);
    entry->groups.erase(it);
    _local.erase_if_empty(inner);
  }
  set_route(group, inner, _outbox.self(), count, key);
  _routing.broadcast(shared_filter(group, inner), count > 0, count, key);
}

bool SharedGroups::apply(const RouteChange& change, uint16_t from) {
  std::string_view group;
  std::string_view inner;
  if (!mqtt::parse_shared_filter(change.filter, group, inner)) {
    return false;
  }
  set_route(group, inner, from, change.members, change.group_key);
  return true;
}

void SharedGroups::set_route(std::string_view group, std::string_view inner, uint16_t shard,
                             uint32_t members, uint64_t key) {
  RouteEntry& entry = _routes.insert(inner);
  auto it = std::find_if(entry.groups.begin(), entry.groups.end(),
                         [&](const Route& r) { return r.name == group; });
  if (it == entry.groups.end()) {
    if (members == 0) {
      _routes.erase_if_empty(inner);
      return;
    }
    const uint16_t count = _outbox.count();
    entry.groups.push_back({std::string(group), std::vector<uint32_t>(count, 0),
                            std::vector<uint64_t>(count, 0), 0, 0});
    it = entry.groups.end() - 1;
  }
  it->total = it->total - it->members[shard] + members;
  it->members[shard] = members;
  it->keys[shard] = key;
  if (it->total == 0) {
    entry.groups.erase(it);
    _routes.erase_if_empty(inner);
  }
}

uint32_t SharedGroups::route(Message* message, uint32_t wait) {
  PG_DASSERT_OWNER(_outbox.self());
  uint32_t posted = 0;
  _routes.match(message->routing_topic(), [&](RouteEntry& entry) {
    for (Route& route : entry.groups) {
      // Weighted round robin: shard s gets members[s] of every `total` messages.
      uint64_t slot = route.cursor++ % route.total;
      uint16_t chosen = 0;
      for (uint16_t s = 0; s < route.members.size(); ++s) {
        if (slot < route.members[s]) {
          chosen = s;
          break;
        }
        slot -= route.members[s];
      }
      const uint64_t key = route.keys[chosen];
      if (chosen == _outbox.self()) {
        auto group = _by_key.find(key);
        if (group == _by_key.end() || !deliver_to(*group->second, message)) {
          _stats.shared_dropped++;
        }
        continue;
      }
      message->ref();
      const mail::SharedPublish mail{message, key, wait};
      if (!_outbox.post(chosen, mail)) {
        mail.discard();
        _stats.mailbox_dropped++;
      } else {
        posted++;
      }
    }
  });
  return posted;
}

void SharedGroups::deliver(const mail::SharedPublish& mail) {
  PG_DASSERT_OWNER(_outbox.self());
  auto group = _by_key.find(mail.group_key);
  if (group == _by_key.end() || !deliver_to(*group->second, mail.message)) {
    _stats.shared_dropped++;  // the group left this shard meanwhile
  }
  mail.message->unref();
}

bool SharedGroups::deliver_to(Group& group, Message* message) {
  if (group.members.empty()) {
    return false;
  }
  // Round robin, preferring members with a live connection.
  const size_t n = group.members.size();
  size_t pick = group.next % n;
  for (size_t i = 0; i < n; ++i) {
    const size_t candidate = (group.next + i) % n;
    if (group.members[candidate].session->client() != nullptr) {
      pick = candidate;
      break;
    }
  }
  group.next = pick + 1;
  const RoutingTable::Subscriber& member = group.members[pick];
  message->ref();
  Delivery delivery{.message = message,
                    .qos = std::min(member.options.max_qos, message->qos()),
                    .retain = member.options.retain_as_published && message->retain()};
  if (member.options.subscription_id != 0) {
    delivery.subscription_ids.push_back(member.options.subscription_id);
  }
  member.session->deliver(std::move(delivery));
  return true;
}

}  // namespace peregrine::broker
