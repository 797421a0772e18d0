// $SYS topics of one shard. Events (Aedes' $SYS/<id>/new/clients, disconnect/clients,
// new/subscribes, new/unsubscribes) are published on the shard where they happen. For the
// Mosquitto-style $SYS/broker/... statistics every shard sends a snapshot of its counters
// to shard 0 each interval; shard 0 publishes the sums of the latest snapshots (retained)
// and the heartbeat. Owned by its ShardBroker, on that shard's thread. A shard's snapshot
// is one object of its own, lent to shard 0 and sent back (at most one out at a time: an
// interval whose snapshot is still out is skipped).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "include/peregrine/options.h"
#include "src/broker/broker_stats.h"
#include "src/io/timer_wheel.h"

namespace peregrine::broker {

struct SysSnapshot {
  BrokerStats stats;
  uint64_t clients_now = 0;
  uint64_t subscriptions_now = 0;
  uint64_t retained_now = 0;
  uint64_t held_bytes_now = 0;  // QoS 1/2 bytes sessions hold (held_budget.h)
  // The rest is for the operator's pages (/metrics, /status), not published in $SYS.
  uint64_t connections_now = 0;    // sockets open on the shard, MQTT or not yet
  uint64_t sessions_now = 0;       // in its session table, connected or not
  uint64_t retained_bytes_now = 0;
  uint64_t held_messages_now = 0;  // QoS 1/2 messages queued or in flight to clients
  uint64_t queued_messages_now = 0;  // of those, queued (not sent yet)
  uint64_t queued_bytes_now = 0;     // of held_bytes_now, theirs
  uint64_t mailbox_depth_now = 0;  // mail from other shards not taken yet (shard.h)
  uint64_t overflow_now = 0;       // mail held back at full mailboxes (shard.h)
  uint32_t busy_permille = 0;      // of the last load window (shard.h)
  // Clients connected in each virtual broker that has any here, by name, sorted.
  std::vector<std::pair<std::string, uint64_t>> broker_clients;
};

// What the publisher uses of its shard (ShardBroker implements it).
class SysHost {
 public:
  virtual uint16_t shard_id() const = 0;
  virtual uint16_t shard_count() const = 0;
  virtual io::TimerWheel& wheel() = 0;
  virtual uint64_t now_ms() const = 0;
  // This shard's counters and gauges now.
  virtual SysSnapshot take_snapshot() const = 0;
  // To shard 0 (ownership lent; it comes back through snapshot_back()).
  virtual void send_sys_snapshot(SysSnapshot* snapshot) = 0;
  // Publishes as the broker itself: no client, no $SYS refusal.
  virtual void publish_internal(const std::string& topic, std::string_view payload,
                                bool retain) = 0;

 protected:
  ~SysHost() = default;
};

class SysPublisher final : public io::Timer {
 public:
  SysPublisher(SysHost& host, const SysTopics& config);

  void start();
  void stop();
  // A reload: new topics' prefix, intervals and events; the uptime goes on.
  void reconfigure(const SysTopics& config);
  void on_timer() override;
  // Shard 0: a snapshot from `shard`, read (and then sent back by the caller).
  void on_snapshot(uint16_t shard, const SysSnapshot& snapshot);
  // Its own snapshot came back from shard 0.
  void snapshot_back(SysSnapshot* snapshot);

  // Events of a client (`client_id` its session's key): a virtual broker's client's are
  // published as $SYS/<broker>/... in that broker's topic space (scope.h), visible only
  // there, with its client id as it wrote it.
  void client_connected(std::string_view client_id);
  void client_disconnected(std::string_view client_id);
  // `subscriptions_json`: [{"topic":...,"qos":...}, ...] as Aedes sends it.
  void subscribed(std::string_view client_id, const std::string& subscriptions_json);
  void unsubscribed(std::string_view client_id, const std::string& filters_json);

  static std::string json_string(std::string_view s);

 private:
  void publish_statistics();
  std::string event_topic(std::string_view client_id, std::string_view event) const;
  void publish(const std::string& topic, std::string_view payload, bool retain);
  uint64_t next_due() const;

  SysHost& _broker;
  SysTopics _config;
  std::string _prefix;  // "$SYS/<broker_id>/"
  uint64_t _started_ms = 0;
  uint64_t _stats_due_ms = 0;
  uint64_t _heartbeat_due_ms = 0;
  std::vector<SysSnapshot> _latest;  // shard 0: per shard
  std::unique_ptr<SysSnapshot> _own;  // this shard's, while not lent to shard 0
};

}  // namespace peregrine::broker
