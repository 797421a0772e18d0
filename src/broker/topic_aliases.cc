#include "src/broker/topic_aliases.h"

namespace peregrine::broker {

OutboundAliases::Use OutboundAliases::use(std::string_view topic) {
  if (_maximum == 0) {
    return {0, true};
  }
  ++_clock;
  auto it = _alias_of.find(std::string(topic));
  if (it != _alias_of.end()) {
    _slots[it->second - 1].last_used = _clock;
    return {it->second, false};
  }
  uint16_t alias = 0;
  if (_slots.size() < _maximum) {
    _slots.push_back({std::string(topic), _clock});
    alias = static_cast<uint16_t>(_slots.size());
  } else {
    size_t oldest = 0;
    for (size_t i = 1; i < _slots.size(); ++i) {
      if (_slots[i].last_used < _slots[oldest].last_used) {
        oldest = i;
      }
    }
    _alias_of.erase(_slots[oldest].topic);
    _slots[oldest] = {std::string(topic), _clock};
    alias = static_cast<uint16_t>(oldest + 1);
  }
  _alias_of.emplace(std::string(topic), alias);
  return {alias, true};
}

}  // namespace peregrine::broker
