#include "src/broker/message.h"

#include <cstring>
#include <new>

#include "src/base/assert.h"
#include "src/io/recv_buffer_pool.h"
#include "src/mqtt/scope.h"

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

thread_local MessageReclaimer* t_reclaimer = nullptr;

size_t bytes_size(const mqtt::Publish& in, bool with_properties, bool payload_held) {
  size_t size = in.topic.size() + (payload_held ? 0 : in.payload.size());
  if (!with_properties) {
    return size;
  }
  const mqtt::Properties& p = in.properties;
  size += p.content_type ? p.content_type->size() : 0;
  size += p.response_topic ? p.response_topic->size() : 0;
  size += p.correlation_data ? p.correlation_data->size() : 0;
  for (const auto& up : p.user_properties) {
    size += up.key.size() + up.value.size();
  }
  return size;
}

}  // namespace

const mqtt::Properties Message::kNoProperties{};

bool Message::carries_properties(const mqtt::Properties& p) {
  return p.payload_format_indicator || p.message_expiry_interval || p.content_type ||
         p.response_topic || p.correlation_data || !p.user_properties.empty();
}

std::optional<uint32_t> Message::expiry_left(uint64_t now_ms) const {
  if (_properties == nullptr || !_properties->message_expiry_interval) {
    return std::nullopt;
  }
  const uint32_t interval = *_properties->message_expiry_interval;
  const uint64_t age_s = now_ms > _received_ms ? (now_ms - _received_ms) / 1000 : 0;
  return age_s >= interval ? 0 : static_cast<uint32_t>(interval - age_s);
}

Message* Message::create(const mqtt::Publish& in, uint64_t origin_connection,
                         uint64_t received_ms, io::RecvHold* payload_hold) {
  static_assert(sizeof(Message) % alignof(mqtt::Properties) == 0);
  const bool with_properties = carries_properties(in.properties);
  const size_t properties_size = with_properties ? sizeof(mqtt::Properties) : 0;
  void* memory =
      ::operator new(sizeof(Message) + properties_size +
                     bytes_size(in, with_properties, payload_hold != nullptr));
  auto* message = new (memory) Message();
  auto* block = reinterpret_cast<uint8_t*>(message) + sizeof(Message);
  message->_origin_connection = origin_connection;
  message->_received_ms = received_ms;
  message->_qos = in.qos;
  message->_retain = in.retain;
  message->_home = t_reclaimer != nullptr ? t_reclaimer->_shard : kNoHome;
  Copier copier(block + properties_size);
  const std::string_view routing = copier.copy(in.topic);
  const size_t scope = mqtt::scope_length(routing);
  PG_ASSERT(scope <= kMaxScopeBytes);
  message->_scope_size = static_cast<uint8_t>(scope);
  message->_topic = routing.substr(scope);
  if (payload_hold != nullptr) {
    message->_payload = in.payload;
    message->_payload_hold = payload_hold;
  } else {
    message->_payload = copier.copy(in.payload);
  }
  if (!with_properties) {
    return message;
  }
  const mqtt::Properties& from = in.properties;
  auto* to = new (block) mqtt::Properties();
  message->_properties = to;
  to->payload_format_indicator = from.payload_format_indicator;
  to->message_expiry_interval = from.message_expiry_interval;
  if (from.content_type) {
    to->content_type = copier.copy(*from.content_type);
  }
  if (from.response_topic) {
    to->response_topic = copier.copy(*from.response_topic);
  }
  if (from.correlation_data) {
    to->correlation_data = copier.copy(*from.correlation_data);
  }
  if (!from.user_properties.empty()) {
    to->user_properties.reserve(from.user_properties.size());
    for (const auto& up : from.user_properties) {
      to->user_properties.push_back({copier.copy(up.key), copier.copy(up.value)});
    }
  }
  return message;
}

mqtt::Publish Message::to_publish() const {
  mqtt::Publish out;
  out.qos = _qos;
  out.retain = _retain;
  out.topic = _topic;
  out.payload = _payload;
  if (_properties != nullptr) {
    out.properties = *_properties;
  }
  return out;
}

Message::~Message() {
  if (_properties != nullptr) {
    _properties->~Properties();
  }
}

void Message::destroy() {
  if (t_reclaimer != nullptr && _home != t_reclaimer->_shard && _home != kNoHome) {
    t_reclaimer->give_back(this);
    return;
  }
  free_now();
}

void Message::free_now() {
  if (_payload_hold != nullptr) {
    _payload_hold->release();  // on the home shard's thread (destroy), or after it ended
  }
  this->~Message();
  ::operator delete(static_cast<void*>(this));
}

MessageReclaimer::MessageReclaimer(uint16_t shard, uint16_t shards)
    : _shard(shard), _lists(shards, nullptr) {}

MessageReclaimer::~MessageReclaimer() {
  if (t_reclaimer == this) {
    uninstall();
  }
  for (Message* head : _lists) {
    free_list(head);
  }
}

void MessageReclaimer::install() { t_reclaimer = this; }

void MessageReclaimer::uninstall() { t_reclaimer = nullptr; }

Message* MessageReclaimer::take(uint16_t home) {
  Message* head = _lists[home];
  _lists[home] = nullptr;
  return head;
}

void MessageReclaimer::free_list(Message* head) {
  while (head != nullptr) {
    Message* next = head->_next_dead;
    if (next != nullptr) {
      // The list was linked on another core: start the next message's misses (its link,
      // and the allocator's chunk header just before it) before this one's free.
      __builtin_prefetch(&next->_next_dead);
      __builtin_prefetch(reinterpret_cast<const char*>(next) - 16);
    }
    head->free_now();
    head = next;
  }
}

void MessageReclaimer::give_back(Message* message) {
  PG_DASSERT(message->_home < _lists.size());
  message->_next_dead = _lists[message->_home];
  _lists[message->_home] = message;
}

}  // namespace peregrine::broker
