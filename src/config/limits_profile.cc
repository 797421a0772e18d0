#include "src/config/limits_profile.h"

namespace peregrine::config {

bool apply_limits_profile(std::string_view name, Options& options) {
  if (name == "default") {
    return true;
  }
  if (name != "cloudflare") {
    return false;
  }
  Limits& l = options.limits;
  l.max_packet_size = 64 * 1024;
  l.max_client_id_length = 23;
  l.max_username_length = 32;
  l.max_password_length = 4096;
  l.max_topic_length = 65535;
  l.max_topic_depth = 8;
  l.max_packets_per_second = 10;
  l.packet_burst = 0;  // one second's worth
  l.connect_timeout_ms = 10'000;
  l.min_keep_alive = 10;
  l.max_session_expiry = 7 * 24 * 3600;
  l.max_subscribers_per_filter = 1000;
  l.max_namespaces = 3;
  l.max_brokers_per_namespace = 3;
  options.auth.max_revocations = 10'000;
  return true;
}

}  // namespace peregrine::config
