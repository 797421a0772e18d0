// The broker's fast paths, seen where they live: on the simulated floor (real shards, no
// socket), with the shards' own counters — a plain QoS 0 message for subscribers on its
// publisher's shard never becomes a Message; one for a single other shard crosses in a
// batch, in its place among the publisher's other messages; batches come back so that
// batching goes on; a publisher's repeated topic reuses its last match, and every change
// to the filters shows in the next message.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/sim/sim_client.h"
#include "tests/sim/sim_floor.h"

namespace peregrine::sim {
namespace {

using mqtt::ProtocolVersion;

class FastPathsTest : public ::testing::Test {
 protected:
  static FloorOptions options() {
    FloorOptions o;
    o.shards = 2;
    o.stall = 0;
    o.mailbox_capacity = 1024;
    o.broker.rehome_publishers = false;  // the publisher stays where the test put it
    return o;
  }
  void settle(std::initializer_list<SimClient*> clients) {
    ASSERT_TRUE(sim::settle(floor, clients));
  }
  SimFloor floor{3, options()};
};

TEST_F(FastPathsTest, PlainQoS0ForSubscribersOnItsOwnShardIsDeliveredInPlace) {
  SimClient sub(floor, id_homed("s", 0, 2), ProtocolVersion::kV5);
  SimClient pub(floor, id_homed("p", 0, 2), ProtocolVersion::kV311);
  sub.connect(0, true);
  pub.connect(0, true);
  settle({&sub, &pub});
  sub.subscribe("ip/#", 1);
  settle({&sub, &pub});
  pub.publish("ip/a", "one", 0);
  pub.publish("ip/b", "two", 0);
  pub.publish("ip/c", "kept", 0, /*retain=*/true);  // retained: a Message
  settle({&sub, &pub});
  EXPECT_EQ(payloads(sub), (std::vector<std::string>{"one", "two", "kept"}));
  EXPECT_EQ(floor.stats().published_in_place, 2u);
}

TEST_F(FastPathsTest, QoS0ForOneOtherShardCrossesBatchedInItsPlace) {
  SimClient sub(floor, id_homed("s", 1, 2), ProtocolVersion::kV5);
  SimClient pub(floor, id_homed("p", 0, 2), ProtocolVersion::kV5);
  sub.connect(1, true);
  pub.connect(0, true);
  settle({&sub, &pub});
  sub.subscribe("bt/#", 1);
  settle({&sub, &pub});
  std::vector<std::string> sent;
  uint64_t plain = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string payload = std::to_string(i) + (i % 5 == 4 ? std::string(5000, 'x') : "");
    const uint8_t qos = i % 7 == 3 ? 1 : 0;  // QoS 1 and large payloads travel alone
    plain += qos == 0 && i % 5 != 4;
    pub.publish("bt/data", payload, qos);
    sent.push_back(payload);
  }
  settle({&sub, &pub});
  EXPECT_EQ(payloads(sub), sent);  // one stream, in the order sent
  const broker::BrokerStats stats = floor.stats();
  EXPECT_GT(stats.published_batched, 0u);
  EXPECT_EQ(stats.published_batched + stats.unbatched_behind, plain);
  EXPECT_EQ(stats.mailbox_dropped, 0u);
}

TEST_F(FastPathsTest, BatchesComeBackSoBatchingGoesOn) {
  SimClient sub(floor, id_homed("s", 1, 2), ProtocolVersion::kV311);
  SimClient pub(floor, id_homed("p", 0, 2), ProtocolVersion::kV311);
  sub.connect(1, true);
  pub.connect(0, true);
  settle({&sub, &pub});
  sub.subscribe("bb/#", 0);
  settle({&sub, &pub});
  for (int i = 0; i < 200; ++i) {  // each burst seals a batch, read before the next
    pub.publish("bb/data", std::to_string(i), 0);
    settle({&sub, &pub});
  }
  EXPECT_EQ(sub.messages.size(), 200u);
  EXPECT_EQ(floor.stats().published_batched, 200u);  // more than the 64 allowed out
  EXPECT_EQ(floor.stats().unbatched_behind, 0u);
}

TEST_F(FastPathsTest, ARepeatedTopicReusesItsMatchUntilTheFiltersChange) {
  SimClient sub1(floor, id_homed("s1", 0, 2), ProtocolVersion::kV311);
  SimClient sub2(floor, id_homed("s2", 0, 2), ProtocolVersion::kV311);
  SimClient pub(floor, id_homed("p", 0, 2), ProtocolVersion::kV311);
  for (SimClient* c : {&sub1, &sub2, &pub}) {
    c->connect(0, true);
  }
  settle({&sub1, &sub2, &pub});
  sub1.subscribe("rm/a", 0);
  settle({&sub1, &sub2, &pub});
  for (int i = 0; i < 5; ++i) {
    pub.publish("rm/a", "first-" + std::to_string(i), 0);
  }
  settle({&sub1, &sub2, &pub});
  EXPECT_GE(floor.stats().routes_reused, 4u);  // the first walked, the rest replayed
  sub2.subscribe("rm/a", 0);  // a change to the filters: the next message sees it
  settle({&sub1, &sub2, &pub});
  pub.publish("rm/a", "second", 0);
  settle({&sub1, &sub2, &pub});
  EXPECT_EQ(payloads(sub2), std::vector<std::string>{"second"});
  sub1.unsubscribe("rm/a");
  settle({&sub1, &sub2, &pub});
  pub.publish("rm/a", "third", 0);
  settle({&sub1, &sub2, &pub});
  EXPECT_EQ(sub1.messages.size(), 6u);  // five firsts and the second, not the third
}

}  // namespace
}  // namespace peregrine::sim
