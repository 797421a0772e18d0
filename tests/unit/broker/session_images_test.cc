// Replaying session records: a session's image follows its records in log order; a
// full image restarts its subscriptions; an end forgets it; records replayed again on
// top of a snapshot that already holds them change nothing; a subscription for no
// session is counted, not invented.
#include "src/broker/session_images.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace peregrine::broker {
namespace {

struct Record {
  RecordType type;
  std::string body;
};

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Record session(std::string id, uint32_t expiry, bool full = false) {
  SessionRecord r;
  r.full_image = full;
  r.key = {"", std::move(id)};
  r.expiry_interval = expiry;
  return {RecordType::kSession, encode_session(r)};
}
Record sub(std::string id, std::string filter, uint8_t qos = 1) {
  return {RecordType::kSubscribe, encode_subscribe({"", std::move(id)}, filter, {qos})};
}
Record unsub(std::string id, std::string filter) {
  return {RecordType::kUnsubscribe, encode_unsubscribe({"", std::move(id)}, filter)};
}
Record end(std::string id) { return {RecordType::kSessionEnd, encode_session_end({"", id})}; }

void apply(SessionImages& images, const std::vector<Record>& records) {
  for (const Record& r : records) {
    std::string why;
    ASSERT_TRUE(images.apply(r.type, bytes_of(r.body), why)) << why;
  }
}

std::vector<std::string> filters(const SessionImages& images, const std::string& id) {
  std::vector<std::string> out;
  auto it = images.images().find({"", id});
  if (it != images.images().end()) {
    for (const auto& [filter, options] : it->second.subscriptions) out.push_back(filter);
  }
  return out;
}

TEST(SessionImages, RecordsInLogOrderMakeTheImage) {
  SessionImages images;
  apply(images, {session("a", 60, true), sub("a", "x/#"), sub("a", "y", 2), unsub("a", "x/#"),
                 session("a", 120), sub("b", "orphan")});
  ASSERT_EQ(images.images().size(), 1u);
  const SessionImage& a = images.images().at({"", "a"});
  EXPECT_EQ(a.session.expiry_interval, 120u);  // a later field record wins
  EXPECT_EQ(filters(images, "a"), std::vector<std::string>{"y"});
  EXPECT_EQ(a.subscriptions.at("y").max_qos, 2);
  EXPECT_EQ(images.orphans(), 1u);
}

TEST(SessionImages, AFullImageRestartsSubscriptionsAndAnEndForgets) {
  SessionImages images;
  apply(images, {session("a", 60, true), sub("a", "old"), session("a", 60, true), sub("a", "new")});
  EXPECT_EQ(filters(images, "a"), std::vector<std::string>{"new"});
  apply(images, {end("a"), end("never-there")});
  EXPECT_TRUE(images.images().empty());
  apply(images, {session("a", 5, true)});  // a new session under the same id
  EXPECT_TRUE(filters(images, "a").empty());
}

TEST(SessionImages, TheLogReplayedOnTopOfALaterSnapshotChangesNothing) {
  // The log since the snapshot began, and the snapshot taken in slices while it ran.
  const std::vector<Record> log = {sub("a", "t1"),         end("b"),
                                   session("c", 9, true),  sub("c", "z"),
                                   unsub("a", "t0"),       session("a", 30)};
  const std::vector<Record> snapshot = {session("a", 30, true), sub("a", "t1"),
                                        session("c", 9, true), sub("c", "z")};
  SessionImages once;
  apply(once, snapshot);
  SessionImages again;
  apply(again, snapshot);
  apply(again, log);
  ASSERT_EQ(once.images().size(), again.images().size());
  for (const auto& [key, image] : once.images()) {
    EXPECT_EQ(filters(once, key.second), filters(again, key.second));
    EXPECT_EQ(image.session.expiry_interval,
              again.images().at(key).session.expiry_interval);
  }
}

TEST(SessionImages, BodiesThatDoNotReadAreRefused) {
  SessionImages images;
  std::string why;
  EXPECT_FALSE(images.apply(RecordType::kSession, bytes_of("xx"), why));
  EXPECT_FALSE(why.empty());
  EXPECT_FALSE(images.apply(RecordType::kRetained, bytes_of(""), why));
}

}  // namespace
}  // namespace peregrine::broker

