// The broker's log records: a retained message round-trips with its properties, its
// expiry counts on across the time it spent on disk, and bodies that are not ours are
// refused with a reason.
#include "src/broker/durable_records.h"

#include <gtest/gtest.h>

#include <string>

#include "src/mqtt/codec.h"

namespace peregrine::broker {
namespace {

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Message* make(std::string_view topic, std::string_view payload, uint8_t qos,
              std::optional<uint32_t> expiry = std::nullopt) {
  const std::string bytes(payload);
  mqtt::Publish p;
  p.topic = topic;
  p.qos = qos;
  p.retain = true;
  p.packet_id = qos > 0 ? 9 : 0;
  p.payload = bytes_of(bytes);  // copied by create
  p.properties.message_expiry_interval = expiry;
  p.properties.content_type = "text/plain";
  return Message::create(p, 7, 1000);
}

TEST(DurableRecords, RetainedRoundTrip) {
  const std::string payload = "21.5 C";
  mqtt::Publish p;
  p.topic = "sensors/1";
  p.qos = 1;
  p.retain = true;
  p.packet_id = 9;
  p.payload = bytes_of(payload);
  p.properties.content_type = "text/plain";
  p.properties.user_properties.push_back({"k", "v"});
  Message* m = Message::create(p, 7, 1000);
  const std::string body = encode_retained(*m, 1'700'000'000'000);
  m->unref();
  DecodedRetained back = decode_retained(bytes_of(body), 1'700'000'005'000, 50);
  ASSERT_EQ(back.outcome, DecodedRetained::Outcome::kMessage) << back.why;
  EXPECT_EQ(back.message->topic(), "sensors/1");
  EXPECT_EQ(std::string(back.message->payload().begin(), back.message->payload().end()), payload);
  EXPECT_EQ(back.message->qos(), 1);
  EXPECT_TRUE(back.message->retain());
  EXPECT_EQ(back.message->properties().content_type, "text/plain");
  ASSERT_EQ(back.message->properties().user_properties.size(), 1u);
  EXPECT_EQ(back.message->received_ms(), 50u);
  back.message->unref();
}

TEST(DurableRecords, ExpiryCountsOnWhileOnDisk) {
  Message* m = make("t", "x", 0, 60);
  const std::string body = encode_retained(*m, 1'000'000);
  m->unref();
  DecodedRetained later = decode_retained(bytes_of(body), 1'000'000 + 45'500, 0);
  ASSERT_EQ(later.outcome, DecodedRetained::Outcome::kMessage);
  EXPECT_EQ(later.message->properties().message_expiry_interval, 15u);  // 60 - 45
  later.message->unref();
  EXPECT_EQ(decode_retained(bytes_of(body), 1'000'000 + 60'000, 0).outcome,
            DecodedRetained::Outcome::kExpired);
  // A clock that went back counts as no time passed.
  DecodedRetained earlier = decode_retained(bytes_of(body), 500'000, 0);
  ASSERT_EQ(earlier.outcome, DecodedRetained::Outcome::kMessage);
  EXPECT_EQ(earlier.message->properties().message_expiry_interval, 60u);
  earlier.message->unref();
}

TEST(DurableRecords, RecordsNameTheirVirtualBroker) {
  Message* m = make("t", "x", 0);
  const std::string plain = encode_retained(*m, 1);
  const std::string tenant = encode_retained(*m, 1, "staging.my-namespace");
  m->unref();
  DecodedRetained a = decode_retained(bytes_of(plain), 2, 0);
  DecodedRetained b = decode_retained(bytes_of(tenant), 2, 0);
  ASSERT_EQ(a.outcome, DecodedRetained::Outcome::kMessage);
  ASSERT_EQ(b.outcome, DecodedRetained::Outcome::kMessage);
  EXPECT_EQ(a.tenant, "");
  EXPECT_EQ(b.tenant, "staging.my-namespace");
  a.message->unref();
  b.message->unref();
}

TEST(DurableRecords, AnEmptyPayloadIsAClear) {
  Message* m = make("t/clear", "", 2);
  const std::string body = encode_retained(*m, 1);
  m->unref();
  DecodedRetained back = decode_retained(bytes_of(body), 2, 0);
  ASSERT_EQ(back.outcome, DecodedRetained::Outcome::kMessage);
  EXPECT_TRUE(back.message->payload().empty());
  back.message->unref();
}

TEST(DurableRecords, BodiesThatAreNotOursAreRefused) {
  Message* m = make("t", "payload", 1);
  const std::string good = encode_retained(*m, 1);
  m->unref();
  std::string not_retained = good;
  not_retained[10] = static_cast<char>(0x32);  // PUBLISH, QoS 1, retain clear
  std::string wildcard = good;
  wildcard[10 + 4] = '#';                       // the topic "t" becomes "#"
  std::string long_tenant = good;
  long_tenant[9] = 1;                           // a 256-byte name
  std::string past_end = good;
  past_end[8] = static_cast<char>(200);         // a name longer than the body
  for (const std::string& bad : {std::string(), good.substr(0, 9), good.substr(0, good.size() - 1),
                                 good + "x", not_retained, wildcard, long_tenant, past_end,
                                 std::string(10, '\0') + "\x20\x02\x00\x00"}) {
    const DecodedRetained r = decode_retained(bytes_of(bad), 1, 0);
    EXPECT_EQ(r.outcome, DecodedRetained::Outcome::kMalformed) << bad.size();
    EXPECT_FALSE(r.why.empty());
    EXPECT_EQ(r.message, nullptr);
  }
}

}  // namespace
}  // namespace peregrine::broker
