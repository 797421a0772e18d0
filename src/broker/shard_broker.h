// The broker service of one shard (DESIGN.md §2, §5): the thin layer that dispatches
// the shard's mail to the owners below it and orchestrates publish, subscribe and a
// client's end across them. The owners, each with its own state: the SessionTable (the
// sessions living here, and where this home's lent sessions are), the RoutingTable (local
// subscribers plus the replica of filter → shards, and the route-change protocol that
// holds SUBACK until every shard applied it), SharedGroups, the RetainedRouter (retained
// messages of the topics this shard owns, and scans), and the Outbox (all mail out, and
// the QoS 0 batches it seals). Fan-out (match, heads, in place / batch / Message) and
// rehoming are still here. Lives on its shard's thread; other shards reach it only
// through mail (shard_mail.h).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "include/peregrine/enhanced_auth.h"
#include "include/peregrine/options.h"
#include "src/broker/broker_stats.h"
#include "src/broker/keyed_set.h"
#include "src/broker/message.h"
#include "src/broker/outbox.h"
#include "src/broker/rehome_policy.h"
#include "src/broker/retained_router.h"
#include "src/broker/route_memo.h"
#include "src/broker/routing_table.h"
#include "src/broker/session.h"
#include "src/broker/session_table.h"
#include "src/broker/shard_mail.h"
#include "src/broker/shared_groups.h"
#include "src/broker/sys_publisher.h"
#include "src/mqtt/packets.h"
#include "src/net/connection.h"
#include "src/shard/shard.h"

namespace peregrine::broker {

class Client;

struct BrokerConfig {
  Limits limits;
  SysTopics sys;
  Acl acl;                                // the answers to denials
  const Authorizer* authorizer = nullptr;  // nullptr: allow everything; shared, read-only
  std::vector<const EnhancedAuthMethod*> auth_methods;  // shared, read-only
  // Move a publisher-only session to the one shard its messages go to (rehome_policy.h).
  bool rehome_publishers = true;
};

// One listening socket of this shard.
struct ShardListener {
  int fd = -1;
  std::string url;
  // Its transport layers (TLS, WebSocket); nullptr: plain MQTT over TCP. Read-only,
  // owned by main, outlives the shards.
  const net::TransportConfig* transport = nullptr;
};

class ShardBroker final : public shard::ShardService, public net::ConnectionHost {
 public:
  ShardBroker(const BrokerConfig& config, std::vector<ShardListener> listeners);
  ~ShardBroker() override;

  // shard::ShardService
  void on_start(shard::Shard& shard) override;
  uint32_t on_envelope(const shard::Envelope& envelope) override;
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
  void count_transport_event(net::TransportEvent event) override;
  net::OutQueue* acquire_out_queue() override;
  void release_out_queue(net::OutQueue* queue) override;
  void count_bytes_out(size_t bytes) override { _stats.bytes_out += bytes; }

  // For clients and sessions of this shard.
  const Limits& limits() const { return _config.limits; }
  BrokerStats& stats() { return _stats; }
  const BrokerStats& stats() const { return _stats; }
  std::vector<uint8_t>& scratch() { return _scratch; }
  // The PUBLISH a client decodes its input into, one per shard so that no packet builds
  // and destroys a Publish (~400 bytes); valid until that client's next PUBLISH.
  mqtt::Publish& inbound_publish() { return _inbound_publish; }
  mqtt::Ack& inbound_ack() { return _inbound_ack; }  // decoded into again for each ack
  uint16_t shard_id() const { return _shard->id(); }
  uint16_t shard_count() const { return _shard->count(); }
  uint64_t clients_now() const { return _clients_now; }
  uint64_t subscriptions_now() const { return _subscriptions_now; }
  uint64_t retained_now() const { return _retained->size(); }
  // Publishes as the broker itself ($SYS): no client, no $SYS refusal.
  void publish_internal(const std::string& topic, std::string_view payload, bool retain);
  void send_sys_snapshot(SysSnapshot* snapshot);
  uint16_t home_shard(std::string_view client_id) const;
  // Whether a CONNECT for `client_id` is accepted on this shard: its session lives here
  // (and is not leaving), or none does anywhere and this is its home. Otherwise the
  // connection moves on (detached() finds where).
  bool connects_here(std::string_view client_id) const;
  std::string assign_client_id();
  bool stopping() const { return _stopping; }
  // The clock is read only for messages that carry an expiry.
  bool expired(const Message& message) const {
    return message.has_expiry() && message.expiry_left(now_ms()) == 0u;
  }
  const BrokerConfig& config() const { return _config; }
  bool backpressured() const {
    return _shard->overflow_size() >= _config.limits.mailbox_overflow_limit;
  }
  // `client` stopped reading for back-pressure; resumed at a turn end once it drains.
  void paused(Client* client);
  const EnhancedAuthMethod* auth_method(std::string_view name) const {
    for (const EnhancedAuthMethod* method : _config.auth_methods) {
      if (method->name() == name) {
        return method;
      }
    }
    return nullptr;
  }
  bool may_read(const Session& session, std::string_view topic) const {
    const Authorizer* a = _config.authorizer;
    return a == nullptr || !a->may_deny_reads() || a->allow_read(session.identity(), topic);
  }

