// The broker's log records: a retained message round-trips with its properties, its
// expiry counts on across the time it spent on disk, and bodies that are not ours are
// refused with a reason.
#include "src/broker/durable_records.h"
#include "src/mqtt/scope.h"

#include <gtest/gtest.h>

#include <string>

#include "src/broker/shard_for.h"
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
  Message* scoped = make(mqtt::scoped(mqtt::make_scope("staging.my-namespace"), "t"), "x", 0);
  const std::string plain = encode_retained(*m, 1);
  const std::string tenant = encode_retained(*scoped, 1);
  m->unref();
  scoped->unref();
  // On disk: the broker's name apart, the topic as its clients wrote it.
  EXPECT_NE(tenant.find("staging.my-namespace"), std::string::npos);
  EXPECT_EQ(tenant.find(mqtt::kScopeMark), std::string::npos);
  DecodedRetained a = decode_retained(bytes_of(plain), 2, 0);
  DecodedRetained b = decode_retained(bytes_of(tenant), 2, 0);
  ASSERT_EQ(a.outcome, DecodedRetained::Outcome::kMessage);
  ASSERT_EQ(b.outcome, DecodedRetained::Outcome::kMessage);
  EXPECT_EQ(a.tenant, "");
  EXPECT_EQ(b.tenant, "staging.my-namespace");
  EXPECT_EQ(a.message->routing_topic(), "t");
  // Back in memory behind its scope, seen unscoped.
  EXPECT_EQ(b.message->routing_topic(), mqtt::scoped(mqtt::make_scope("staging.my-namespace"), "t"));
  EXPECT_EQ(b.message->topic(), "t");
  a.message->unref();
  b.message->unref();
}

