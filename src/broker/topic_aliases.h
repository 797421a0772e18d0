// Topic aliases of one v5 connection (MQTT §3.3.2.3.4), both directions. Inbound: the
// client's alias → topic map, up to the Topic Alias Maximum we announced. Outbound: the
// aliases this broker assigned, up to the lesser of the client's Topic Alias Maximum and
// our cap, reused least-recently-used. Owned by the connection's Client; cleared with it
// (aliases never outlive a network connection [MQTT-3.3.2-7]).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace peregrine::broker {

class InboundAliases {
 public:
  explicit InboundAliases(uint16_t maximum) : _topics(maximum) {}
  uint16_t maximum() const { return static_cast<uint16_t>(_topics.size()); }
  bool valid(uint16_t alias) const { return alias >= 1 && alias <= _topics.size(); }
  // Records `topic` for `alias` (valid() must hold).
  void set(uint16_t alias, std::string_view topic) { _topics[alias - 1].assign(topic); }
  // The topic of `alias`, or nullptr if the client never set it.
  const std::string* get(uint16_t alias) const {
    const std::string& topic = _topics[alias - 1];
    return topic.empty() ? nullptr : &topic;
  }

 private:
  std::vector<std::string> _topics;  // index alias - 1; empty: unset
};

class OutboundAliases {
 public:
  explicit OutboundAliases(uint16_t maximum) : _maximum(maximum) {}
  bool enabled() const { return _maximum > 0; }

  struct Use {
    uint16_t alias;  // 0: send without an alias
    bool send_topic;  // true: the topic travels too (a new or reassigned alias)
  };
  // The alias to send `topic` with; assigns or reassigns (LRU) as needed.
  Use use(std::string_view topic);

 private:
  struct Slot {
    std::string topic;
    uint64_t last_used = 0;
  };
  uint16_t _maximum;
  uint64_t _clock = 0;
  std::vector<Slot> _slots;  // index alias - 1
  std::unordered_map<std::string, uint16_t> _alias_of;
};

}  // namespace peregrine::broker