  void accept(int fd, const net::TransportConfig* transport);
  // CONNECT accepted on the home shard: takes over a live connection of the same client
  // id, ends or resumes the session per Clean Start. Returns the session and whether it
  // was present [MQTT-3.2.2-2].
  Session* open_session(Client* client, const mqtt::Connect& connect, bool* present);
  void publish(Client* from, const mqtt::Publish& publish);
  void subscribe(Client* client, const mqtt::Subscribe& subscribe);
  void unsubscribe(Client* client, const mqtt::Unsubscribe& unsubscribe);
  // A connected client's transport ended: its will and its session's fate.
  void client_gone(Client* client);
  // A session's timer: will delay or session expiry ran out.
  void session_timer(Session* session);

  // The cached PUBLISH head for QoS 0 fan-out of `message` in `version`'s layout.
  std::span<const uint8_t> qos0_head(mqtt::ProtocolVersion version, Message* message);

 private:
  using FilterEntry = RoutingTable::FilterEntry;
  using Subscriber = RoutingTable::Subscriber;
  class ListenerAcceptor;

  static uint64_t connection_key(Client* const& client);
  Client* find_client(uint64_t connection_id) const {
    auto it = _clients.find(connection_id);
    return it == _clients.end() ? nullptr : *it;
  }

  // Mail from other shards (and this one's own), one handler per kind (shard_mail.h).
  void handle(const mail::Publish& mail, uint16_t from);
  uint32_t handle(const mail::PublishBatchMail& mail, uint16_t from);
  void handle(const mail::BatchBack& mail, uint16_t from);
  void handle(const mail::RouteChangeMail& mail, uint16_t from);
  void handle(const mail::RouteAck& mail, uint16_t from);
  void handle(const mail::Migrate& mail, uint16_t from);
  void handle(const mail::Rehome& mail, uint16_t from);
  void handle(const mail::SessionGone& mail, uint16_t from);
  void handle(const mail::Load& mail, uint16_t from);
  void handle(const mail::RetainStore& mail, uint16_t from);
  void handle(const mail::RetainScan& mail, uint16_t from);
  void handle(const mail::RetainBatch& mail, uint16_t from);
  void handle(const mail::SharedPublish& mail, uint16_t from);
  void handle(const mail::SysSnapshotMail& mail, uint16_t from);
  void handle(const mail::SysSnapshotBack& mail, uint16_t from);
  void handle(const mail::Reclaim& mail, uint16_t from);

  void route(Message* message);  // consumes the caller's reference
  // route() once match_filters() has given `shards` for the message.
  void route_matched(Message* message, uint64_t shards);
  void deliver_local(Message* message);
  // Matches a message's topic: local sessions into _matched (one each), and returns the
  // shards that have subscribers. `origin`: the publishing connection (No Local).
  uint64_t match_filters(std::string_view topic, uint8_t qos, bool retain, uint64_t origin);
  uint64_t match_filters(const Message* message) {
    return match_filters(message->topic(), message->qos(), message->retain(),
                         message->origin_connection());
  }
  // match_filters() for a PUBLISH from `from`, replayed from its RouteMemo when the
  // topic, QoS and retain flag are those of its last one and the filters are unchanged.
  uint64_t match_publish(Client* from, std::string_view topic, uint8_t qos, bool retain);
  void deliver_matched(Message* message);
  // A plain QoS 0 PUBLISH whose matched subscribers (in _matched) are all on this shard
  // and all take the QoS 0 fast path with copied payloads: sends it to them straight from
  // the publisher's read buffer, with no Message, and returns true. Returns false, having
  // sent nothing, when any of them needs a Message.
  // `transient_payload`: the payload's bytes are gone once this returns (a batch record),
  // so there is nothing to reference and a lone subscriber always takes a copy.
  bool deliver_in_place(const mqtt::Publish& publish, bool transient_payload = false);
  // Each record of a batch from another shard, to this shard's subscribers.
  void deliver_batch(const PublishBatch& batch);
  // A hold on the receive buffer of a large payload read just now, or nullptr: copy it.
  io::RecvHold* hold_payload(const mqtt::Publish& publish);
  // deliver_in_place()'s head: the publisher's RouteMemo's when match_publish() used or
  // made one for this message (_current_memo), else cached_qos0_head()'s.
  std::span<const uint8_t> in_place_head(mqtt::ProtocolVersion version,
                                         std::string_view topic, size_t payload_size);
  // The QoS 0 head of the message being delivered in `version`'s layout, encoded on
  // first use after deliver_matched()/deliver_in_place() reset the cache.
  std::span<const uint8_t> cached_qos0_head(mqtt::ProtocolVersion version,
                                            std::string_view topic,
                                            const mqtt::Properties* properties,
                                            size_t payload_size);
  bool add_subscription(Session* session, std::string_view filter,
                        const SubscriptionOptions& options);
  void remove_subscription(Session* session, std::string_view filter);
  // `replaced`: a clean start ends it for a new session of the same client id here.
  void end_session(Session* session, bool replaced = false);
  // Rehoming (rehome_policy.h): a publish by `from` went to `shards`; the client moves
  // when its run qualifies and it is a publisher only: from its home to any shard, or
  // from where it moved back to its home.
  void follow_traffic(Client* from, uint64_t shards);
  void maybe_rehome(Client* from, uint16_t target);
  void rehome_out(Client* client);  // quiesced: send it and its session on
  void rehome_in(Client* client);   // arrived with its session
  // A connection detached to reach its session (kMigrating): posts it where that is, or
  // parks it while the session is leaving this shard.
  void forward_connect(Client* client);
  // The parked connections for `client_id` go to `to` (the session went there, or stayed).
  void release_parked(std::string_view client_id, uint16_t to);
  void broadcast_load();
  void arm_session_timer(Session* session);
  void publish_will(Message* will);
  void adopt(Client* client);
  void write_suback(Client* client, RoutingTable::HeldSuback& suback);
  // Stores a retained message (one reference taken over) on its topic's owner.
  void store_retained(Message* message) { _retained->store(message); }