TEST(DurableRecords, ARecordOfAnUnknownFormOfTenantDoesNotRead) {
  Message* m = make(mqtt::scoped(mqtt::make_scope("a.b"), "t"), "x", 0);
  std::string body = encode_retained(*m, 1);
  m->unref();
  const size_t at = body.find("a.b");
  ASSERT_NE(at, std::string::npos);
  body[at + 1] = '/';  // "a/b": no broker's name
  DecodedRetained bad = decode_retained(bytes_of(body), 2, 0);
  EXPECT_EQ(bad.outcome, DecodedRetained::Outcome::kMalformed);
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

namespace peregrine::broker {
namespace {

SessionRecord full_session() {
  SessionRecord r;
  r.full_image = true;
  r.key = {"", "device-7"};
  r.expiry_interval = 3600;
  r.offline_since_wall_ms = 1'700'000'000'123;
  r.identity.username = "alice";
  r.identity.proven = true;
  r.identity.subject = "device-7";
  r.identity.token_id = "jti-1";
  r.identity.broker_key_id = "kid-9";
  r.identity.grant = TopicGrant{{"a/#", "b/+"}, {"c/#"}};
  return r;
}

TEST(SessionRecords, ASessionRoundTripsWithItsIdentity) {
  const SessionRecord in = full_session();
  const std::string body = encode_session(in);
  SessionRecord out;
  std::string why;
  ASSERT_TRUE(decode_session(bytes_of(body), out, why)) << why;
  EXPECT_TRUE(out.full_image);
  EXPECT_EQ(out.key.client_id, "device-7");
  EXPECT_EQ(out.expiry_interval, 3600u);
  EXPECT_EQ(out.offline_since_wall_ms, in.offline_since_wall_ms);
  EXPECT_EQ(out.identity.username, "alice");
  EXPECT_TRUE(out.identity.proven);
  EXPECT_EQ(out.identity.token_id, "jti-1");
  EXPECT_EQ(out.identity.broker_key_id, "kid-9");
  ASSERT_TRUE(out.identity.grant.has_value());
  EXPECT_EQ(out.identity.grant->publish, (std::vector<std::string>{"a/#", "b/+"}));
  EXPECT_EQ(out.identity.grant->subscribe, (std::vector<std::string>{"c/#"}));

  // Nothing proven, no username: the smallest record.
  SessionRecord bare;
  bare.key = {"", mqtt::scoped(mqtt::make_scope("tenant-a.ns"), "x")};
  bare.expiry_interval = 10;
  SessionRecord back;
  ASSERT_TRUE(decode_session(bytes_of(encode_session(bare)), back, why)) << why;
  EXPECT_FALSE(back.full_image);
  EXPECT_EQ(back.key.tenant, "tenant-a.ns");
  EXPECT_EQ(back.key.client_id, bare.key.client_id);  // scoped again in memory
  EXPECT_FALSE(back.identity.username.has_value());
  EXPECT_FALSE(back.identity.proven);
  EXPECT_FALSE(back.identity.grant.has_value());
}

TEST(SessionRecords, SubscriptionsRoundTripWithTheirOptions) {
  const SubscriptionOptions options{2, true, true, 2, 268435455};
  SubscriptionRecord out;
  std::string why;
  ASSERT_TRUE(decode_subscribe(bytes_of(encode_subscribe({"", "c"}, "$share/g/a/+", options)),
                               out, why))
      << why;
  EXPECT_EQ(out.filter, "$share/g/a/+");
  EXPECT_EQ(out.options.max_qos, 2);
  EXPECT_TRUE(out.options.no_local);
  EXPECT_TRUE(out.options.retain_as_published);
  EXPECT_EQ(out.options.retain_handling, 2);
  EXPECT_EQ(out.options.subscription_id, 268435455u);
  SubscriptionRecord gone;
  ASSERT_TRUE(decode_unsubscribe(bytes_of(encode_unsubscribe({"", "c"}, "a/#")), gone, why));
  EXPECT_EQ(gone.filter, "a/#");
  SessionKey key;
  ASSERT_TRUE(decode_session_end(bytes_of(encode_session_end({"", "c"})), key, why));
  EXPECT_EQ(key.client_id, "c");
}

TEST(SessionRecords, EveryTruncationAndBadFieldIsRefused) {
  const std::string session = encode_session(full_session());
  const std::string subscribe = encode_subscribe({"", "c"}, "a/b", {1, false, false, 0, 5});
  const std::string unsubscribe = encode_unsubscribe({"", "c"}, "a/b");
  const std::string end = encode_session_end({"", "c"});
  std::string why;
  for (size_t cut = 0; cut < session.size(); ++cut) {
    SessionRecord out;
    EXPECT_FALSE(decode_session(bytes_of(session).first(cut), out, why)) << cut;
  }
  for (size_t cut = 0; cut < subscribe.size(); ++cut) {
    SubscriptionRecord out;
    EXPECT_FALSE(decode_subscribe(bytes_of(subscribe).first(cut), out, why)) << cut;
  }
  for (size_t cut = 0; cut < unsubscribe.size(); ++cut) {
    SubscriptionRecord out;
    EXPECT_FALSE(decode_unsubscribe(bytes_of(unsubscribe).first(cut), out, why)) << cut;
  }
  for (size_t cut = 0; cut < end.size(); ++cut) {
    SessionKey out;
    EXPECT_FALSE(decode_session_end(bytes_of(end).first(cut), out, why)) << cut;
  }
  SubscriptionRecord sub;
  std::string bad_qos = encode_subscribe({"", "c"}, "a/b", {1, false, false, 0, 0});
  bad_qos[2 + 0 + 2 + 1] = 3;  // after the key (u16 "" , u16 "c"): QoS 3
  EXPECT_FALSE(decode_subscribe(bytes_of(bad_qos), sub, why));
  EXPECT_FALSE(decode_subscribe(bytes_of(encode_subscribe({"", "c"}, "a/#/b", {})), sub, why));
  EXPECT_FALSE(decode_subscribe(bytes_of(encode_subscribe({"", ""}, "a", {})), sub, why))
      << "a session has a client id";
  std::string trailing = encode_session_end({"", "c"}) + "x";
  SessionKey key;
  EXPECT_FALSE(decode_session_end(bytes_of(trailing), key, why));
}

TEST(SessionRecords, EachRecordBelongsToItsSessionsHome) {
  std::string why;
  for (uint16_t shards : {1, 2, 3, 7}) {
    for (const char* id : {"a", "device-7", "pg-0001"}) {
      const uint16_t home = shard_for(id, shards);
      EXPECT_EQ(record_owners(static_cast<uint8_t>(RecordType::kSubscribe),
                              bytes_of(encode_subscribe({"", id}, "t", {})), shards, 0, why),
                uint64_t{1} << home);
      EXPECT_EQ(record_owners(static_cast<uint8_t>(RecordType::kSessionEnd),
                              bytes_of(encode_session_end({"", id})), shards, 0, why),
                uint64_t{1} << home);
      EXPECT_EQ(record_owners(static_cast<uint8_t>(RecordType::kDone),
                              bytes_of(encode_done({"", id}, 5)), shards, 0, why),
                uint64_t{1} << home);
    }
  }
  EXPECT_FALSE(known_record_type(0));
  EXPECT_TRUE(known_record_type(11));
  EXPECT_FALSE(known_record_type(12));
  EXPECT_FALSE(record_owners(12, {}, 2, 0, why).has_value());
}

}  // namespace
}  // namespace peregrine::broker

namespace peregrine::broker {
namespace {

TEST(DeliveryRecords, AStoredMessageKeepsItsKeyPropertiesAndWhatIsLeftOfItsExpiry) {
  Message* message = make("q/1", "payload", 2, 100);
  const MessageKey key{0xABCDEF0123456789ull, 42};
  // Written 10 s after it was received (shard clock 1000 → 11000): 90 s left.
  const std::string body = encode_message(key, *message, 11'000, 1'700'000'000'000);
  DecodedMessage back = decode_message(bytes_of(body), 1'700'000'030'000, 5);  // 30 s later
  ASSERT_EQ(back.outcome, DecodedMessage::Outcome::kMessage) << back.why;
  EXPECT_EQ(back.key, key);
  EXPECT_EQ(back.message->topic(), "q/1");
  EXPECT_EQ(back.message->qos(), 2);
  EXPECT_TRUE(back.message->retain());  // as published
  EXPECT_EQ(back.message->expiry_left(5), 60u);
  EXPECT_EQ(decode_message(bytes_of(body), 1'700'000'091'000, 5).outcome,
            DecodedMessage::Outcome::kExpired);
  EXPECT_EQ(decode_message(bytes_of(body).first(15), 0, 0).outcome,
            DecodedMessage::Outcome::kMalformed);
  back.message->unref();
  message->unref();
}

TEST(DeliveryRecords, DeliveriesStepsAndInboundIdsRoundTrip) {
  DeliveryRecord in{{"", "c"}, 77, {1, 2}, 2, true, 0x1234, {7, 268435455}};
  DeliveryRecord out;
  std::string why;
  ASSERT_TRUE(decode_deliver(bytes_of(encode_deliver(in)), out, why)) << why;
  EXPECT_EQ(out.seq, 77u);
  EXPECT_EQ(out.message, (MessageKey{1, 2}));
  EXPECT_EQ(out.qos, 2);
  EXPECT_TRUE(out.retain);
  EXPECT_EQ(out.packet_id, 0x1234);
  EXPECT_EQ(out.subscription_ids, (std::vector<uint32_t>{7, 268435455}));
  DeliveryStep step;
  ASSERT_TRUE(decode_released(bytes_of(encode_released({"", "c"}, 9, 65535)), step, why));
  EXPECT_EQ(step.seq, 9u);
  EXPECT_EQ(step.packet_id, 65535);
  ASSERT_TRUE(decode_done(bytes_of(encode_done({"", "c"}, 10)), step, why));
  EXPECT_EQ(step.seq, 10u);
  InboundRecord inbound;
  ASSERT_TRUE(decode_inbound(bytes_of(encode_inbound({"", "c"}, 5, true)), inbound, why));
  EXPECT_TRUE(inbound.awaiting_release);
  EXPECT_EQ(inbound.packet_id, 5);
  // What the broker never writes is refused: QoS 0, seq 0, packet id 0.
  DeliveryRecord qos0 = in;
  qos0.qos = 0;
  EXPECT_FALSE(decode_deliver(bytes_of(encode_deliver(qos0)), out, why));
  EXPECT_FALSE(decode_done(bytes_of(encode_done({"", "c"}, 0)), step, why));
  EXPECT_FALSE(decode_inbound(bytes_of(encode_inbound({"", "c"}, 0, true)), inbound, why));
  const std::string deliver = encode_deliver(in);
  for (size_t cut = 0; cut < deliver.size(); ++cut) {
    EXPECT_FALSE(decode_deliver(bytes_of(deliver).first(cut), out, why)) << cut;
  }
}

TEST(DeliveryRecords, AStoredMessageGoesToEveryShardItsDeliveriesToTheirHome) {
  Message* message = make("q/1", "x", 1);
  std::string why;
  const std::string stored = encode_message({1, 1}, *message, 1000, 0);
  EXPECT_EQ(record_owners(static_cast<uint8_t>(RecordType::kMessage), bytes_of(stored), 3, 0,
                          why),
            ~uint64_t{0});
  const std::string deliver = encode_deliver({{"", "device-7"}, 1, {1, 1}, 1, false, 0, {}});
  EXPECT_EQ(record_owners(static_cast<uint8_t>(RecordType::kDeliver), bytes_of(deliver), 3, 0,
                          why),
            uint64_t{1} << shard_for("device-7", 3));
  message->unref();
}

}  // namespace
}  // namespace peregrine::broker
