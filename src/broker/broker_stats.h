// Counters of one shard's broker, written by that shard only and summed by the main
// thread after the shards have stopped (and later by $SYS / metrics through mailboxes).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "src/mqtt/reason_code.h"

namespace peregrine::broker {

struct BrokerStats {
  uint64_t connections_accepted = 0;
  uint64_t accept_paused = 0;      // out of descriptors: accepting paused briefly
  uint64_t clients_connected = 0;  // CONNACK 0 sent
  uint64_t migrations = 0;         // connections moved to their session's home shard
  uint64_t takeovers = 0;
  uint64_t connect_timeout = 0;
  uint64_t keepalive_timeout = 0;
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  uint64_t bytes_in = 0;
  uint64_t qos0_dropped = 0;          // slow reader over its outbound limit
  uint64_t mailbox_dropped = 0;       // QoS 0 not posted: mailbox to a shard full
  uint64_t oversize_dropped = 0;      // bigger than the subscriber's Maximum Packet Size
  uint64_t sys_publish_denied = 0;    // client PUBLISH to $SYS/...
  uint64_t wills_published = 0;
  // Bad input, by the reason code it was answered with.
  std::array<uint64_t, 256> rejected{};

  void add(const BrokerStats& other);
  // "name=value ..." for the shutdown log line.
  std::string format() const;
};

}  // namespace peregrine::broker
