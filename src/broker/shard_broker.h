// The broker state of one shard (DESIGN.md §2): its connections and sessions, its trie of
// local subscriptions, its replica of the routing table (filter → shards with
// subscribers), and the QoS 0 message path. Lives on its shard's thread; other shards
// reach it only through envelopes. A session's home shard is hash(client id) mod N: a
// connection migrates there after CONNECT, so takeover is always shard-local.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "include/peregrine/options.h"
#include "src/broker/broker_stats.h"
#include "src/broker/message.h"
#include "src/broker/topic_trie.h"
#include "src/mqtt/packets.h"
#include "src/net/connection.h"
#include "src/shard/shard.h"

namespace peregrine::broker {

class Client;

// The largest shard count: routing entries hold shard sets as one 64-bit mask.
inline constexpr uint16_t kMaxShards = 64;

struct BrokerConfig {
  Limits limits;
};

// One listening socket of this shard.
struct ShardListener {
  int fd = -1;
  std::string url;
};

class ShardBroker final : public shard::ShardService, public net::ConnectionHost {
 public:
  ShardBroker(const BrokerConfig& config, std::vector<ShardListener> listeners);
  ~ShardBroker() override;

  // shard::ShardService
  void on_start(shard::Shard& shard) override;
  void on_envelope(const shard::Envelope& envelope) override;
  void on_turn_end() override;
  void on_stop_requested() override;
  bool finished() const override;
  void discard_envelope(const shard::Envelope& envelope) override;

  // net::ConnectionHost
  io::Ring& ring() override { return _shard->ring(); }
  io::TimerWheel& wheel() override { return _shard->wheel(); }
  uint64_t now_ms() const override { return _shard->now_ms(); }
  void mark_dirty(net::Connection* connection) override;
  void release(net::Connection* connection) override;
  void detached(net::Connection* connection) override;

  // For clients of this shard.
  const Limits& limits() const { return _config.limits; }
  BrokerStats& stats() { return _stats; }
  const BrokerStats& stats() const { return _stats; }
  std::vector<uint8_t>& scratch() { return _scratch; }
  uint16_t shard_id() const { return _shard->id(); }
  uint16_t home_shard(std::string_view client_id) const;
  std::string assign_client_id();
  bool stopping() const { return _stopping; }

  void accept(int fd);
  // CONNECT accepted on the home shard: takes over a live session of the same client id.
  void register_session(Client* client);
  void publish(Client* from, const mqtt::Publish& publish);
  void route(Message* message);  // consumes the caller's reference
  void subscribe(Client* client, const mqtt::Subscribe& subscribe);
  void unsubscribe(Client* client, const mqtt::Unsubscribe& unsubscribe);
  // A connected client's transport ended: drop its subscriptions and session entry.
  void client_gone(Client* client);

 private:
  struct Subscriber {
    Client* client;
    uint8_t max_qos;
  };
  struct LocalEntry {
    std::vector<Subscriber> subscribers;
    bool empty() const { return subscribers.empty(); }
  };
  struct RouteEntry {
    uint64_t shards = 0;
    bool empty() const { return shards == 0; }
  };
  struct PendingAck {
    uint64_t connection_id;
    uint64_t seq;
    std::vector<uint8_t> packet;
  };
  class ListenerAcceptor;

  void deliver_local(Message* message);
  void deliver(Client* client, Message* message);
  std::span<const uint8_t> head_for(mqtt::ProtocolVersion version, Message* message);
  bool add_subscription(Client* client, const mqtt::SubscriptionRequest& request);
  bool remove_subscription(Client* client, std::string_view filter);
  void broadcast_route(std::string_view filter, bool add);
  void apply_route(const shard::Envelope& envelope);
  void on_route_ack(const shard::Envelope& envelope);
  void adopt(Client* client);
  uint64_t min_acked() const;
  void send_ready_acks();

  BrokerConfig _config;
  std::vector<ShardListener> _listeners;
  std::vector<std::unique_ptr<ListenerAcceptor>> _acceptors;
  shard::Shard* _shard = nullptr;
  BrokerStats _stats;
  std::vector<uint8_t> _scratch;

  std::unordered_map<uint64_t, Client*> _clients;  // every connection on this shard
  std::unordered_map<std::string, Client*, TransparentStringHash, std::equal_to<>>
      _sessions;  // client id → its live connection (home shard only)
  TopicTrie<LocalEntry> _local;
  TopicTrie<RouteEntry> _routes;
  std::vector<net::Connection*> _dirty;

  // Route changes: this shard's broadcasts are numbered; SUBACK waits until every other
  // shard has acknowledged the broadcasts made before it (DESIGN.md §2).
  uint64_t _route_seq = 0;
  std::vector<uint64_t> _acked;
  std::deque<PendingAck> _pending_acks;

  // Per-delivery state: overlapping subscriptions get one copy (stamp), heads are
  // encoded once per layout (v3, v5) for each message.
  uint64_t _delivery_stamp = 0;
  std::vector<uint8_t> _head_v3;
  std::vector<uint8_t> _head_v5;
  bool _head_v3_ready = false;
  bool _head_v5_ready = false;

  uint64_t _assigned_ids = 0;
  uint64_t _id_salt = 0;
  bool _stopping = false;
};

}  // namespace peregrine::broker
