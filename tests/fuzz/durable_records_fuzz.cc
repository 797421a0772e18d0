// libFuzzer target for what the broker reads back from its log at start
// (src/broker/durable_records.h, src/broker/session_images.h): a record body that passed
// its checksum but is not what this broker wrote (a bug, another version). The first
// byte picks the record type, the rest is its body. Checks: no crash or leak (ASan); a
// body that decodes re-encodes to one that decodes to the same thing; replaying it into
// session images never fails where the decoder succeeded.
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/base/assert.h"
#include "src/broker/durable_records.h"
#include "src/broker/session_images.h"

using namespace peregrine::broker;

namespace {

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void retained(std::span<const uint8_t> body) {
  DecodedRetained first = decode_retained(body, 1'700'000'000'000, 5);
  if (first.outcome != DecodedRetained::Outcome::kMessage) {
    PG_ASSERT(first.message == nullptr);
    return;
  }
  const std::string again = encode_retained(*first.message, 1'700'000'000'000);
  DecodedRetained second = decode_retained(bytes_of(again), 1'700'000'000'000, 5);
  PG_ASSERT(second.outcome == DecodedRetained::Outcome::kMessage);
  PG_ASSERT(second.message->routing_topic() == first.message->routing_topic());
  PG_ASSERT(second.tenant == first.tenant);
  PG_ASSERT(std::equal(second.message->payload().begin(), second.message->payload().end(),
                       first.message->payload().begin(), first.message->payload().end()));
  PG_ASSERT(second.message->qos() == first.message->qos());
  first.message->unref();
  second.message->unref();
}

void session_record(RecordType type, std::span<const uint8_t> body) {
  std::string why;
  bool read = false;
  switch (type) {
    case RecordType::kSession: {
      SessionRecord first;
      read = decode_session(body, first, why);
      if (read) {
        SessionRecord second;
        PG_ASSERT(decode_session(bytes_of(encode_session(first)), second, why));
        PG_ASSERT(second.key.client_id == first.key.client_id);
        PG_ASSERT(second.expiry_interval == first.expiry_interval);
        PG_ASSERT(second.identity.username == first.identity.username);
        PG_ASSERT(second.identity.grant.has_value() == first.identity.grant.has_value());
      }
      break;
    }
    case RecordType::kSessionEnd: {
      SessionKey key;
      read = decode_session_end(body, key, why);
      break;
    }
    case RecordType::kSubscribe: {
      SubscriptionRecord first;
      read = decode_subscribe(body, first, why);
      if (read) {
        SubscriptionRecord second;
        PG_ASSERT(decode_subscribe(bytes_of(encode_subscribe(first.key, first.filter,
                                                             first.options)),
                                   second, why));
        PG_ASSERT(second.filter == first.filter);
        PG_ASSERT(second.options.subscription_id == first.options.subscription_id);
      }
      break;
    }
    case RecordType::kUnsubscribe: {
      SubscriptionRecord first;
      read = decode_unsubscribe(body, first, why);
      break;
    }
    case RecordType::kMessage: {
      DecodedMessage first = decode_message(body, 1'700'000'000'000, 5);
      read = first.outcome != DecodedMessage::Outcome::kMalformed;
      if (first.outcome == DecodedMessage::Outcome::kMessage) {
        DecodedMessage second =
            decode_message(bytes_of(encode_message(first.key, *first.message, 5,
                                                   1'700'000'000'000)),
                           1'700'000'000'000, 5);
        PG_ASSERT(second.outcome == DecodedMessage::Outcome::kMessage);
        PG_ASSERT(second.key == first.key);
        PG_ASSERT(second.message->routing_topic() == first.message->routing_topic());
        second.message->unref();
        first.message->unref();
      }
      break;
    }
    case RecordType::kDeliver: {
      DeliveryRecord first;
      read = decode_deliver(body, first, why);
      if (read) {
        DeliveryRecord second;
        PG_ASSERT(decode_deliver(bytes_of(encode_deliver(first)), second, why));
        PG_ASSERT(second.seq == first.seq && second.message == first.message);
        PG_ASSERT(second.subscription_ids == first.subscription_ids);
      }
      break;
    }
    case RecordType::kReleased: {
      DeliveryStep step;
      read = decode_released(body, step, why);
      break;
    }
    case RecordType::kDone: {
      DeliveryStep step;
      read = decode_done(body, step, why);
      break;
    }
    case RecordType::kInbound: {
      InboundRecord record;
      read = decode_inbound(body, record, why);
      break;
    }
    case RecordType::kWill: {
      WillRecord record;
      read = decode_will(body, record, why);
      if (read && record.set) {
        // Its message is read by SessionImages below; whether it reads decides that.
        DecodedMessage message = decode_message(record.message, 1'700'000'000'000, 5);
        read = message.outcome != DecodedMessage::Outcome::kMalformed;
        if (message.message != nullptr) {
          message.message->unref();
        }
      }
      break;
    }
    case RecordType::kRetained:
      return;
  }
  if (type == RecordType::kMessage) {
    return;  // an expired one reads and is not stored: the checks below do not hold
  }
  SessionImages images;
  PG_ASSERT(images.apply(type, body, why) == read);
  uint16_t shards = 3;
  // A record that reads has an owner (one that does not may still: only its key is read).
  PG_ASSERT(!read || record_owners(static_cast<uint8_t>(type), body, shards, 0, why).has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::span<const uint8_t> body(data + 1, size - 1);
  const uint8_t type = data[0];
  if (type >= static_cast<uint8_t>(RecordType::kSession) &&
      type <= static_cast<uint8_t>(RecordType::kWill)) {
    session_record(static_cast<RecordType>(type), body);
  } else {
    retained(body);
  }
  return 0;
}
