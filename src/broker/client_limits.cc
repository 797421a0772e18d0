#include "src/broker/client_limits.h"

#include "src/mqtt/codec.h"

namespace peregrine::broker {

TopicFit fit_filter(std::string_view filter, const Limits& limits) {
  if (filter.size() > limits.max_topic_length) {
    return TopicFit::kTooLong;
  }
  std::string_view group;
  std::string_view inner;
  if (!mqtt::parse_shared_filter(filter, group, inner)) {
    inner = filter;
  }
  return fit_topic(inner, limits);  // no longer than the whole: only its depth can fail
}

}  // namespace peregrine::broker
