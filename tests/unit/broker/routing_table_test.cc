// The route-change protocol across shards without threads or sockets: each shard's
// outbox posts into the real mailbox grid, and the test decides when which mailbox is
// delivered, so it can hold one shard back while another answers.
#include "src/broker/routing_table.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "src/broker/shared_groups.h"
#include "src/mqtt/codec.h"

namespace peregrine::broker {
namespace {

class Floor {
 public:
  explicit Floor(uint16_t shards) : _group(options(shards)) {
    for (uint16_t i = 0; i < shards; ++i) {
      auto& s = _shards.emplace_back(std::make_unique<PerShard>());
      s->outbox = std::make_unique<Outbox>(_group.shard(i), s->stats);
      s->routes = std::make_unique<RoutingTable>(*s->outbox);
      s->shared = std::make_unique<SharedGroups>(*s->outbox, *s->routes, s->stats);
    }
  }
  ~Floor() {
    for (uint16_t from = 0; from < _shards.size(); ++from) {
      for (uint16_t to = 0; to < _shards.size(); ++to) {
        deliver(from, to);  // nothing left in a mailbox: every change comes home and dies
      }
    }
  }

  RoutingTable& routes(uint16_t shard) { return *_shards[shard]->routes; }
  SharedGroups& shared(uint16_t shard) { return *_shards[shard]->shared; }

  // Hands everything `from` posted to `to` so far to `to`, as ShardBroker does; returns
  // how many mails that was. SharedPublish mails are kept for the test to read.
  size_t deliver(uint16_t from, uint16_t to) {
    if (from == to) {
      return 0;
    }
    auto& queue = _group.mailbox(from, to);
    queue.publish();
    shard::Envelope envelope;
    size_t n = 0;
    while (queue.try_pop(envelope)) {
      ++n;
      PerShard& at = *_shards[to];
      mail::open(envelope, [&](const auto& m, uint16_t sender) { handle(at, m, sender, to); });
    }
    return n;
  }
  void deliver_all() {
    for (int round = 0; round < 4; ++round) {  // changes, then acks
      for (uint16_t from = 0; from < _shards.size(); ++from) {
        for (uint16_t to = 0; to < _shards.size(); ++to) {
          deliver(from, to);
        }
      }
    }
  }
  // Shared deliveries that reached `shard`: (group key, message).
  std::vector<uint64_t>& shared_keys(uint16_t shard) { return _shards[shard]->shared_keys; }

 private:
  struct PerShard {
    BrokerStats stats;
    std::unique_ptr<Outbox> outbox;
    std::unique_ptr<RoutingTable> routes;
    std::unique_ptr<SharedGroups> shared;
    std::vector<uint64_t> shared_keys;
    uint64_t routed = 0;  // stands for the shard's message count: one more per ack
  };
  static shard::ShardGroupOptions options(uint16_t shards) {
    shard::ShardGroupOptions o;
    o.shards = shards;
    o.mailbox_capacity = 64;
    return o;
  }
  void handle(PerShard& at, const mail::RouteChangeMail& m, uint16_t from, uint16_t) {
    if (!at.shared->apply(*m.change, from)) {
      at.routes->apply(*m.change, from);
    }
    at.routes->ack(m, from, ++at.routed);
  }
  void handle(PerShard& at, const mail::RouteAck& m, uint16_t from, uint16_t) {
    at.routes->on_ack(m, from);
  }
  void handle(PerShard& at, const mail::SharedPublish& m, uint16_t, uint16_t) {
    at.shared_keys.push_back(m.group_key);
    m.discard();
  }
  template <typename Other>
  void handle(PerShard&, const Other& m, uint16_t, uint16_t) {
    ADD_FAILURE() << "unexpected mail kind " << mail::wire(Other::kKind);
    m.discard();
  }

