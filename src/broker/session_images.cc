#include "src/broker/session_images.h"

namespace peregrine::broker {

SessionImage* SessionImages::find(const SessionKey& key) {
  auto it = _images.find({key.tenant, key.client_id});
  return it == _images.end() ? nullptr : &it->second;
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
      }
      image.session = std::move(record);
      return true;
    }
    case RecordType::kSessionEnd: {
      SessionKey key;
      if (!decode_session_end(body, key, why)) {
        return false;
      }
      _images.erase({key.tenant, key.client_id});
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
      SessionImage* image = find(record.key);
      if (image == nullptr) {
        _orphans++;  // its session's records were lost with a damaged segment
        return true;
      }
      if (type == RecordType::kUnsubscribe) {
        image->subscriptions.erase(record.filter);
      } else {
        image->subscriptions[std::move(record.filter)] = record.options;
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
