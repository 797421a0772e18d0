// Peregrine's run-time options: what the command line and the TOML config file set.
// Plain values, filled once at startup on the main thread and read-only afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace peregrine {

struct Limits {
  // Largest packet accepted, fixed header included; larger ones are refused from the
  // fixed header alone (v5: 0x95) before any byte of the body is buffered.
  uint32_t max_packet_size = 1 << 20;
  // A socket that has not completed CONNECT by then is closed.
  uint32_t connect_timeout_ms = 10'000;
  // Bytes queued for one slow reader; QoS 0 messages beyond it are dropped and counted.
  uint64_t outbound_buffer_bytes = 4 << 20;
};

struct Options {
  std::vector<std::string> listen;  // listener URLs; empty → mqtt://127.0.0.1:1883
  uint16_t shards = 0;              // 0 → one per CPU available to the process
  std::string io = "auto";          // auto | uring | epoll
  std::string log_level = "info";   // trace | debug | info | warn | error | off
  Limits limits;
};

}  // namespace peregrine