  shard::ShardGroup _group;
  std::vector<std::unique_ptr<PerShard>> _shards;
};

// Shards with subscribers on filters matching `topic`, as shard `at` sees them.
uint64_t shards_for(RoutingTable& routes, const std::string& topic) {
  uint64_t shards = 0;
  routes.match(topic, [&](RoutingTable::FilterEntry& e) { shards |= e.shards; });
  return shards;
}

RoutingTable::HeldSuback suback_for(uint64_t connection) {
  return {connection, 0, {0x90, 3, 0, 1, 0}, {}};
}

std::vector<uint64_t> released(RoutingTable& routes) {
  std::vector<uint64_t> out;
  routes.release_subacks([&](RoutingTable::HeldSuback& s) { out.push_back(s.connection_id); });
  return out;
}

TEST(RoutingTable, ASubackWaitsUntilEveryOtherShardAppliedTheRoute) {
  Floor floor(3);
  Session session(nullptr, "sub");
  floor.routes(0).add(&session, "a/+", {});
  RoutingTable::HeldSuback suback = suback_for(7);
  EXPECT_FALSE(floor.routes(0).hold_suback(suback));
  EXPECT_TRUE(floor.routes(0).holds_suback_for(7));

  EXPECT_EQ(floor.deliver(0, 1), 1u);  // shard 1 applies and acks
  EXPECT_EQ(floor.deliver(1, 0), 1u);
  EXPECT_TRUE(released(floor.routes(0)).empty()) << "shard 2 has not applied it yet";
  // The ack says what shard 1 had routed (its first: 1); shard 2's has not come.
  EXPECT_EQ(floor.routes(0).acked_routed(1), 1u);
  EXPECT_EQ(floor.routes(0).acked_routed(2), 0u);
  // A publish on shard 1 now finds shard 0; on shard 2 it would not yet.
  EXPECT_EQ(shards_for(floor.routes(1), "a/x"), 1u);
  EXPECT_EQ(shards_for(floor.routes(2), "a/x"), 0u);

  EXPECT_EQ(floor.deliver(0, 2), 1u);
  EXPECT_EQ(floor.deliver(2, 0), 1u);
  EXPECT_EQ(released(floor.routes(0)), std::vector<uint64_t>{7});
  EXPECT_FALSE(floor.routes(0).holds_suback_for(7));
  EXPECT_EQ(shards_for(floor.routes(2), "a/x"), 1u);
  floor.routes(0).remove(&session, "a/+");
}

TEST(RoutingTable, ASubackGoesAtOnceWhenNothingIsInFlightButWaitsBehindAHeldOne) {
  Floor floor(2);
  Session session(nullptr, "sub");
  RoutingTable::HeldSuback first = suback_for(1);
  EXPECT_TRUE(floor.routes(0).hold_suback(first));  // no route change made yet
  floor.routes(0).add(&session, "x", {});
  RoutingTable::HeldSuback second = suback_for(2);
  EXPECT_FALSE(floor.routes(0).hold_suback(second));
  // An existing filter changes no route, but its SUBACK may not overtake the held one.
  floor.routes(0).add(&session, "x", {1, false, false, 0, 0});
  RoutingTable::HeldSuback third = suback_for(3);
  EXPECT_FALSE(floor.routes(0).hold_suback(third));
  floor.deliver_all();
  EXPECT_EQ(released(floor.routes(0)), (std::vector<uint64_t>{2, 3}));
  floor.routes(0).remove(&session, "x");
}

TEST(RoutingTable, TheLastSubscriberLeavingRemovesTheRouteEverywhere) {
  Floor floor(2);
  Session a(nullptr, "a");
  Session b(nullptr, "b");
  const uint64_t epoch = floor.routes(1).epoch();
  floor.routes(0).add(&a, "s/#", {});
  floor.routes(0).add(&b, "s/#", {});  // a second local subscriber: no broadcast
  EXPECT_EQ(floor.deliver(0, 1), 1u);
  EXPECT_GT(floor.routes(1).epoch(), epoch) << "a memo made before must not be replayed";
  EXPECT_EQ(shards_for(floor.routes(1), "s/t"), 1u);
  EXPECT_TRUE(floor.routes(0).remove(&a, "s/#"));
  EXPECT_EQ(floor.deliver(0, 1), 0u) << "b still subscribes here";
  EXPECT_TRUE(floor.routes(0).remove(&b, "s/#"));
  EXPECT_FALSE(floor.routes(0).remove(&b, "s/#"));
  floor.deliver_all();
  EXPECT_EQ(shards_for(floor.routes(1), "s/t"), 0u);
  EXPECT_EQ(shards_for(floor.routes(0), "s/t"), 0u);
}

TEST(RoutingTableDeathTest, AnAckForAChangeNeverMadeStops) {
  Floor floor(2);
  Session session(nullptr, "s");
  floor.routes(0).add(&session, "t", {});  // change 1
  auto* forged = new RouteChange{0, 1, 2, true, 0, 0, "t"};
  EXPECT_DEATH(floor.routes(0).on_ack(mail::RouteAck{forged, 0}, 1), "seq <= _seq");
  delete forged;
  floor.routes(0).remove(&session, "t");
}

TEST(SharedGroups, AMessageGoesToTheShardOfTheGroupUnderItsKeyThere) {
  Floor floor(2);
  Session member(nullptr, "m");
  floor.shared(1).add_member(&member, "g", "jobs/+", {1, false, false, 0, 0});
  floor.deliver_all();
  ASSERT_TRUE(floor.shared(0).any());
  mqtt::Publish publish;
  publish.topic = "jobs/1";
  publish.qos = 1;
  publish.packet_id = 1;
  Message* message = Message::create(publish, 1, 0);
  floor.shared(0).route(message);  // every member is on shard 1
  floor.deliver(0, 1);
  ASSERT_EQ(floor.shared_keys(1).size(), 1u);
  EXPECT_NE(floor.shared_keys(1)[0], 0u);
  // The group leaves shard 1: shard 0 forgets it once told.
  floor.shared(1).remove_member(&member, "g", "jobs/+");
  floor.deliver_all();
  EXPECT_FALSE(floor.shared(0).any());
  message->unref();
}

TEST(RoutingTable, OtherShardsExactFiltersAreKeptByHashAndSurviveACollision) {
  Floor floor(3);
  Session session(nullptr, "sub");
  floor.routes(1).add(&session, "dev/7/t", {});
  floor.routes(2).add(&session, "dev/+/t", {});
  floor.deliver_all();
  RoutingTable& at0 = floor.routes(0);
  EXPECT_EQ(at0.remote_exact_routes(), 1u);  // the wildcard one stays in the trie
  EXPECT_EQ(shards_for(at0, "dev/7/t"), 0b110u);
  EXPECT_EQ(shards_for(at0, "dev/8/t"), 0b100u);
  // Two filters of shard 1 on one hash: removing one keeps the route for the other.
  const uint64_t h = RoutingTable::route_hash("x/y");
  at0.apply_exact(h, 1, true);
  at0.apply_exact(h, 1, true);
  at0.apply_exact(h, 1, false);
  EXPECT_EQ(shards_for(at0, "x/y"), 0b10u);
  at0.apply_exact(h, 1, false);
  EXPECT_EQ(shards_for(at0, "x/y"), 0u);
  EXPECT_EQ(at0.remote_exact_routes(), 1u);
  floor.routes(1).remove(&session, "dev/7/t");
  floor.routes(2).remove(&session, "dev/+/t");
  floor.deliver_all();
  EXPECT_EQ(at0.remote_exact_routes(), 0u);
  EXPECT_EQ(shards_for(at0, "dev/7/t"), 0u);
}

}  // namespace
}  // namespace peregrine::broker
