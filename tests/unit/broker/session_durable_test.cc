// A durable session against a recording DeliveryLog: when its QoS 2 PUBLISHes may leave
// (only once the log holds the session's records, so that a crash cannot make the
// restarted broker reuse a packet id the client still holds), and when an inbound QoS 2
// id is written (only once its PUBREC goes out: the routing's writes are done by then).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "src/broker/session.h"
#include "src/io/timer_wheel.h"
#include "tests/unit/broker/quiet_client_link.h"

namespace peregrine::broker {
namespace {

// The log: tickets per record, `written` moved by the test.
class Log final : public DeliveryLog {
 public:
  uint64_t ticket = 1;
  uint64_t written = 0;
  std::vector<std::pair<uint16_t, bool>> inbound_records;
  std::vector<uint64_t> waits;  // the tickets wake_when_written was asked for

  void taken(Session& session, const Delivery&) override { session.log_ticket = ticket; }
  void released(Session& session, const Delivery&, uint16_t) override {
    session.log_ticket = ticket;
  }
  void done(Session& session, uint64_t, const Message*) override { session.log_ticket = ticket; }
  void inbound(Session& session, uint16_t packet_id, bool awaiting) override {
    session.log_ticket = ticket;
    inbound_records.emplace_back(packet_id, awaiting);
  }
  void will(Session&, const Message*, uint64_t) override {}
  uint64_t written_through() const override { return written; }
  void wake_when_written(const Session&, uint64_t t) override { waits.push_back(t); }
};

class Host final : public SessionHost {
 public:
  Log log;
  HeldBudget budget;
  Limits config_limits;
  BrokerStats counters;
  io::TimerWheel timers{1'000'000};
  uint16_t shard_id() const override { return 0; }
  const Limits& limits() const override { return config_limits; }
  BrokerStats& stats() override { return counters; }
  HeldBudget& held_budget() override { return budget; }
  io::TimerWheel& wheel() override { return timers; }
  uint64_t now_ms() const override { return 1'000'000; }
  bool may_read(const Session&, std::string_view) const override { return true; }
  void session_timer(Session*) override {}
  DeliveryLog* delivery_log() override { return &log; }
};

// Records the PUBLISHes sent: (topic, packet id, dup).
class Link final : public QuietClientLink {
 public:
  struct Sent {
    std::string topic;
    uint16_t packet_id;
    bool dup;
  };
  std::vector<Sent> sent;
  void send_qos0(const Delivery& d) override {
    sent.push_back({std::string(d.message->topic()), 0, false});
  }
  void send_publish(const Delivery& d, uint16_t packet_id, bool dup) override {
    sent.push_back({std::string(d.message->topic()), packet_id, dup});
  }
};

Delivery delivery_on(const std::string& topic, uint8_t qos) {
  mqtt::Publish publish;
  publish.topic = topic;
  publish.qos = qos;
  Delivery d;
  d.message = Message::create(publish, 7, 0);
  d.qos = qos;
  return d;
}

struct DurableSession {
  Host host;
  Link link;
  Session session{&host, "durable"};
  DurableSession() {
    session.durable = true;
    session.attach(&link, 16);
  }
  ~DurableSession() { session.detach(); }
};

TEST(DurableSession, QoS2PublishWaitsUntilTheLogHoldsItsDelivery) {
  DurableSession s;
  s.session.deliver(delivery_on("a", 2));
  EXPECT_TRUE(s.link.sent.empty());  // its record is in a batch not yet written
  ASSERT_EQ(s.host.log.waits.size(), 1u);

  s.host.log.written = s.host.log.ticket;
  s.session.log_caught_up();
  ASSERT_EQ(s.link.sent.size(), 1u);
  EXPECT_EQ(s.link.sent[0].topic, "a");
  EXPECT_FALSE(s.link.sent[0].dup);  // never sent before
}

TEST(DurableSession, WhatFollowsAHeldPublishWaitsBehindItInOrder) {
  DurableSession s;
  s.session.deliver(delivery_on("first", 2));
  s.session.deliver(delivery_on("second", 1));  // QoS 1 alone would go at once
  s.session.deliver(delivery_on("zero", 0));    // QoS 0 is not held: no id, no promise
  ASSERT_EQ(s.link.sent.size(), 1u);
  EXPECT_EQ(s.link.sent[0].topic, "zero");

  // A third, logged in the next batch: the first batch's report lets the first two go,
  // and the third waits for its own.
  s.host.log.written = s.host.log.ticket;
  s.host.log.ticket++;
  s.session.deliver(delivery_on("third", 2));
  s.session.log_caught_up();
  ASSERT_EQ(s.link.sent.size(), 3u);
  EXPECT_EQ(s.link.sent[1].topic, "first");
  EXPECT_EQ(s.link.sent[2].topic, "second");
  ASSERT_EQ(s.host.log.waits.size(), 2u);  // asked again, for the newer batch
  EXPECT_EQ(s.host.log.waits[1], s.host.log.ticket);

  s.host.log.written = s.host.log.ticket;
  s.session.log_caught_up();
  ASSERT_EQ(s.link.sent.size(), 4u);
  EXPECT_EQ(s.link.sent[3].topic, "third");
}

TEST(DurableSession, QoS1GoesAtOnceWhenNothingIsHeld) {
  DurableSession s;
  s.session.deliver(delivery_on("a", 1));
  ASSERT_EQ(s.link.sent.size(), 1u);
  EXPECT_TRUE(s.host.log.waits.empty());
}

TEST(DurableSession, AHeldPublishGoesOnResumeOnlyOnceTheLogHoldsIt) {
  DurableSession s;
  s.session.deliver(delivery_on("a", 2));
  s.session.detach();
  s.session.attach(&s.link, 16);
  s.session.resume();
  EXPECT_TRUE(s.link.sent.empty());
  s.host.log.written = s.host.log.ticket;
  s.session.log_caught_up();
  ASSERT_EQ(s.link.sent.size(), 1u);
}

TEST(DurableSession, InboundQoS2IdIsWrittenWhenItsPubrecGoesNotWhenItArrives) {
  DurableSession s;
  EXPECT_EQ(s.session.begin_inbound_qos2(5, 100), std::optional<bool>(true));
  EXPECT_TRUE(s.host.log.inbound_records.empty());  // its routing's writes are not done
  EXPECT_EQ(s.session.begin_inbound_qos2(5, 100), std::optional<bool>(false));  // a resend

  s.session.answered_inbound_qos2(5);
  s.session.answered_inbound_qos2(5);  // the resend's PUBREC: written once
  ASSERT_EQ(s.host.log.inbound_records.size(), 1u);
  EXPECT_EQ(s.host.log.inbound_records[0], std::make_pair(uint16_t{5}, true));

  EXPECT_TRUE(s.session.release_inbound_qos2(5));
  ASSERT_EQ(s.host.log.inbound_records.size(), 2u);
  EXPECT_EQ(s.host.log.inbound_records[1], std::make_pair(uint16_t{5}, false));

  // Refused (PUBREC with an error): the flow ends unwritten.
  EXPECT_EQ(s.session.begin_inbound_qos2(6, 100), std::optional<bool>(true));
  EXPECT_TRUE(s.session.release_inbound_qos2(6));
  EXPECT_EQ(s.host.log.inbound_records.size(), 2u);
}

}  // namespace
}  // namespace peregrine::broker
