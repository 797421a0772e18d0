#include "src/broker/shard_mail.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/mqtt/packets.h"

namespace peregrine::broker {
namespace {

// Records which overload open() called, with what.
struct Recorder {
  std::vector<std::string> calls;
  uint16_t from = 0;
  void operator()(const mail::Publish& m, uint16_t f) { note("publish", m.message, f); }
  uint32_t operator()(const mail::PublishBatchMail& m, uint16_t f) {
    note("batch", m.batch, f);
    return m.batch->count();
  }
  void operator()(const mail::RouteChangeMail& m, uint16_t f) {
    note("route", m.change, f);
  }
  void operator()(const mail::RouteAck& m, uint16_t f) {
    note("ack " + std::to_string(m.routed), m.change, f);
  }
  void operator()(const mail::SessionGone& m, uint16_t f) {
    note("gone " + std::to_string(m.ticket), nullptr, f);
  }
  void operator()(const mail::Load& m, uint16_t f) {
    note("load " + std::to_string(m.permille), nullptr, f);
  }
  void operator()(const mail::SharedPublish& m, uint16_t f) {
    note("shared " + std::to_string(m.group_key), m.message, f);
  }
  template <typename Other>
  void operator()(const Other&, uint16_t f) {
    note("other " + std::to_string(mail::wire(Other::kKind)), nullptr, f);
  }
  void note(std::string what, const void* ptr, uint16_t f) {
    calls.push_back(what + (ptr != nullptr ? " ptr" : ""));
    from = f;
  }
};

shard::Envelope arrived(shard::Envelope envelope, uint16_t from) {
  envelope.from = from;  // as Shard::post() fills it in
  return envelope;
}

Message* make_message(uint8_t qos) {
  mqtt::Publish publish;
  publish.topic = "a/b";
  publish.qos = qos;
  publish.packet_id = qos == 0 ? 0 : 1;
  return Message::create(publish, 1, 0);
}

TEST(ShardMail, EachKindOpensAsItselfWithWhatItCarriesAndItsSender) {
  Recorder recorder;
  Message* message = make_message(1);
  mail::open(arrived(mail::Publish{message}.envelope(), 3), recorder);
  mail::open(arrived(mail::SharedPublish{message, 42}.envelope(), 2), recorder);
  auto* change = reinterpret_cast<RouteChange*>(uintptr_t{0x1000});  // never touched
  mail::open(arrived(mail::RouteChangeMail{change}.envelope(), 1), recorder);
  mail::open(arrived(mail::RouteAck{change, 9}.envelope(), 1), recorder);
  mail::open(arrived(mail::SessionGone{5}.envelope(), 0), recorder);
  mail::open(arrived(mail::Load{640}.envelope(), 4), recorder);
  mail::open(arrived(mail::Reclaim{nullptr}.envelope(), 4), recorder);
  EXPECT_EQ(recorder.calls,
            (std::vector<std::string>{"publish ptr", "shared 42 ptr", "route ptr", "ack 9 ptr",
                                      "gone 5", "load 640",
                                      "other " + std::to_string(mail::wire(mail::Kind::kReclaim))}));
  EXPECT_EQ(recorder.from, 4);
  message->unref();
}

TEST(ShardMail, ABatchCountsAsItsRecords) {
  PublishBatch* batch = PublishBatch::create();
  const uint8_t payload[3] = {1, 2, 3};
  for (int i = 0; i < 5; ++i) {
    batch->append(1, "t", payload);
  }
  Recorder recorder;
  EXPECT_EQ(mail::open(arrived(mail::PublishBatchMail{batch}.envelope(), 1), recorder), 5u);
  EXPECT_EQ(mail::open(arrived(mail::Load{1}.envelope(), 1), recorder), 1u);
  mail::discard(mail::PublishBatchMail{batch}.envelope());  // LeakSanitizer sees it freed
}

TEST(ShardMail, AFullMailboxDropsOnlyWhatMayBeDropped) {
  Message* qos0 = make_message(0);
  Message* qos1 = make_message(1);
  EXPECT_EQ(mail::Publish{qos0}.delivery(), shard::Delivery::kDroppable);
  EXPECT_EQ(mail::Publish{qos1}.delivery(), shard::Delivery::kRequired);
  EXPECT_EQ((mail::SharedPublish{qos1, 1}.delivery()), shard::Delivery::kRequired);
  EXPECT_EQ((mail::RouteAck{nullptr, 1}.delivery()), shard::Delivery::kRequired);
  EXPECT_EQ(mail::Reclaim{nullptr}.delivery(), shard::Delivery::kLazy);
  EXPECT_EQ(mail::Load{1}.delivery(), shard::Delivery::kDroppable);
  // Discarding a mail releases the reference it carries.
  qos1->ref();
  mail::discard(mail::Publish{qos1}.envelope());
  qos1->unref();
  qos0->unref();
}

TEST(ShardMailDeathTest, AnUnknownKindStops) {
  Recorder recorder;
  shard::Envelope bogus{999, 0, 0, 0, nullptr};
  EXPECT_DEATH(mail::open(bogus, recorder), "unknown mail kind");
}

}  // namespace
}  // namespace peregrine::broker
