#include "src/broker/publish_batch.h"

#include <cstring>

#include "src/base/assert.h"

namespace peregrine::broker {

PublishBatch* PublishBatch::create() { return new PublishBatch(); }

void PublishBatch::destroy(PublishBatch* batch) { delete batch; }

void PublishBatch::append(uint64_t origin_connection, std::string_view topic,
                          std::span<const uint8_t> payload) {
  PG_DASSERT(fits(topic.size(), payload.size()));
  PG_DASSERT(topic.size() + payload.size() <= kMaxRecordBody);
  const Header header{origin_connection, static_cast<uint32_t>(payload.size()),
                      static_cast<uint16_t>(topic.size())};
  uint8_t* at = _bytes + _used;
  std::memcpy(at, &header, sizeof header);
  std::memcpy(at + sizeof header, topic.data(), topic.size());
  if (!payload.empty()) {
    std::memcpy(at + sizeof header + topic.size(), payload.data(), payload.size());
  }
  _used += record_size(topic.size(), payload.size());
  _count++;
}

size_t PublishBatch::decode(size_t at, Record& out) const {
  Header header;
  std::memcpy(&header, _bytes + at, sizeof header);
  const auto* topic = reinterpret_cast<const char*>(_bytes + at + sizeof header);
  out.origin_connection = header.origin_connection;
  out.topic = std::string_view(topic, header.topic_size);
  out.payload = std::span<const uint8_t>(
      _bytes + at + sizeof header + header.topic_size, header.payload_size);
  return at + record_size(header.topic_size, header.payload_size);
}

}  // namespace peregrine::broker
