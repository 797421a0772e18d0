// Broker behaviour across shards with no socket and no thread: the real ShardBrokers on
// a simulated floor (tests/sim), driven by simulated clients, one scripted step at a time.
// The floor's network reads and writes in pieces and delays completions, and clients
// connect on shards other than their home, so every test also crosses a migration.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "tests/sim/sim_client.h"
#include "tests/sim/sim_floor.h"

namespace peregrine::sim {
namespace {

using mqtt::ProtocolVersion;
using mqtt::ReasonCode;

FloorOptions options(uint16_t shards = 2) {
  FloorOptions o;
  o.shards = shards;
  o.stall = 0;  // the tests say which shard runs when
  return o;
}

// Steps the floor and lets every client read and answer, until nothing moves.
void run_until_quiet(SimFloor& floor, std::initializer_list<SimClient*> clients) {
  ASSERT_TRUE(sim::settle(floor, clients));
}

class BrokerFloorTest : public ::testing::Test {
 protected:
  SimFloor floor{1, options()};
};

TEST_F(BrokerFloorTest, AQoS1MessageCrossesShardsToASubscriberThatGotItsSuback) {
  SimClient sub(floor, id_homed("sub", 0, 2), ProtocolVersion::kV5);
  SimClient pub(floor, id_homed("pub", 1, 2), ProtocolVersion::kV311);
  sub.connect(1, true);  // accepted on shard 1, lives on shard 0
  pub.connect(0, true);
  run_until_quiet(floor, {&sub, &pub});
  ASSERT_TRUE(sub.connected());
  ASSERT_TRUE(pub.connected());
  sub.subscribe("a/+", 1);
  run_until_quiet(floor, {&sub, &pub});
  pub.publish("a/b", "hello", 1);
  run_until_quiet(floor, {&sub, &pub});
  EXPECT_EQ(pub.unacked(), 0u);
  ASSERT_EQ(sub.messages.size(), 1u);
  EXPECT_EQ(sub.messages[0].topic, "a/b");
  EXPECT_EQ(sub.messages[0].payload, "hello");
  EXPECT_EQ(sub.messages[0].qos, 1);
}

TEST_F(BrokerFloorTest, SubackWaitsUntilTheOtherShardAppliedTheRoute) {
  SimClient sub(floor, id_homed("sub", 0, 2), ProtocolVersion::kV5);
  sub.connect(0, true);
  run_until_quiet(floor, {&sub});
  ASSERT_TRUE(sub.connected());
  uint16_t suback_for = 0;
  struct : ClientEvents {
    uint16_t* got;
    void on_suback(uint16_t id, const std::vector<ReasonCode>&) override { *got = id; }
  } events;
  events.got = &suback_for;
  SimClient watched(floor, sub.id(), ProtocolVersion::kV5, &events);
  watched.connect(0, false);  // takes the session over, with the listener
  run_until_quiet(floor, {&sub, &watched});
  ASSERT_TRUE(watched.connected());
  const uint16_t id = watched.subscribe("x/#", 1);
  for (int i = 0; i < 200; ++i) {  // shard 1 holds the route change: no SUBACK yet
    floor.step_only(0);
    watched.poll();
  }
  EXPECT_EQ(suback_for, 0) << "SUBACK left before shard 1 applied the route";
  run_until_quiet(floor, {&watched});
  EXPECT_EQ(suback_for, id);
}

TEST_F(BrokerFloorTest, QoS2IsDeliveredOnceThoughTheSubscriberDroppedBeforePubrel) {
  SimClient sub(floor, id_homed("sub", 1, 2), ProtocolVersion::kV311);
  SimClient pub(floor, id_homed("pub", 0, 2), ProtocolVersion::kV5);
  sub.connect(0, false);  // a persistent session (3.1.1, clean session 0)
  pub.connect(1, true);
  run_until_quiet(floor, {&sub, &pub});
  sub.subscribe("q/2", 2);
  run_until_quiet(floor, {&sub, &pub});
  pub.publish("q/2", "once", 2);
  // Run until the subscriber has the PUBLISH, then drop before its PUBREC is read.
  for (int i = 0; i < 2000 && sub.messages.empty(); ++i) {
    floor.step();
    sub.poll();
  }
  ASSERT_EQ(sub.messages.size(), 1u);
  sub.drop();
  run_until_quiet(floor, {&sub, &pub});
  sub.connect(1, false);
  run_until_quiet(floor, {&sub, &pub});
  ASSERT_TRUE(sub.connected());
  EXPECT_TRUE(sub.last_connack->session_present);
  EXPECT_EQ(payloads(sub), std::vector<std::string>{"once"});
  EXPECT_EQ(pub.unacked(), 0u);
}

TEST_F(BrokerFloorTest, APersistentSessionGetsWhatWasPublishedWhileItWasAway) {
  SimClient sub(floor, id_homed("sub", 0, 2), ProtocolVersion::kV5);
  SimClient pub(floor, id_homed("pub", 1, 2), ProtocolVersion::kV5);
  sub.connect(1, true, 3600);
  pub.connect(0, true);
  run_until_quiet(floor, {&sub, &pub});
  sub.subscribe("away/#", 1);
  run_until_quiet(floor, {&sub, &pub});
  sub.disconnect();
  run_until_quiet(floor, {&sub, &pub});
  for (int i = 0; i < 5; ++i) {
    pub.publish("away/" + std::to_string(i), std::to_string(i), 1);
  }
  pub.publish("away/q0", "not queued", 0);
  run_until_quiet(floor, {&sub, &pub});
  EXPECT_EQ(pub.unacked(), 0u);
  sub.connect(0, false, 3600);
  run_until_quiet(floor, {&sub, &pub});
  EXPECT_TRUE(sub.last_connack->session_present);
  EXPECT_EQ(payloads(sub), (std::vector<std::string>{"0", "1", "2", "3", "4"}));
}

TEST_F(BrokerFloorTest, ATakeoverDisconnectsTheOldConnectionWithSessionTakenOver) {
  const std::string id = id_homed("dup", 1, 2);
  SimClient first(floor, id, ProtocolVersion::kV5);
  SimClient second(floor, id, ProtocolVersion::kV5);
  first.connect(0, false, 600);
  run_until_quiet(floor, {&first});
  first.subscribe("t", 1);
  run_until_quiet(floor, {&first});
  second.connect(0, false, 600);
  run_until_quiet(floor, {&first, &second});
  ASSERT_TRUE(first.last_disconnect.has_value());
  EXPECT_EQ(first.last_disconnect->reason, ReasonCode::kSessionTakenOver);
  EXPECT_FALSE(first.connection_open());
  ASSERT_TRUE(second.connected());
  EXPECT_TRUE(second.last_connack->session_present);
  SimClient pub(floor, id_homed("p", 0, 2), ProtocolVersion::kV311);
  pub.connect(1, true);
  run_until_quiet(floor, {&pub, &second});
  pub.publish("t", "to the new one", 1);
  run_until_quiet(floor, {&pub, &second});
  EXPECT_EQ(payloads(second), std::vector<std::string>{"to the new one"});
}

TEST_F(BrokerFloorTest, AWillIsPublishedOnADropAndNotOnADisconnect) {
  SimClient watcher(floor, id_homed("w", 0, 2), ProtocolVersion::kV5);
  watcher.connect(0, true);
  run_until_quiet(floor, {&watcher});
  watcher.subscribe("wills/#", 1);
  run_until_quiet(floor, {&watcher});
  SimClient dropper(floor, id_homed("d", 1, 2), ProtocolVersion::kV311);
  SimClient leaver(floor, id_homed("l", 1, 2), ProtocolVersion::kV5);
  dropper.connect(1, true, 0, WillSpec{"wills/d", "gone", 1, false});
  leaver.connect(1, true, 0, WillSpec{"wills/l", "gone", 1, false});
  run_until_quiet(floor, {&watcher, &dropper, &leaver});
  dropper.drop();
  leaver.disconnect();
  run_until_quiet(floor, {&watcher, &dropper, &leaver});
  ASSERT_EQ(watcher.messages.size(), 1u);
  EXPECT_EQ(watcher.messages[0].topic, "wills/d");
}

TEST_F(BrokerFloorTest, ARetainedMessageReachesALaterWildcardSubscriberFromItsOwnerShard) {
  SimClient pub(floor, id_homed("p", 0, 2), ProtocolVersion::kV5);
  pub.connect(0, true);
  run_until_quiet(floor, {&pub});
  for (int i = 0; i < 6; ++i) {  // topics owned by both shards
    pub.publish("r/" + std::to_string(i), "kept " + std::to_string(i), 1, true);
  }
  run_until_quiet(floor, {&pub});
  SimClient sub(floor, id_homed("s", 1, 2), ProtocolVersion::kV311);
  sub.connect(1, true);
  run_until_quiet(floor, {&sub});
  sub.subscribe("r/#", 1);
  run_until_quiet(floor, {&sub});
  std::vector<std::string> got = payloads(sub);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"kept 0", "kept 1", "kept 2", "kept 3", "kept 4",
                                           "kept 5"}));
  for (const Received& r : sub.messages) {
    EXPECT_TRUE(r.retain);
  }
}