  BrokerConfig _config;
  std::vector<ShardListener> _listeners;
  std::vector<std::unique_ptr<ListenerAcceptor>> _acceptors;
  shard::Shard* _shard = nullptr;
  BrokerStats _stats;
  std::vector<uint8_t> _scratch;
  mqtt::Publish _inbound_publish;
  mqtt::Ack _inbound_ack;

  KeyedSet<Client*, uint64_t, &connection_key> _clients;  // every connection here, by id
  // The owners below this service (made in on_start(), on the shard's thread).
  std::unique_ptr<Outbox> _outbox;
  std::unique_ptr<SessionTable> _sessions;
  std::unique_ptr<RoutingTable> _routes;
  std::unique_ptr<SharedGroups> _shared;
  std::unique_ptr<RetainedRouter> _retained;
  // Empty send queues for reuse: at most kMaxPooledQueues, none that grew past
  // kMaxPooledQueueBytes (a slow reader's big arena goes back to the allocator).
  static constexpr size_t kMaxPooledQueues = 1024;
  static constexpr size_t kMaxPooledQueueBytes = 256 * 1024;
  std::vector<std::unique_ptr<net::OutQueue>> _free_queues;
  std::unique_ptr<MessageReclaimer> _reclaimer;  // installed on this shard's thread
  std::vector<net::Connection*> _dirty;
  std::vector<uint64_t> _paused_clients;  // connection ids paused by back-pressure

  // Fan-out scratch: sessions matched by the current message, and QoS 0 heads encoded
  // once per layout (v3, v5) for it.
  uint64_t _delivery_stamp = 0;
  // The memo match_publish() used or made for the PUBLISH being handled, if any: read by
  // deliver_in_place() for that PUBLISH only.
  RouteMemo* _current_memo = nullptr;
  std::vector<Session*> _matched;
  std::vector<std::pair<uint32_t, uint32_t>> _matched_ids;  // (index in _matched, sub id)
  // Each keeps the largest size it has had; the head is its first _head_v*_size bytes
  // (a resize per message value-initialised the bytes it was about to write).
  std::vector<uint8_t> _head_v3;
  std::vector<uint8_t> _head_v5;
  size_t _head_v3_size = 0;
  size_t _head_v5_size = 0;
  Message* _head_message = nullptr;  // the message the cached heads belong to
  bool _head_v3_ready = false;
  bool _head_v5_ready = false;

  // Rehoming: the connections waiting for a session that is leaving, the peers' load as
  // last told, and the moves made in the current window (at most kMaxRehomesPerWindow).
  static constexpr uint32_t kMaxRehomesPerWindow = 32;
  bool _rehome_enabled = false;
  RehomeRules _rehome_rules;
  std::vector<Client*> _parked_connects;
  std::vector<uint32_t> _peer_load;
  static constexpr uint32_t kLoadChangeTold = 20;  // thousandths
  static constexpr uint64_t kLoadRepeatMs = 1000;
  uint64_t _load_sent_ms = 0;
  uint32_t _load_sent = 0;
  uint64_t _rehome_window_ms = 0;
  uint32_t _rehomes_in_window = 0;

  std::unique_ptr<SysPublisher> _sys;
  uint64_t _clients_now = 0;
  uint64_t _subscriptions_now = 0;
  uint64_t _assigned_ids = 0;
  uint64_t _id_salt = 0;
  bool _stopping = false;
};

}  // namespace peregrine::broker
