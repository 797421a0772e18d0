#include "src/broker/session_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "src/io/timer_wheel.h"
#include "tests/unit/broker/quiet_client_link.h"

namespace peregrine::broker {
namespace {

// The shard around a session table, as seen from it: a clock and wheel the test moves,
// and what the table asked for (wills published, subscriptions dropped, homes told).
class Shard final : public SessionHost, public SessionEvents {
 public:
  explicit Shard(uint16_t self = 0, uint16_t count = 2) : table(self, count, *this, *this) {}
  HeldBudget budget;  // before the table: its sessions give their bytes back as they go
  SessionTable table;
  Limits config_limits;
  BrokerStats counters;
  uint64_t now = 1'000'000;
  io::TimerWheel timers{now};
  std::vector<std::string> wills;
  std::vector<std::string> dropped;
  std::vector<uint64_t> told_home;

  void advance_s(uint64_t seconds) {
    now += seconds * 1000;
    timers.advance(now);
  }
  uint16_t shard_id() const override { return 0; }
  const Limits& limits() const override { return config_limits; }
  BrokerStats& stats() override { return counters; }
  HeldBudget& held_budget() override { return budget; }
  io::TimerWheel& wheel() override { return timers; }
  uint64_t now_ms() const override { return now; }
  bool may_read(const Session&, std::string_view) const override { return true; }
  void session_timer(Session* session) override { table.timer(session); }
  void publish_will(Message* will) override {
    wills.emplace_back(will->topic());
    will->unref();
  }
  void drop_subscription(Session*, std::string_view filter) override {
    dropped.emplace_back(filter);
  }
  void ended_away(uint16_t, uint64_t ticket) override { told_home.push_back(ticket); }
  void session_ending(Session* session) override { ending.push_back(session->client_id()); }
  std::vector<std::string> ending;
};

// A connection attached to a session: taken over, it goes as a Client does, through
// its shard's connection_gone().
class Link final : public QuietClientLink {
 public:
  Link(Shard& shard, uint64_t id) : _shard(shard), _id(id) {}
  Session* session = nullptr;
  int taken_over = 0;
  uint64_t connection_id() const override { return _id; }
  void take_over() override {
    ++taken_over;
    _shard.table.connection_gone(session, nullptr, 0, /*taken_over=*/true);
  }

