// A new subscription's retained messages on the simulated floor (scan_cut.h): what its
// scan finds that also comes live is delivered once, in whichever order the two arrive
// and however many there are. Each test drives the shards' turns in the order that
// makes the duplicate (a shard's turn takes its mail, then reads its sockets; mail it
// posts is seen after its next turn).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "src/broker/shard_for.h"
#include "tests/sim/sim_client.h"
#include "tests/sim/sim_floor.h"

namespace peregrine::sim {
namespace {

using mqtt::ProtocolVersion;

FloorOptions exact(uint16_t shards) {
  FloorOptions o;
  o.shards = shards;
  o.stall = 0;
  o.faults = {0, 0, 0};  // every read and write whole and at once: turns are the script
  return o;
}

// A topic under `prefix` that shard `owner` of `shards` owns.
std::string owned_by(const std::string& prefix, uint16_t owner, uint16_t shards) {
  for (int i = 0;; ++i) {
    std::string topic = prefix + std::to_string(i);
    if (broker::shard_for(topic, shards) == owner) {
      return topic;
    }
  }
}

// How often each payload reached `client`.
std::map<std::string, int> counts(const SimClient& client) {
  std::map<std::string, int> out;
  for (const Received& r : client.messages) {
    out[r.payload]++;
  }
  return out;
}

// Runs the floor with `sub` and `pub` reading until `sub` gets nothing more.
bool drain(SimFloor& floor, SimClient& sub, SimClient& pub) {
  size_t quiet_rounds = 0;
  for (int round = 0; round < 100'000 && quiet_rounds < 3; ++round) {
    const size_t had = sub.messages.size();
    if (!floor.settle(5000)) {
      return false;
    }
    sub.poll();
    pub.poll();
    quiet_rounds = sub.messages.size() == had ? quiet_rounds + 1 : 0;
  }
  return quiet_rounds >= 3;
}

struct SubackSeen : ClientEvents {
  bool seen = false;
  void on_suback(uint16_t, const std::vector<mqtt::ReasonCode>&) override { seen = true; }
};

// A v5 subscriber (its SUBACKs seen) homed and connected on `sub_shard`, and a 3.1.1
// publisher on `pub_shard`, on a floor of `shards` whose turns the test scripts.
struct SubscriberAndPublisher {
  SubscriberAndPublisher(uint16_t shards, uint16_t sub_shard, uint16_t pub_shard)
      : floor(1, exact(shards)),
        sub(floor, id_homed("s", sub_shard, shards), ProtocolVersion::kV5, &suback),
        pub(floor, id_homed("p", pub_shard, shards), ProtocolVersion::kV311) {
    sub.connect(sub_shard, true);
    pub.connect(pub_shard, true);
  }
  SimFloor floor;
  SubackSeen suback;
  SimClient sub;
  SimClient pub;
};

TEST(RetainedScan, AMessageTheScanBringsBeforeItsLiveCopyIsNotDeliveredTwice) {
  // Shard 0 owns the topic, the publisher lives on 1, the subscriber on 2. The publish
  // reaches the owner before the scan does, and the scan's batch reaches the subscriber
  // before the live copy (shard 2 takes shard 0's mail before shard 1's).
  SubscriberAndPublisher clients(3, 2, 1);
  auto& [floor, suback, sub, pub] = clients;
  const std::string topic = owned_by("t", 0, 3);
  ASSERT_TRUE(settle(floor, {&sub, &pub}));
  sub.subscribe(topic, 1);
  floor.step_only(2);  // reads the SUBSCRIBE: the route change goes to 0 and 1
  floor.step_only(2);
  floor.step_only(0);  // apply and ack
  floor.step_only(1);
  floor.step_only(0);
  floor.step_only(1);
  floor.step_only(2);  // the acks: SUBACK, and the scan posted to 0
  floor.step_only(2);
  sub.poll();
  ASSERT_TRUE(suback.seen);
  pub.publish(topic, "m", 1, true);
  floor.step_only(1);  // routes it: live to 2, to the store on 0
  floor.step_only(1);
  floor.step_only(0);  // stores it, then scans: the batch holds it
  floor.step_only(0);
  floor.step_only(2);  // the batch (from 0) before the live copy (from 1)
  floor.step_only(2);
  ASSERT_TRUE(settle(floor, {&sub, &pub}));
  EXPECT_EQ(counts(sub), (std::map<std::string, int>{{"m", 1}}));
}

TEST(RetainedScan, AMessageThatCameLiveBetweenSubscribeAndSubackIsNotRepeatedByTheScan) {
  // The subscriber (shard 0) has w/x; it adds w/#. The publisher's shard (1) routes a
  // retained w/x by the old route before it applies the new one: the message reaches the
  // subscriber live before the SUBACK, and the scan later finds it in the store.
  SubscriberAndPublisher clients(2, 0, 1);
  auto& [floor, suback, sub, pub] = clients;
  ASSERT_TRUE(settle(floor, {&sub, &pub}));
  sub.subscribe("w/x", 1);
  ASSERT_TRUE(settle(floor, {&sub, &pub}));
  suback.seen = false;
  sub.subscribe("w/#", 1);
  floor.step_only(0);  // reads the SUBSCRIBE; the route change is posted
  pub.publish("w/x", "m", 1, true);
  floor.step_only(1);  // routes the message by w/x before it sees the change
  floor.step_only(0);  // the route change leaves for 1
  floor.step_only(1);  // applies and acks; the message and the ack leave together
  sub.poll();
  EXPECT_FALSE(suback.seen) << "the SUBACK must wait for shard 1's ack";
  ASSERT_TRUE(settle(floor, {&sub, &pub}));
  ASSERT_TRUE(suback.seen);
  EXPECT_EQ(counts(sub), (std::map<std::string, int>{{"m", 1}}));
}

// Publishes `count` retained QoS 1 messages `prefix`N with payloads `tag`N + `pad`, a
// few thousand at a time, stepping shard 0 (and letting `sub` read) until each lot is
// acknowledged.
void publish_retained(SimFloor& floor, SimClient& pub, SimClient& sub,
                      const std::string& prefix, const std::string& tag, int count,
                      const std::string& pad = "") {
  for (int sent = 0; sent < count;) {
    for (int i = 0; i < 5'000 && sent < count; ++i, ++sent) {
      pub.publish(prefix + std::to_string(sent), tag + std::to_string(sent) + pad, 1, true);
    }
    for (int step = 0; step < 1'000 && pub.unacked() != 0; ++step) {
      floor.step_only(0);
      pub.poll();
      sub.poll();
    }
    ASSERT_EQ(pub.unacked(), 0u);
  }
}

TEST(RetainedScan, MoreThanSixtyFiveThousandLiveMessagesDuringAScanComeOnceEach) {
  // One shard. The scan of r/# has 5,000 retained messages of 1 KiB on r/a/... to go
  // through, as fast as the subscriber's outbound buffer lets it; meanwhile 70,000 more
  // are published on r/b/..., topics it reaches later, and each reaches the subscriber
  // live. Each must come once (the scan used to compare against at most 65,536 ids it
  // noted live).
  FloorOptions o = exact(1);
  Limits& limits = o.broker.limits;
  limits.max_queued_messages = 1'000'000;
  limits.max_queued_bytes = 1ull << 32;
  limits.max_session_bytes = 1ull << 32;
  limits.held_bytes_budget = 1ull << 34;
  limits.max_retained_messages = 1'000'000;
  limits.outbound_buffer_bytes = 256 << 10;  // a scan sends 64 KiB at most a turn
  SimFloor floor(1, o);
  SimClient sub(floor, "s", ProtocolVersion::kV5);
  SimClient pub(floor, "p", ProtocolVersion::kV311);
  sub.connect(0, true);
  pub.connect(0, true);
  ASSERT_TRUE(settle(floor, {&sub, &pub}));
  constexpr int kStored = 5'000;
  constexpr int kLive = 70'000;
  publish_retained(floor, pub, sub, "r/a/", "a", kStored, std::string(1024, '.'));
  sub.subscribe("r/#", 1);
  floor.step_only(0);  // SUBACK; the scan starts
  floor.step_only(0);
  publish_retained(floor, pub, sub, "r/b/", "b", kLive);
  ASSERT_LT(sub.messages.size(), size_t{kStored} + kLive) << "the scan must still run";
  ASSERT_TRUE(drain(floor, sub, pub));
  const std::map<std::string, int> got = counts(sub);
  EXPECT_EQ(got.size(), size_t{kStored} + kLive);
  int twice = 0;
  for (const auto& [payload, n] : got) {
    twice += n > 1 ? 1 : 0;
  }
  EXPECT_EQ(twice, 0);
  EXPECT_EQ(sub.messages.size(), size_t{kStored} + kLive);
}

}  // namespace
}  // namespace peregrine::sim