namespace peregrine::broker {
namespace {

std::string stored(const MessageKey& key, std::string_view payload) {
  mqtt::Publish p;
  p.topic = "t";
  p.qos = 1;
  p.packet_id = 1;
  p.payload = {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()};
  Message* message = Message::create(p, 0, 0);
  std::string body = encode_message(key, *message, 0, 1'700'000'000'000);
  message->unref();
  return body;
}

Record message_record(const MessageKey& key, std::string_view payload) {
  return {RecordType::kMessage, stored(key, payload)};
}
Record deliver(std::string id, uint64_t seq, MessageKey key, uint8_t qos = 1) {
  return {RecordType::kDeliver, encode_deliver({{"", std::move(id)}, seq, key, qos, false, 0, {}})};
}
Record released(std::string id, uint64_t seq, uint16_t packet_id) {
  return {RecordType::kReleased, encode_released({"", std::move(id)}, seq, packet_id)};
}
Record done(std::string id, uint64_t seq) {
  return {RecordType::kDone, encode_done({"", std::move(id)}, seq)};
}
Record inbound(std::string id, uint16_t packet_id, bool awaiting) {
  return {RecordType::kInbound, encode_inbound({"", std::move(id)}, packet_id, awaiting)};
}

TEST(SessionImages, DeliveriesFollowTheirStepsAndNameMessagesStoredOnce) {
  SessionImages images(1'700'000'000'000, 0);
  const MessageKey m1{9, 1};
  const MessageKey m2{9, 2};
  // A delivery may come before its message's record (stored again after a failure).
  apply(images, {session("a", 60, true), deliver("a", 1, m1), message_record(m1, "one"),
                 message_record(m2, "two"), deliver("a", 2, m2, 2), deliver("a", 3, m1),
                 released("a", 2, 77), done("a", 3), inbound("a", 5, true),
                 inbound("a", 6, true), inbound("a", 5, false)});
  const SessionImage& a = images.images().at({"", "a"});
  ASSERT_EQ(a.deliveries.size(), 2u);
  EXPECT_EQ(a.deliveries.at(1).message, m1);
  EXPECT_FALSE(a.deliveries.at(1).released);
  EXPECT_TRUE(a.deliveries.at(2).released);
  EXPECT_EQ(a.deliveries.at(2).packet_id, 77);
  EXPECT_EQ(a.inbound, (std::set<uint16_t>{6}));
  ASSERT_NE(images.message(m1), nullptr);
  EXPECT_EQ(images.message(m1)->payload().size(), 3u);
  EXPECT_EQ(images.message(MessageKey{9, 3}), nullptr);
  // A full image starts its deliveries and inbound ids again.
  apply(images, {session("a", 60, true)});
  EXPECT_TRUE(images.images().at({"", "a"}).deliveries.empty());
  EXPECT_TRUE(images.images().at({"", "a"}).inbound.empty());
}

}  // namespace
}  // namespace peregrine::broker

namespace peregrine::broker {
namespace {

Record will_record(std::string id, std::string_view payload, int64_t due_wall_ms) {
  mqtt::Publish p;
  p.topic = "will/t";
  p.payload = {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()};
  Message* message = Message::create(p, 0, 0);
  Record r{RecordType::kWill,
           encode_will({"", std::move(id)}, message, due_wall_ms, 0, 1'700'000'000'000)};
  message->unref();
  return r;
}
Record will_gone(std::string id) {
  return {RecordType::kWill, encode_will({"", std::move(id)}, nullptr, 0, 0, 0)};
}

TEST(SessionImages, ADelayedWillIsKeptUntilSentDroppedOrItsSessionEnds) {
  SessionImages images(1'700'000'000'000, 0);
  apply(images, {session("a", 60, true), will_record("a", "bye", 1'700'000'005'000),
                 session("b", 60, true), will_record("b", "b-bye", 1'700'000'001'000),
                 will_gone("b"), session("c", 60, true), will_record("c", "c-bye", 0),
                 end("c")});
  const SessionImage& a = images.images().at({"", "a"});
  ASSERT_NE(a.will, nullptr);
  EXPECT_EQ(a.will->topic(), "will/t");
  EXPECT_EQ(a.will_due_wall_ms, 1'700'000'005'000);
  EXPECT_EQ(images.images().at({"", "b"}).will, nullptr);
  EXPECT_EQ(images.images().count({"", "c"}), 0u);
  apply(images, {session("a", 60, true)});  // a full image brings its own will, if any
  EXPECT_EQ(images.images().at({"", "a"}).will, nullptr);
  std::string why;
  WillRecord back;
  const Record r = will_record("a", "x", 42);
  ASSERT_TRUE(decode_will(bytes_of(r.body), back, why)) << why;
  EXPECT_TRUE(back.set);
  EXPECT_EQ(back.due_wall_ms, 42);
  EXPECT_FALSE(decode_will(bytes_of(r.body).first(8), back, why));
}

}  // namespace
}  // namespace peregrine::broker