 private:
  Shard& _shard;
  uint64_t _id;
};

Message* will_on(const std::string& topic) {
  mqtt::Publish publish;
  publish.topic = topic;
  return Message::create(publish, 1, 0);
}

// Opens a session for `id` on `link`, with an expiry.
Session* open(Shard& shard, Link& link, const std::string& id, bool clean, uint32_t expiry,
              bool* present = nullptr) {
  const SessionTable::Opened opened = shard.table.open(&link, id, clean, 65535);
  opened.session->expiry_interval = expiry;
  link.session = opened.session;
  if (present != nullptr) {
    *present = opened.present;
  }
  return opened.session;
}

// A client id whose home is `shard` of `count`.
std::string id_with_home(uint16_t shard, uint16_t count, const std::string& prefix) {
  for (int i = 0;; ++i) {
    std::string id = prefix + std::to_string(i);
    if (shard_for(id, count) == shard) {
      return id;
    }
  }
}

TEST(SessionTable, FindsBySessionNameAndIdAndNeverReusesAnId) {
  Shard shard;
  SessionTable& table = shard.table;
  Session* a = table.insert(std::make_unique<Session>(nullptr, "a"));
  Session* b = table.insert(std::make_unique<Session>(nullptr, "b"));
  EXPECT_NE(a->id, b->id);
  EXPECT_EQ(table.find("a"), a);
  EXPECT_EQ(table.find(b->id), b);
  const uint64_t old_id = a->id;
  table.end(a, /*replaced=*/true);
  EXPECT_EQ(table.find("a"), nullptr);
  EXPECT_EQ(table.find(old_id), nullptr);
  Session* again = table.insert(std::make_unique<Session>(nullptr, "a"));
  EXPECT_NE(again->id, old_id);
  EXPECT_EQ(table.size(), 2u);
}

TEST(SessionTable, ASessionLeavesWithItsClientAndComesBackUnderANewId) {
  Shard shard_here(0, 2);
  Shard shard_there(1, 2);
  SessionTable& here = shard_here.table;
  SessionTable& there = shard_there.table;
  Session* session = here.insert(std::make_unique<Session>(nullptr, "p"));
  std::unique_ptr<Session> travelling(here.release(session));
  EXPECT_EQ(here.find("p"), nullptr);
  EXPECT_EQ(here.find(session->id), nullptr);
  EXPECT_EQ(there.insert(std::move(travelling)), session);
  EXPECT_EQ(there.find("p"), session);
}

TEST(SessionTable, TheHomeForgetsALentSessionOnlyForItsOwnTicket) {
  Shard shard(0, 2);
  SessionTable& home = shard.table;
  const std::string id = id_with_home(0, 2, "pub-");
  EXPECT_TRUE(home.is_home(id));
  const uint64_t first = home.lend(id, 1);
  EXPECT_EQ(home.away(id), std::optional<uint16_t>(1));
  home.returned(id);  // it came back home ...
  EXPECT_EQ(home.away(id), std::nullopt);
  const uint64_t second = home.lend(id, 1);  // ... and left again
  EXPECT_NE(first, second);
  home.gone(first);  // the first lend's end, reported late, must not clear the second
  EXPECT_EQ(home.away(id), std::optional<uint16_t>(1));
  home.gone(second);
  EXPECT_EQ(home.away(id), std::nullopt);
  home.gone(second);  // twice: nothing left to forget
  EXPECT_EQ(home.away(id), std::nullopt);
}

TEST(SessionTable, LendingAgainReplacesTheRecordAndRetiresTheOldTicket) {
  Shard shard(0, 3);
  SessionTable& home = shard.table;
  const std::string id = id_with_home(0, 3, "p-");
  const uint64_t first = home.lend(id, 1);
  const uint64_t second = home.lend(id, 2);
  EXPECT_EQ(home.away(id), std::optional<uint16_t>(2));
  home.gone(first);
  EXPECT_EQ(home.away(id), std::optional<uint16_t>(2));
  home.gone(second);
  EXPECT_EQ(home.away(id), std::nullopt);
}

TEST(SessionTable, ATakeoverKeepsTheSessionAndACleanStartReplacesIt) {
  Shard shard;
  Link first(shard, 1);
  Link second(shard, 2);
  Link third(shard, 3);
  bool present = true;
  Session* session = open(shard, first, "c", false, 600, &present);
  EXPECT_FALSE(present);
  session->subscriptions().insert({PackedString("a/#"), {}});
  EXPECT_EQ(open(shard, second, "c", false, 600, &present), session);
  EXPECT_TRUE(present);
  EXPECT_EQ(first.taken_over, 1);
  EXPECT_EQ(session->client(), &second);
  EXPECT_EQ(shard.counters.takeovers, 1u);
  Session* fresh = open(shard, third, "c", true, 0, &present);
  EXPECT_FALSE(present);
  EXPECT_EQ(second.taken_over, 1);
  EXPECT_EQ(shard.dropped, std::vector<std::string>{"a/#"});  // the old session ended
  EXPECT_EQ(shard.table.find("c"), fresh);
  EXPECT_TRUE(shard.told_home.empty());  // replaced here: its home still points here
  shard.table.connection_gone(fresh, nullptr, 0, false);
  EXPECT_EQ(shard.table.find("c"), nullptr);
}

TEST(SessionTable, AnEndedSessionsFiltersDropInSortedOrderNotTheTablesOrder) {
  // Each drop mails other shards (routes, filter counts): the order must not follow the
  // hash set's, which absl salts with the set's own address.
  Shard shard;
  Link link(shard, 1);
  Session* session = open(shard, link, "c", true, 0);
  std::vector<std::string> filters;
  for (int i = 0; i < 40; ++i) {
    filters.push_back("f/" + std::to_string((i * 7919) % 40));
    session->subscriptions().insert({PackedString(filters.back()), {}});
  }
  std::sort(filters.begin(), filters.end());
  std::vector<std::string> in_order;
  for (const Session::Subscription* subscription : session->subscriptions_in_order()) {
    in_order.emplace_back(subscription->filter.view());
  }
  EXPECT_EQ(in_order, filters);
  shard.table.connection_gone(session, nullptr, 0, false);
  EXPECT_EQ(shard.dropped, filters);
}

TEST(SessionTable, WithoutExpiryTheSessionEndsWithItsConnectionAndItsWillGoesAtOnce) {
  Shard shard;
  Link link(shard, 1);
  Session* session = open(shard, link, "c", true, 0);
  shard.table.connection_gone(session, will_on("w/now"), 30, false);
  EXPECT_EQ(shard.wills, std::vector<std::string>{"w/now"});  // the session ended first
  EXPECT_EQ(shard.table.find("c"), nullptr);
}

TEST(SessionTable, ADelayedWillWaitsAndANewConnectionInTimeCancelsIt) {
  Shard shard;
  Link link(shard, 1);
  Link again(shard, 2);
  Session* session = open(shard, link, "c", false, 3600);
  shard.table.connection_gone(session, will_on("w/late"), 10, false);
  shard.advance_s(5);
  EXPECT_TRUE(shard.wills.empty());
  open(shard, again, "c", false, 3600);  // back before the delay ran out [MQTT-3.1.3-9]
  shard.advance_s(20);
  EXPECT_TRUE(shard.wills.empty());
  shard.table.connection_gone(session, will_on("w/second"), 10, false);
  shard.advance_s(11);
  EXPECT_EQ(shard.wills, std::vector<std::string>{"w/second"});
  EXPECT_EQ(shard.table.find("c"), session);  // the session outlives its will
}

TEST(SessionTable, AnExpiredSessionEndsAndSendsAWillStillWaiting) {
  Shard shard;
  Link link(shard, 1);
  Session* session = open(shard, link, "c", false, 30);
  session->subscriptions().insert({PackedString("x"), {}});
  shard.table.connection_gone(session, will_on("w/after"), 120, false);
  shard.advance_s(29);
  EXPECT_NE(shard.table.find("c"), nullptr);
  shard.advance_s(2);
  EXPECT_EQ(shard.table.find("c"), nullptr);
  EXPECT_EQ(shard.counters.sessions_expired, 1u);
  EXPECT_EQ(shard.wills, std::vector<std::string>{"w/after"});
  EXPECT_EQ(shard.dropped, std::vector<std::string>{"x"});
}

TEST(SessionTable, ATakenOverConnectionSendsOnlyAnImmediateWill) {
  Shard shard;
  Link first(shard, 1);
  Session* session = open(shard, first, "c", false, 600);
  shard.table.connection_gone(session, will_on("w/delayed"), 5, /*taken_over=*/true);
  shard.advance_s(10);
  EXPECT_TRUE(shard.wills.empty());
  Link second(shard, 2);
  open(shard, second, "c", false, 600);
  shard.table.connection_gone(session, will_on("w/now"), 0, /*taken_over=*/true);
  EXPECT_EQ(shard.wills, std::vector<std::string>{"w/now"});
}

TEST(SessionTable, ASessionEndingAwayTellsItsHomeByItsTicket) {
  const std::string id = id_with_home(1, 2, "r-");
  Shard away(0, 2);
  Link link(away, 1);
  Session* session = open(away, link, id, false, 0);
  session->away_ticket = 77;
  away.table.connection_gone(session, nullptr, 0, false);
  EXPECT_EQ(away.told_home, std::vector<uint64_t>{77});
}

// ---- held bytes (held_budget.h) -----------------------------------------------------

// A QoS 1 delivery of `payload_bytes` on topic "t" (held size: payload + 1).
Delivery qos1_of(size_t payload_bytes) {
  mqtt::Publish publish;
  publish.topic = "t";
  const std::vector<uint8_t> payload(payload_bytes, 'x');
  publish.payload = mqtt::Bytes(payload);
  return Delivery{.message = Message::create(publish, 9, 0), .qos = 1};
}

TEST(SessionHeldBytes, ASessionThatStopsAckingHoldsAtMostItsLimit) {
  Shard shard;
  shard.config_limits.max_session_bytes = 10'000;
  Link link(shard, 1);
  Session* session = open(shard, link, "slow", false, 600);
  for (int i = 0; i < 50; ++i) {
    session->deliver(qos1_of(999));  // 1,000 bytes held each
  }
  EXPECT_EQ(session->held_bytes(), 10'000u);
  EXPECT_EQ(shard.budget.bytes, 10'000u);
  EXPECT_EQ(shard.counters.session_bytes_dropped, 40u);
  // Acknowledged, room again: in flight ids 1..10 (the window is wide).
  session->on_puback(1);
  session->on_puback(2);
  EXPECT_EQ(session->held_bytes(), 8'000u);
  session->deliver(qos1_of(999));
  EXPECT_EQ(session->held_bytes(), 9'000u);
  shard.table.connection_gone(session, nullptr, 0, false);  // expiry 600: it stays, held
  EXPECT_EQ(shard.budget.bytes, 9'000u);
}

// The operator's gauges: of what a session holds, the queued share (beyond its receive
// window) and the rest in flight; an acknowledgement moves one from queue to flight, and
// an ended session gives both back.
TEST(SessionHeldBytes, QueuedAndInFlightAreToldApart) {
  Shard shard;
  Link link(shard, 1);
  const SessionTable::Opened opened = shard.table.open(&link, "narrow", true, 2);
  link.session = opened.session;
  Session* session = opened.session;
  for (int i = 0; i < 5; ++i) {
    session->deliver(qos1_of(99));  // 100 bytes held each
  }
  EXPECT_EQ(shard.budget.messages, 5u);
  EXPECT_EQ(shard.budget.queued_messages, 3u);
  EXPECT_EQ(shard.budget.queued_bytes, 300u);
  session->on_puback(1);
  EXPECT_EQ(shard.budget.messages, 4u);
  EXPECT_EQ(shard.budget.queued_messages, 2u);
  EXPECT_EQ(shard.budget.queued_bytes, 200u);
  shard.table.connection_gone(session, nullptr, 0, false);
  EXPECT_EQ(shard.budget.messages, 0u);
  EXPECT_EQ(shard.budget.queued_messages, 0u);
  EXPECT_EQ(shard.budget.queued_bytes, 0u);
}

TEST(SessionHeldBytes, ASessionHoldingNothingTakesOneMessageLargerThanItsLimit) {
  Shard shard;
  shard.config_limits.max_session_bytes = 100;
  Link link(shard, 1);
  Session* session = open(shard, link, "big", true, 0);
  session->deliver(qos1_of(5'000));
  EXPECT_EQ(session->held_bytes(), 5'001u);
  session->deliver(qos1_of(10));
  EXPECT_EQ(shard.counters.session_bytes_dropped, 1u);
  session->on_puback(1);
  EXPECT_EQ(session->held_bytes(), 0u);
  EXPECT_EQ(shard.budget.holders, 0u);
  shard.table.connection_gone(session, nullptr, 0, false);
}

TEST(SessionHeldBytes, AtTheShardsBudgetOnlyTheLargestHoldersLoseMessages) {
  Shard shard;
  shard.budget.limit = 20'000;
  Link a_link(shard, 1);
  Link b_link(shard, 2);
  Session* a = open(shard, a_link, "a", true, 0);
  Session* b = open(shard, b_link, "b", true, 0);
  for (int i = 0; i < 19; ++i) {
    a->deliver(qos1_of(999));  // a: 19,000
  }
  b->deliver(qos1_of(999));  // b: 1,000; the shard is at its budget
  EXPECT_TRUE(shard.budget.at_bound());
  EXPECT_EQ(shard.budget.holders, 2u);
  a->deliver(qos1_of(999));  // a is over its fair share (10,000): dropped
  EXPECT_EQ(shard.counters.budget_dropped, 1u);
  EXPECT_EQ(a->held_bytes(), 19'000u);
  for (int i = 0; i < 9; ++i) {
    b->deliver(qos1_of(999));  // b under its share: taken, up to the share
  }
  EXPECT_EQ(b->held_bytes(), 10'000u);
  b->deliver(qos1_of(999));
  EXPECT_EQ(shard.counters.budget_dropped, 2u);
  // a catches up: the shard drops under its budget and everyone takes messages again.
  for (uint16_t id = 1; id <= 19; ++id) {
    a->on_puback(id);
  }
  EXPECT_FALSE(shard.budget.at_bound());
  EXPECT_FALSE(shard.budget.over);  // the episode ended
  a->deliver(qos1_of(999));
  EXPECT_EQ(a->held_bytes(), 1'000u);
  shard.table.connection_gone(a, nullptr, 0, false);
  shard.table.connection_gone(b, nullptr, 0, false);
  EXPECT_EQ(shard.budget.bytes, 0u);  // ended sessions gave their bytes back
  EXPECT_EQ(shard.budget.holders, 0u);
}

TEST(SessionHeldBytes, AQoS2MessageIsLetGoAtPubrecAndQueuedOnesCountToo) {
  Shard shard;
  Link link(shard, 1);
  Session* session = open(shard, link, "q2", true, 0);
  session->detach();  // offline: deliveries queue
  Delivery d = qos1_of(99);
  d.qos = 2;
  session->deliver(std::move(d));
  EXPECT_EQ(session->queued(), 1u);
  EXPECT_EQ(session->held_bytes(), 100u);
  session->attach(&link, 10);
  session->resume();  // queue → in flight: still held
  EXPECT_EQ(session->held_bytes(), 100u);
  session->on_pubrec(1);
  EXPECT_EQ(session->held_bytes(), 0u);
  EXPECT_EQ(shard.budget.bytes, 0u);
  session->on_pubcomp(1);
  shard.table.connection_gone(session, nullptr, 0, false);
}

TEST(SessionRetainedScan, OnlyRetainedMessagesInAWindowAreNotedAndTheBoundIsCounted) {
  // Live messages a retained scan must not repeat are noted between a SUBSCRIBE and its
  // SUBACK only (scan_cut.h), and only those published with RETAIN: live traffic without
  // it cannot be in the store and cannot fill the notes.
  Shard shard;
  Link link(shard, 1);
  Session* session = open(shard, link, "scan", true, 0);
  mqtt::Publish plain;
  plain.topic = "t";
  mqtt::Publish retained = plain;
  retained.retain = true;
  Message* outside = Message::create(retained, 9, 0);
  outside->stamp(1, 1);
  session->note_live(outside);  // no window open: nothing to note
  session->scan_windows = 1;
  EXPECT_FALSE(session->got_live(outside));
  Message* live = Message::create(plain, 9, 0);
  live->stamp(1, 2);
  for (size_t i = 0; i < Session::kMaxLiveIds + 10; ++i) {
    session->note_live(live);
  }
  EXPECT_FALSE(session->got_live(live));
  EXPECT_EQ(shard.counters.retained_scan_ids_full, 0u);
  std::vector<Message*> kept;
  for (uint64_t i = 0; i <= Session::kMaxLiveIds; ++i) {
    kept.push_back(Message::create(retained, 9, 0));
    kept.back()->stamp(1, 3 + i);
    session->note_live(kept.back());
  }
  EXPECT_TRUE(session->got_live(kept.front()));
  EXPECT_FALSE(session->got_live(kept.back()));  // past the bound: counted, once
  EXPECT_EQ(shard.counters.retained_scan_ids_full, 1u);
  // Another shard's message with the same number is another message.
  Message* other = Message::create(retained, 9, 0);
  other->stamp(2, 3);
  EXPECT_FALSE(session->got_live(other));
  // The notes outlive the window while its scans run, and go with the last of them.
  session->active_scans = 1;
  session->close_scan_window();
  EXPECT_TRUE(session->got_live(kept.front()));
  session->end_scan();
  EXPECT_FALSE(session->got_live(kept.front()));
  for (Message* message : {outside, live, other}) {
    message->unref();
  }
  for (Message* message : kept) {
    message->unref();
  }
  shard.table.connection_gone(session, nullptr, 0, false);
}

}  // namespace
}  // namespace peregrine::broker
