#include "src/broker/message.h"

#include <atomic>
#include <cstring>
#include <new>

namespace peregrine::broker {

namespace {

// Copies views into a storage block and re-points them at the copies.
class Copier {
 public:
  explicit Copier(uint8_t* cursor) : _cursor(cursor) {}
  std::string_view copy(std::string_view s) {
    if (s.empty()) {
      return {};
    }
    std::memcpy(_cursor, s.data(), s.size());
    std::string_view out(reinterpret_cast<const char*>(_cursor), s.size());
    _cursor += s.size();
    return out;
  }
  mqtt::Bytes copy(mqtt::Bytes b) {
    return mqtt::as_bytes(copy(mqtt::as_string_view(b)));
  }

 private:
  uint8_t* _cursor;
};

// Per thread: a prefix drawn once from a process-wide counter, then a local count. No
// shared write per message.
std::atomic<uint64_t> g_next_prefix{1};
thread_local uint64_t t_prefix = 0;
thread_local uint64_t t_count = 0;

uint64_t next_message_id() {
  if (t_prefix == 0) {
    t_prefix = g_next_prefix.fetch_add(1, std::memory_order_relaxed) << 40;
  }
  return t_prefix | ++t_count;
}

size_t storage_size(const mqtt::Publish& in) {
  const mqtt::Properties& p = in.properties;
  size_t size = in.topic.size() + in.payload.size();
  size += p.content_type ? p.content_type->size() : 0;
  size += p.response_topic ? p.response_topic->size() : 0;
  size += p.correlation_data ? p.correlation_data->size() : 0;
  for (const auto& up : p.user_properties) {
    size += up.key.size() + up.value.size();
  }
  return size;
}

}  // namespace

std::optional<uint32_t> Message::expiry_left(uint64_t now_ms) const {
  const auto& interval = _publish.properties.message_expiry_interval;
  if (!interval) {
    return std::nullopt;
  }
  const uint64_t age_s = now_ms > _received_ms ? (now_ms - _received_ms) / 1000 : 0;
  return age_s >= *interval ? 0 : static_cast<uint32_t>(*interval - age_s);
}

Message* Message::create(const mqtt::Publish& in, uint64_t origin_connection,
                         uint64_t received_ms) {
  const size_t storage = storage_size(in);
  void* memory = ::operator new(sizeof(Message) + storage);
  auto* message = new (memory) Message();
  message->_origin_connection = origin_connection;
  message->_received_ms = received_ms;
  message->_id = next_message_id();
  Copier copier(reinterpret_cast<uint8_t*>(message) + sizeof(Message));
  mqtt::Publish& out = message->_publish;
  out.qos = in.qos;
  out.retain = in.retain;
  out.topic = copier.copy(in.topic);
  out.payload = copier.copy(in.payload);
  const mqtt::Properties& from = in.properties;
  mqtt::Properties& to = out.properties;
  to.payload_format_indicator = from.payload_format_indicator;
  to.message_expiry_interval = from.message_expiry_interval;
  if (from.content_type) {
    to.content_type = copier.copy(*from.content_type);
  }
  if (from.response_topic) {
    to.response_topic = copier.copy(*from.response_topic);
  }
  if (from.correlation_data) {
    to.correlation_data = copier.copy(*from.correlation_data);
  }
  if (!from.user_properties.empty()) {
    to.user_properties.reserve(from.user_properties.size());
    for (const auto& up : from.user_properties) {
      to.user_properties.push_back({copier.copy(up.key), copier.copy(up.value)});
    }
  }
  return message;
}

void Message::destroy() {
  this->~Message();
  ::operator delete(static_cast<void*>(this));
}

}  // namespace peregrine::broker
