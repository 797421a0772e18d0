#include "src/broker/broker_stats.h"

namespace peregrine::broker {

void BrokerStats::add(const BrokerStats& o) {
  connections_accepted += o.connections_accepted;
  accept_paused += o.accept_paused;
  clients_connected += o.clients_connected;
  migrations += o.migrations;
  takeovers += o.takeovers;
  connect_timeout += o.connect_timeout;
  keepalive_timeout += o.keepalive_timeout;
  messages_in += o.messages_in;
  messages_out += o.messages_out;
  bytes_in += o.bytes_in;
  qos0_dropped += o.qos0_dropped;
  mailbox_dropped += o.mailbox_dropped;
  oversize_dropped += o.oversize_dropped;
  sys_publish_denied += o.sys_publish_denied;
  wills_published += o.wills_published;
  for (size_t i = 0; i < rejected.size(); ++i) {
    rejected[i] += o.rejected[i];
  }
}

std::string BrokerStats::format() const {
  std::string out;
  auto put = [&](const char* name, uint64_t value) {
    if (!out.empty()) {
      out += ' ';
    }
    out += name;
    out += '=';
    out += std::to_string(value);
  };
  put("connections_accepted", connections_accepted);
  put("accept_paused", accept_paused);
  put("clients_connected", clients_connected);
  put("migrations", migrations);
  put("takeovers", takeovers);
  put("connect_timeout", connect_timeout);
  put("keepalive_timeout", keepalive_timeout);
  put("messages_in", messages_in);
  put("messages_out", messages_out);
  put("bytes_in", bytes_in);
  put("qos0_dropped", qos0_dropped);
  put("mailbox_dropped", mailbox_dropped);
  put("oversize_dropped", oversize_dropped);
  put("sys_publish_denied", sys_publish_denied);
  put("wills_published", wills_published);
  for (size_t i = 0; i < rejected.size(); ++i) {
    if (rejected[i] != 0) {
      const std::string name =
          std::string("rejected_") + mqtt::reason_name(static_cast<mqtt::ReasonCode>(i));
      put(name.c_str(), rejected[i]);
    }
  }
  return out;
}

}  // namespace peregrine::broker
