#include "src/broker/broker_stats.h"

namespace peregrine::broker {

void BrokerStats::add(const BrokerStats& o) {
#define PEREGRINE_COUNTER_ADD(name, meaning) name += o.name;
  PEREGRINE_BROKER_COUNTERS(PEREGRINE_COUNTER_ADD)
#undef PEREGRINE_COUNTER_ADD
  for (size_t i = 0; i < rejected.size(); ++i) {
    rejected[i] += o.rejected[i];
  }
}

std::string BrokerStats::format() const {
  std::string out;
  auto put = [&](const std::string& name, uint64_t value) {
    if (!out.empty()) {
      out += ' ';
    }
    out += name + '=' + std::to_string(value);
  };
#define PEREGRINE_COUNTER_PUT(name, meaning) put(#name, name);
  PEREGRINE_BROKER_COUNTERS(PEREGRINE_COUNTER_PUT)
#undef PEREGRINE_COUNTER_PUT
  for (size_t i = 0; i < rejected.size(); ++i) {
    if (rejected[i] != 0) {
      put(std::string("rejected_") + mqtt::reason_name(static_cast<mqtt::ReasonCode>(i)),
          rejected[i]);
    }
  }
  return out;
}

}  // namespace peregrine::broker
