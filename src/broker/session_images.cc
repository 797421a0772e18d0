#include "src/broker/session_images.h"

namespace peregrine::broker {

namespace {

void drop_will(SessionImage& image) {
  if (image.will != nullptr) {
    image.will->unref();
    image.will = nullptr;
  }
}

}  // namespace

SessionImages::~SessionImages() {
  for (auto& [key, message] : _messages) {
    message->unref();
  }
  for (auto& [key, image] : _images) {
    drop_will(image);
  }
}

SessionImage* SessionImages::find(const SessionKey& key) {
  auto it = _images.find({key.tenant, key.client_id});
  if (it == _images.end()) {
    _orphans++;  // its session's records were lost with a damaged segment
    return nullptr;
  }
  return &it->second;
}

bool SessionImages::apply(RecordType type, std::span<const uint8_t> body, std::string& why) {
  switch (type) {
    case RecordType::kSession: {
      SessionRecord record;
      if (!decode_session(body, record, why)) {
        return false;
      }
      SessionImage& image = _images[{record.key.tenant, record.key.client_id}];
      if (record.full_image) {
        image.subscriptions.clear();
        image.deliveries.clear();
        image.inbound.clear();
        drop_will(image);
      }
      image.session = std::move(record);
      return true;
    }
    case RecordType::kSessionEnd: {
      SessionKey key;
      if (!decode_session_end(body, key, why)) {
        return false;
      }
      auto it = _images.find({key.tenant, key.client_id});
      if (it != _images.end()) {
        drop_will(it->second);
        _images.erase(it);
      }
      return true;
    }
    case RecordType::kSubscribe:
    case RecordType::kUnsubscribe: {
      SubscriptionRecord record;
      const bool read = type == RecordType::kSubscribe ? decode_subscribe(body, record, why)
                                                       : decode_unsubscribe(body, record, why);
      if (!read) {
        return false;
      }
      if (SessionImage* image = find(record.key)) {
        if (type == RecordType::kUnsubscribe) {
          image->subscriptions.erase(record.filter);
        } else {
          image->subscriptions[std::move(record.filter)] = record.options;
        }
      }
      return true;
    }
    case RecordType::kMessage: {
      DecodedMessage decoded = decode_message(body, _now_wall_ms, _now_ms);
      switch (decoded.outcome) {
        case DecodedMessage::Outcome::kMalformed:
          why = decoded.why;
          return false;
        case DecodedMessage::Outcome::kExpired:
          _expired++;
          return true;
        case DecodedMessage::Outcome::kMessage:
          break;
      }
      Message*& slot = _messages[decoded.key];
      if (slot != nullptr) {
        slot->unref();  // written again after a failed write: the same message
      }
      slot = decoded.message;
      return true;
    }
    case RecordType::kDeliver: {
      DeliveryRecord record;
      if (!decode_deliver(body, record, why)) {
        return false;
      }
      if (SessionImage* image = find(record.key)) {
        DeliveryImage& d = image->deliveries[record.seq];
        d = {record.message, record.qos, record.retain, false, record.packet_id,
             std::move(record.subscription_ids)};
      }
      return true;
    }
    case RecordType::kReleased:
    case RecordType::kDone: {
      DeliveryStep step;
      const bool read = type == RecordType::kReleased ? decode_released(body, step, why)
                                                      : decode_done(body, step, why);
      if (!read) {
        return false;
      }
      if (SessionImage* image = find(step.key)) {
        if (type == RecordType::kDone) {
          image->deliveries.erase(step.seq);
        } else {
          DeliveryImage& d = image->deliveries[step.seq];
          d.qos = 2;
          d.released = true;
          d.packet_id = step.packet_id;
        }
      }
      return true;
    }
    case RecordType::kInbound: {
      InboundRecord record;
      if (!decode_inbound(body, record, why)) {
        return false;
      }
      if (SessionImage* image = find(record.key)) {
        if (record.awaiting_release) {
          image->inbound.insert(record.packet_id);
        } else {
          image->inbound.erase(record.packet_id);
        }
      }
      return true;
    }
    case RecordType::kWill: {
      WillRecord record;
      if (!decode_will(body, record, why)) {
        return false;
      }
      Message* will = nullptr;
      if (record.set) {
        DecodedMessage decoded = decode_message(record.message, _now_wall_ms, _now_ms);
        if (decoded.outcome == DecodedMessage::Outcome::kMalformed) {
          why = "a will record whose message does not read: " + decoded.why;
          return false;
        }
        will = decoded.message;  // nullptr when expired: no will to send
      }
      if (SessionImage* image = find(record.key)) {
        drop_will(*image);
        image->will = will;
        image->will_due_wall_ms = record.due_wall_ms;
      } else if (will != nullptr) {
        will->unref();
      }
      return true;
    }
    case RecordType::kRetained:
      break;
  }
  why = "not a session record";
  return false;
}

}  // namespace peregrine::broker