TEST_F(BrokerFloorTest, ASharedGroupGetsEachMessageOnceAcrossShards) {
  SimClient a(floor, id_homed("a", 0, 2), ProtocolVersion::kV5);
  SimClient b(floor, id_homed("b", 1, 2), ProtocolVersion::kV5);
  SimClient pub(floor, id_homed("p", 0, 2), ProtocolVersion::kV5);
  a.connect(0, true);
  b.connect(1, true);
  pub.connect(1, true);
  run_until_quiet(floor, {&a, &b, &pub});
  a.subscribe("$share/g/jobs/+", 1);
  b.subscribe("$share/g/jobs/+", 1);
  run_until_quiet(floor, {&a, &b, &pub});
  for (int i = 0; i < 20; ++i) {
    pub.publish("jobs/" + std::to_string(i), std::to_string(i), 1);
  }
  run_until_quiet(floor, {&a, &b, &pub});
  std::vector<std::string> all = payloads(a);
  const std::vector<std::string> got_b = payloads(b);
  EXPECT_FALSE(all.empty());
  EXPECT_FALSE(got_b.empty());
  all.insert(all.end(), got_b.begin(), got_b.end());
  std::sort(all.begin(), all.end());
  std::vector<std::string> want;
  for (int i = 0; i < 20; ++i) {
    want.push_back(std::to_string(i));
  }
  std::sort(want.begin(), want.end());
  EXPECT_EQ(all, want);
}

