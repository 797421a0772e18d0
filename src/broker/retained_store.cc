#include "src/broker/retained_store.h"

#include "src/mqtt/codec.h"
#include "src/mqtt/scope.h"

namespace peregrine::broker {

namespace {
// After every scoped topic: scope names are printable ASCII, below 0xFF.
constexpr std::string_view kPastScopes = "$\xFF\xFF";
}  // namespace

RetainedStore::~RetainedStore() {
  for (auto& [topic, message] : _messages) {
    message->unref();
  }
}

uint64_t RetainedStore::cost(const Message* message) {
  return message->routing_topic().size() + message->payload().size();
}

void RetainedStore::erase(std::map<std::string, Message*, std::less<>>::iterator it) {
  _bytes -= cost(it->second);
  it->second->unref();
  _messages.erase(it);
}

RetainedStore::StoreResult RetainedStore::store(Message* message, Message** replaced) {
  const std::string_view topic = message->routing_topic();
  auto it = _messages.find(topic);
  if (replaced != nullptr) {
    *replaced = nullptr;
  }
  if (message->payload().empty()) {
    if (it != _messages.end()) {
      if (replaced != nullptr) {
        *replaced = it->second;
        _bytes -= cost(it->second);
        _messages.erase(it);
      } else {
        erase(it);
      }
    }
    message->unref();
    return StoreResult::kDeleted;
  }
  const uint64_t old_cost = it == _messages.end() ? 0 : cost(it->second);
  const bool new_topic = it == _messages.end();
  if ((new_topic && _messages.size() >= _max_count) ||
      _bytes - old_cost + cost(message) > _max_bytes) {
    message->unref();
    return StoreResult::kRefused;
  }
  _bytes = _bytes - old_cost + cost(message);
  if (new_topic) {
    _messages.emplace(std::string(topic), message);
  } else {
    if (replaced != nullptr) {
      *replaced = it->second;
    } else {
      it->second->unref();
    }
    it->second = message;
  }
  return StoreResult::kStored;
}

void RetainedStore::undo(std::string_view topic, const Message* applied, Message* previous) {
  auto it = _messages.find(topic);
  const Message* now = it == _messages.end() ? nullptr : it->second;
  if (now != applied) {
    if (previous != nullptr) {
      previous->unref();  // a later store() replaced it: that one stands
    }
    return;
  }
  if (it != _messages.end()) {
    erase(it);
  }
  if (previous != nullptr) {
    _bytes += cost(previous);
    _messages.emplace(std::string(topic), previous);
  }
}

bool RetainedStore::scan(std::string_view filter, std::string& cursor, size_t max_examined,
                         size_t max_results, uint64_t now_ms, std::vector<Message*>& out) {
  // A virtual broker's topics lie together, behind its scope (src/mqtt/scope.h): its
  // scans read only them, and the default broker's skip every scoped one.
  const std::string_view scope = mqtt::scope_of(filter);
  auto it = cursor.empty() ? _messages.lower_bound(scope) : _messages.upper_bound(cursor);
  size_t examined = 0;
  size_t found = 0;
  while (it != _messages.end() && examined < max_examined && found < max_results) {
    if (!scope.empty() && !it->first.starts_with(scope)) {
      it = _messages.end();  // past its broker's topics
      break;
    }
    if (scope.empty() && it->first.starts_with(mqtt::kScopeMark)) {
      it = _messages.lower_bound(kPastScopes);
      continue;
    }
    ++examined;
    Message* message = it->second;
    cursor = it->first;
    if (message->expiry_left(now_ms) == 0u) {
      erase(it++);  // [MQTT-3.3.2-5]: an expired retained message is not delivered
      continue;
    }
    if (mqtt::topic_matches(filter, it->first)) {
      message->ref();
      out.push_back(message);
      ++found;
    }
    ++it;
  }
  return it == _messages.end();
}

std::vector<std::string> RetainedStore::topics_in_scope(std::string_view scope, size_t max) const {
  std::vector<std::string> out;
  for (auto it = _messages.lower_bound(scope);
       it != _messages.end() && out.size() < max && it->first.starts_with(scope); ++it) {
    out.push_back(it->first);
  }
  return out;
}

Message* RetainedStore::lookup(std::string_view topic, uint64_t now_ms) {
  auto it = _messages.find(topic);
  if (it == _messages.end()) {
    return nullptr;
  }
  if (it->second->expiry_left(now_ms) == 0u) {
    erase(it);
    return nullptr;
  }
  it->second->ref();
  return it->second;
}

}  // namespace peregrine::broker
