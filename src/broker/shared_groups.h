// Shared subscriptions ($share/{group}/{filter}, MQTT 5 §4.8.2) on one shard: the groups
// with members here, each under a key of this shard's that names it to the others, and
// the replica of every group's member count per shard. A message matching a group goes
// to one shard among those with members (weighted by their member count), which picks a
// member round robin, preferring one with a live connection.
// Lives on its shard's thread. Member counts reach the other shards through the routing
// table's route changes, so a SUBACK waits for them as for any filter. A message sent to
// a group that left the receiving shard meanwhile is dropped and counted (shared_dropped).
// Bounds: the groups and routes of the filters clients subscribe; one key per local group
// (keys are never reused, so a late message cannot reach a newer group of the same name).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "src/broker/broker_stats.h"
#include "src/broker/message.h"
#include "src/broker/outbox.h"
#include "src/broker/routing_table.h"
#include "src/broker/session.h"
#include "src/broker/shard_mail.h"
#include "src/broker/topic_trie.h"

namespace peregrine::broker {

class SharedGroups {
 public:
  SharedGroups(Outbox& outbox, RoutingTable& routes, BrokerStats& stats);
  ~SharedGroups();

  // Whether any shard has a member of any group: a publish must then look here.
  bool any() const { return !_routes.empty_trie(); }

  // `session` joins or leaves `group` on `inner` (the filter inside $share/group/).
  void add_member(Session* session, std::string_view group, std::string_view inner,
                  const SubscriptionOptions& options);
  void remove_member(Session* session, std::string_view group, std::string_view inner);
  // A peer's member count changed, if `change` is for a $share/ filter: applied, true;
  // else false (a plain filter's, for the routing table).
  bool apply(const RouteChange& change, uint16_t from);

  // Sends `message` to one member of each group whose filter matches its topic; a
  // member on another shard gets it with `wait` (shard_mail.h). Returns the mails posted.
  uint32_t route(Message* message, uint32_t wait = 0);
  // A message another shard chose this shard's group `group_key` for.
  void deliver(const mail::SharedPublish& mail);

 private:
  struct Group {
    uint64_t key;
    std::string name;
    std::vector<RoutingTable::Subscriber> members;
    size_t next = 0;  // round robin
  };
  struct LocalEntry {
    std::vector<std::unique_ptr<Group>> groups;
    bool empty() const { return groups.empty(); }
  };
  // One group's members per shard, as last told; keys[s]: shard s's key for it.
  struct Route {
    std::string name;
    std::vector<uint32_t> members;
    std::vector<uint64_t> keys;
    uint32_t total = 0;
    uint64_t cursor = 0;  // weighted round robin over shards
  };
  struct RouteEntry {
    std::vector<Route> groups;
    bool empty() const { return groups.empty(); }
  };

  void set_route(std::string_view group, std::string_view inner, uint16_t shard,
                 uint32_t members, uint64_t key);
  // Delivers to one member of `group`; false if it has none.
  bool deliver_to(Group& group, Message* message);
  static std::string shared_filter(std::string_view group, std::string_view inner);

  Outbox& _outbox;
  RoutingTable& _routing;
  BrokerStats& _stats;
  TopicTrie<LocalEntry> _local;
  TopicTrie<RouteEntry> _routes;
  absl::flat_hash_map<uint64_t, Group*> _by_key;
  uint64_t _next_key = 1;
};

}  // namespace peregrine::broker
