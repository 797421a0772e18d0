#include "src/broker/message.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace peregrine::broker {
namespace {

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

struct Unref {
  void operator()(Message* m) const { m->unref(); }
};
using MessagePtr = std::unique_ptr<Message, Unref>;

TEST(Message, CopiesTopicAndPayloadAndCarriesNoPropertiesWhenTheyAreNone) {
  std::string topic = "a/b";
  std::vector<uint8_t> payload = bytes("hello");
  mqtt::Publish in;
  in.qos = 1;
  in.retain = true;
  in.topic = topic;
  in.payload = payload;
  in.properties.topic_alias = 7;  // one connection's: not carried
  in.properties.subscription_identifiers = {3};
  MessagePtr m(Message::create(in, 42, 1000));
  topic = "x/y";
  payload[0] = 'J';
  EXPECT_EQ(m->topic(), "a/b");
  EXPECT_EQ(std::string(m->payload().begin(), m->payload().end()), "hello");
  EXPECT_EQ(m->qos(), 1);
  EXPECT_TRUE(m->retain());
  EXPECT_EQ(m->origin_connection(), 42u);
  EXPECT_FALSE(m->has_properties());
  EXPECT_TRUE(m->properties().empty());
  EXPECT_FALSE(m->expiry_left(5000).has_value());
  EXPECT_FALSE(m->has_expiry());
}

TEST(Message, CopiesTheTravellingPropertiesOnly) {
  std::string topic = "t";
  std::string content = "text/plain";
  std::string response = "reply/here";
  std::vector<uint8_t> correlation = bytes("c0rr");
  std::string key = "k";
  std::string value = "v";
  std::vector<uint8_t> payload = bytes("p");
  mqtt::Publish in;
  in.topic = topic;
  in.payload = payload;
  in.properties.payload_format_indicator = 1;
  in.properties.message_expiry_interval = 10;
  in.properties.content_type = content;
  in.properties.response_topic = response;
  in.properties.correlation_data = correlation;
  in.properties.user_properties.push_back({key, value});
  in.properties.topic_alias = 2;
  MessagePtr m(Message::create(in, 1, 1000));
  content = response = key = value = "overwritten";
  correlation[0] = 'X';
  ASSERT_TRUE(m->has_properties());
  const mqtt::Properties& p = m->properties();
  EXPECT_EQ(p.payload_format_indicator, 1);
  EXPECT_EQ(*p.content_type, "text/plain");
  EXPECT_EQ(*p.response_topic, "reply/here");
  EXPECT_EQ(std::string(p.correlation_data->begin(), p.correlation_data->end()), "c0rr");
  ASSERT_EQ(p.user_properties.size(), 1u);
  EXPECT_EQ(p.user_properties[0].key, "k");
  EXPECT_EQ(p.user_properties[0].value, "v");
  EXPECT_FALSE(p.topic_alias.has_value());
  EXPECT_TRUE(m->has_expiry());
  EXPECT_EQ(m->expiry_left(4500), 7u);   // 3 s old
  EXPECT_EQ(m->expiry_left(11000), 0u);  // expired

  const mqtt::Publish out = m->to_publish();
  EXPECT_EQ(out.topic, "t");
  EXPECT_EQ(*out.properties.content_type, "text/plain");
  EXPECT_EQ(out.properties.user_properties.size(), 1u);
  EXPECT_EQ(out.payload.size(), 1u);
}

}  // namespace
}  // namespace peregrine::broker

namespace peregrine::broker {
namespace {

Message* make_message(std::string_view topic) {
  static const std::vector<uint8_t> payload(16, 'p');
  mqtt::Publish in;
  in.topic = topic;
  in.payload = payload;
  return Message::create(in, 1, 0);
}

TEST(MessageReclaimer, AMessageDyingOnAnotherShardGoesBackToItsHome) {
  MessageReclaimer home(0, 2);
  MessageReclaimer other(1, 2);
  home.install();
  Message* a = make_message("a");
  Message* b = make_message("b");
  MessageReclaimer::uninstall();

  std::thread([&] {
    other.install();
    a->unref();
    b->unref();
    Message* local = make_message("local");  // its own: freed where it dies
    local->unref();
    EXPECT_EQ(other.take(1), nullptr);
    MessageReclaimer::uninstall();
  }).join();

  // Both wait, newest first, in the list for home 0; nothing for home 1.
  Message* dead = other.take(0);
  ASSERT_NE(dead, nullptr);
  EXPECT_EQ(dead, b);
  EXPECT_EQ(other.take(0), nullptr);  // taken once
  home.install();
  MessageReclaimer::free_list(dead);  // ASan: both freed exactly once
  MessageReclaimer::uninstall();
}

TEST(MessageReclaimer, FreesWhereItDiesOffShardThreadsAndWhatItHoldsAtTheEnd) {
  Message* unhomed = make_message("t");  // no reclaimer installed: no home
  {
    MessageReclaimer other(1, 2);
    other.install();
    unhomed->unref();  // freed at once: nothing to take
    EXPECT_EQ(other.take(0), nullptr);
    MessageReclaimer::uninstall();

    MessageReclaimer home(0, 2);
    home.install();
    Message* held = make_message("held");
    MessageReclaimer::uninstall();
    other.install();
    held->unref();
    MessageReclaimer::uninstall();
    // `other` is destroyed holding `held`: its destructor frees it (ASan: no leak).
  }
}

}  // namespace
}  // namespace peregrine::broker