TEST_F(BrokerFloorTest, NothingArrivesAfterUnsuback) {
  SimClient sub(floor, id_homed("s", 0, 2), ProtocolVersion::kV5);
  SimClient pub(floor, id_homed("p", 1, 2), ProtocolVersion::kV5);
  sub.connect(0, true);
  pub.connect(1, true);
  run_until_quiet(floor, {&sub, &pub});
  sub.subscribe("u", 1);
  run_until_quiet(floor, {&sub, &pub});
  pub.publish("u", "before", 1);
  run_until_quiet(floor, {&sub, &pub});
  sub.unsubscribe("u");
  run_until_quiet(floor, {&sub, &pub});
  pub.publish("u", "after", 1);
  run_until_quiet(floor, {&sub, &pub});
  EXPECT_EQ(payloads(sub), std::vector<std::string>{"before"});
}

TEST_F(BrokerFloorTest, AnOverlappingSubscriptionDeliversOnceAtTheHigherQoSWithEveryId) {
  SimClient sub(floor, id_homed("s", 1, 2), ProtocolVersion::kV5);
  SimClient pub(floor, id_homed("p", 1, 2), ProtocolVersion::kV5);
  sub.connect(0, true);
  pub.connect(0, true);
  run_until_quiet(floor, {&sub, &pub});
  sub.subscribe("o/#", 0, 7);
  sub.subscribe("o/+", 1, 9);
  run_until_quiet(floor, {&sub, &pub});
  pub.publish("o/x", "one", 2);
  run_until_quiet(floor, {&sub, &pub});
  ASSERT_EQ(sub.messages.size(), 1u);
  EXPECT_EQ(sub.messages[0].qos, 1);
  std::vector<uint32_t> ids = sub.messages[0].subscription_ids;
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<uint32_t>{7, 9}));
}

TEST_F(BrokerFloorTest, ASecondConnectWithAnUnknownLevelIsAProtocolErrorNotA0x84Disconnect) {
  // Found by session_fuzz: DISCONNECT may not carry 0x84, which the CONNECT decoder
  // returns for an unknown protocol level; the broker sent it, and the client's decoder
  // (ours among them) refused the packet.
  SimClient c(floor, id_homed("c", 0, 2), ProtocolVersion::kV5);
  c.connect(1, true);
  run_until_quiet(floor, {&c});
  ASSERT_TRUE(c.connected());
  c.send_raw(std::string("\x10\x0d\x00\x04MQTT\x06\x02\x00\x00\x00\x01x", 15));
  run_until_quiet(floor, {&c});
  ASSERT_TRUE(c.last_disconnect.has_value());  // decoded: a well-formed DISCONNECT
  EXPECT_EQ(c.last_disconnect->reason, ReasonCode::kProtocolError);
  EXPECT_FALSE(c.connection_open());
}

}  // namespace
}  // namespace peregrine::sim

namespace peregrine::sim {
namespace {

// /readyz's answer on each shard: recovering until every shard has replayed its log and
// routed its restored subscriptions everywhere (the start-up barrier), then ready.
TEST(BrokerFloorReadiness, AShardIsRecoveringUntilEveryShardSaidRecovered) {
  char dir[] = "/tmp/peregrine-floor-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  FloorOptions o = options(2);
  o.state_dir = dir;
  {
    SimFloor floor(1, o);
    EXPECT_FALSE(floor.broker(0).readiness().ready);
    EXPECT_STREQ(floor.broker(0).readiness().why, "recovering");
    for (int i = 0; i < 50; ++i) {
      floor.step_only(0);  // shard 1 has not run a turn: its Recovered is not out
    }
    EXPECT_STREQ(floor.broker(0).readiness().why, "recovering");
    ASSERT_TRUE(floor.settle());
    for (uint16_t shard = 0; shard < 2; ++shard) {
      EXPECT_TRUE(floor.broker(shard).readiness().ready);
      EXPECT_STREQ(floor.broker(shard).readiness().why, "ready");
    }
    floor.stop();
  }
  std::filesystem::remove_all(dir);
}

TEST(BrokerFloorReadiness, AnInMemoryBrokerIsReadyAtOnce) {
  SimFloor floor(1, options(2));
  EXPECT_TRUE(floor.broker(0).readiness().ready);
  EXPECT_TRUE(floor.broker(1).readiness().ready);
}

}  // namespace
}  // namespace peregrine::sim
