// The broker service of one shard (DESIGN.md §2, §5; docs/architecture.md §2): the
// layer that dispatches the shard's mail to the owners below it, keeps the shard's client
// connections (accept, migration, rehoming), and orchestrates CONNECT, PUBLISH, SUBSCRIBE
// and a client's end across the owners — SessionTable, RoutingTable, FanOut,
// SharedGroups, RetainedRouter, RehomePlanner, Outbox — which it reaches only through
// their own calls.
// The layers below see it through narrow interfaces it implements: BrokerPort (clients),
// SessionHost (sessions), SessionEvents (the session table), SysHost ($SYS). Lives on its
// shard's thread; other shards reach it only through mail (shard_mail.h).
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
#include "src/broker/broker_port.h"
#include "src/broker/broker_stats.h"
#include "src/broker/control_plane.h"
#include "src/broker/fan_out.h"
#include "src/broker/filter_counts.h"
#include "src/broker/memory_trimmer.h"
#include "src/broker/keyed_set.h"
#include "src/broker/message.h"
#include "src/broker/operator_report.h"
#include "src/broker/outbox.h"
#include "src/broker/rehome_planner.h"
#include "src/broker/rehome_policy.h"
#include "src/broker/retained_router.h"
#include "src/broker/route_memo.h"
#include "src/broker/routing_table.h"
#include "src/broker/session.h"
#include "src/broker/session_images.h"
#include "src/broker/session_journal.h"
#include "src/broker/session_table.h"
#include "src/broker/shard_mail.h"
#include "src/broker/shared_groups.h"
#include "src/broker/sys_publisher.h"
#include "src/mqtt/packets.h"
#include "src/net/connection.h"
#include "src/shard/shard.h"

namespace peregrine::broker {

class Client;
class ClientConnection;

// One listening socket of this shard.
struct ShardListener {
  int fd = -1;
  std::string url;
  // Its transport layers (TLS, WebSocket); nullptr: plain MQTT over TCP. Read-only,
  // owned by main, outlives the shards.
  const net::TransportConfig* transport = nullptr;
  bool accepting = false;  // the shard's acceptor listens on it
  uint16_t index = 0;      // in the broker's listener list (its connection slots)
  std::string broker;      // the virtual broker it is bound to ("": none; ListenUrl)
  // An HTTP API listener (http://, https://) serves the operator's pages: it accepts
  // while the log is recovered and while the others drain, so that /readyz can say 503.
  bool serves_pages() const { return transport != nullptr && transport->http && transport->bridge.serve_api; }
};

class ShardBroker final : public shard::ShardService,
                          public BrokerPort,
                          public SessionEvents,
                          public ControlEvents,
                          public DurableLogListener,
                          public SysHost,
                          public net::ServedNames {
 public:
  ShardBroker(const BrokerConfig& config, std::vector<ShardListener> listeners);
  ~ShardBroker() override;

  // shard::ShardService
  void on_start(shard::Shard& shard) override;
  uint32_t on_envelope(const shard::Envelope& envelope) override;
  // Its reclaimer is the thread's while it runs (the simulation runs every shard on one).
  void on_turn_begin() override;
  void on_turn_end() override;
  // Mail to itself waits (a retained scan's next slice here), or a snapshot is being made
  // in slices: the next turn comes at once.
  // Serving: with persistence, once every shard applied the restored routes.
  bool listening() const { return _listening; }
  bool wants_turn() const override {
    return _outbox != nullptr && (_outbox->has_self_mail() || _control->has_answers() ||
                                  (_log != nullptr && _log->snapshot_ready() &&
                                   !_snapshot_done_adding));
  }
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
  void count_dropped_at_drain(size_t bytes) override { _stats.drain_dropped_bytes += bytes; }
  bool begin_linger() override;
  void end_linger() override;
  http::Readiness readiness() const override;

  // BrokerPort: for the clients of this shard.
  uint16_t shard_id() const override { return _shard->id(); }
  void paused(Client* client) override;
  void resume_at_turn_end(Client* client) override;
  std::string assign_client_id() override;
  std::string_view listener_broker(uint16_t index) const override;
  bool connects_here(std::string_view client_id) const override;
  Session* open_session(Client* client, const mqtt::Connect& connect, bool* present) override;
  void session_opened(Session* session) override;
  PublishOutcome publish(Client* from, mqtt::Publish& publish,
                         uint32_t answer_token) override;
  bool wait_for_log(Client* from, uint32_t answer_token) override;
  bool barrier_for_log(Client* from, uint32_t answer_token) override;
  uint64_t journal_records() const override;
  uint64_t connack_ticket(const Client* from, uint64_t mark, bool present) const override;
  void wait_written_through(Client* from, uint32_t answer_token, uint64_t ticket) override;
  void subscribe(Client* client, const mqtt::Subscribe& subscribe) override;
  void unsubscribe(Client* client, const mqtt::Unsubscribe& unsubscribe) override;
  void client_gone(Client* client) override;
  void drop_ungranted(Session* session) override;
  bool token_revoked(std::string_view token_id) const override {
    return _control->revoked(token_id);
  }
  void credential_in_use(Client* client) override;
  void admin_call(net::Connection* connection, const http::AdminCall& call) override;
  void operator_page(net::Connection* connection, http::OperatorPage page) override;

  // SessionHost: for the sessions of this shard.
  bool may_read(const Session& session, std::string_view topic) const override {
    return _fan_out->may_read(session, topic);
  }
  void session_timer(Session* session) override;
  DeliveryLog* delivery_log() override { return _journal.get(); }

  // SessionEvents: what the session table asks of this shard.
  void publish_will(Message* will) override;
  void drop_subscription(Session* session, std::string_view filter) override;
  void ended_away(uint16_t home, uint64_t ticket) override;
  void session_ending(Session* session) override;

  // ControlEvents: what the control plane asks of this shard.
  void answer_admin(uint64_t waiter, int status, std::string body) override;
  void disconnect_token_holders(std::string_view token_id) override;
  void broker_keys_changed(const std::vector<BrokerKey>& keys,
                           std::string_view removed_key) override;
  int64_t wall_clock_ms() const override;
  void broker_removed(std::string_view scope) override;
  const VirtualBrokers* brokers_directory() const override;
  // net::ServedNames: names that reach a virtual broker, or any when unmatched
  // connections go to the default broker.
  const net::ServedNames* served_names() const override { return this; }
  bool serves_name(std::string_view name) const override;

  // DurableLogListener: a batch of this shard's log is on disk, or failed.
  void on_log_written(uint64_t ticket, int error) override;

  // SysHost
  uint16_t shard_count() const override { return _shard->count(); }
  SysSnapshot take_snapshot() const override;
  void send_sys_snapshot(SysSnapshot* snapshot) override;
  void publish_internal(const std::string& topic, std::string_view payload,
                        bool retain) override;

  uint16_t home_shard(std::string_view client_id) const;
  // The bounds of this shard's queues, checked (the seeded simulation calls it after
  // every step): "" when they hold, else what broke.
  std::string check_bounds() const;
  bool stopping() const { return _stopping; }
  // SIGHUP, on this shard's thread (shard::ShardGroup::run_on_each): what `next` says of
  // limits, $SYS, the ACL, authentication, the drain and rehoming applies from now on;
  // live clients keep their session and connection. What `next` points to outlives the
  // shards (main keeps every generation).
  void reconfigure(const BrokerConfig& next);
  // SIGHUP: listeners added (this shard's sockets, now its own), removed (by index: no
  // new connections; those it accepted stay) and changed (by index: the socket stays, its
  // URL text and transport are `changed`'s for connections accepted from now on).
  void change_listeners(std::vector<ShardListener> added, const std::vector<uint16_t>& removed,
                        const std::vector<ShardListener>& changed);
  void accept(int fd, const net::TransportConfig* transport, uint16_t listener);
  // Listener `index`'s transport as it is now (nullptr: plain MQTT, or no such listener).
  const net::TransportConfig* transport_of(uint16_t index) const;

 private:
  using FilterEntry = RoutingTable::FilterEntry;
  using Subscriber = RoutingTable::Subscriber;
  class ListenerAcceptor;

  static uint64_t connection_key(ClientConnection* const& connection);
  ClientConnection* find_client(uint64_t connection_id) const {
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
  void handle(const mail::RetainAnswer& mail, uint16_t from);
  void handle(const mail::RetainScan& mail, uint16_t from);
  void handle(const mail::RetainBatch& mail, uint16_t from);
  void handle(const mail::SharedPublish& mail, uint16_t from);
  void handle(const mail::SysSnapshotMail& mail, uint16_t from);
  void handle(const mail::SysSnapshotBack& mail, uint16_t from);
  void handle(const mail::Reclaim& mail, uint16_t from);
  void handle(const mail::AdminForward& mail, uint16_t from);
  void handle(const mail::AdminDone& mail, uint16_t from);
  void handle(const mail::ControlChangeMail& mail, uint16_t from);
  void handle(const mail::ControlAck& mail, uint16_t from);
  void handle(const mail::Recovered& mail, uint16_t from);
  void handle(const mail::DurableAck& mail, uint16_t from);
  void handle(const mail::ReportAsk& mail, uint16_t from);
  void handle(const mail::ReportBack& mail, uint16_t from);
  void handle(const mail::LogBarrier& mail, uint16_t from);
  void handle(const mail::FilterReserve& mail, uint16_t from);
  void handle(const mail::FilterReserved& mail, uint16_t from);
  void handle(const mail::FilterCount& mail, uint16_t from);

  // Publishes `message` from this shard (consumes the caller's reference): to this
  // shard's matched sessions, one mail per other shard with subscribers, shared groups.
  void route(Message* message) { route_matched(message, _fan_out->match(*message)); }
  // Returns the other shards it was posted to; with a `wait`, each answers it.
  uint32_t route_matched(Message* message, FanOutPass& pass, uint32_t wait = 0);
  // A hold on the receive buffer of a large payload read just now, or nullptr: copy it.
  io::RecvHold* hold_payload(const mqtt::Publish& publish);
  // `reserved`: the filter's count already holds this subscriber (a SUBSCRIBE asked its
  // owner); otherwise a new one is counted now (max_subscribers_per_filter).
  bool add_subscription(Session* session, std::string_view filter,
                        const SubscriptionOptions& options, bool reserved = false);
  void remove_subscription(Session* session, std::string_view filter);

  // ---- max_subscribers_per_filter (shard_broker_quota.cc, filter_counts.h) ----
  // What a SUBSCRIBE's filters got from their owners: nothing asked (the session has
  // it, or the request fails first), counted, or refused (SUBACK 0x97).
  enum class Quota : uint8_t { kNotAsked, kReserved, kRefused };
  // A SUBSCRIBE waiting for its filters' owners, its client's input paused meanwhile.
  struct ParkedSubscribe {
    uint64_t connection;
    uint64_t session_id;
    uint16_t packet_id;
    uint32_t subscription_id;  // 0: none
    std::string scope;         // its session's virtual broker (scope.h)
    std::vector<std::string> filters;
    std::vector<mqtt::SubscriptionRequest> requests;  // their filters: views of `filters`
    std::vector<Quota> quota;
    uint32_t remaining;  // answers still to come
  };
  struct FilterAsk {
    uint32_t park;
    uint32_t index;
  };
  // Asks the owners of the filters `subscribe` would add to its session: true when it
  // was parked for their answers (subscribe_now() follows), false to go on now with
  // `quota` filled (every owner was this shard).
  bool park_for_quota(Client* client, const mqtt::Subscribe& subscribe,
                      std::vector<Quota>& quota);
  void subscribe_now(Client* client, const mqtt::Subscribe& subscribe,
                     const std::vector<Quota>* quota);
  void finish_parked(uint32_t id);
  // One subscriber more (+1, not asking) or fewer (-1) for `filter`, on its owner.
  // `filter` (a session's, as its client wrote it) as routed: behind the session's
  // virtual broker's scope (scope.h), kept in `storage` then.
  static std::string_view routing_filter(const Session& session, std::string_view filter,
                                         std::string& storage);
  // The count of subscribers to `filter` in the virtual broker of `scope` (scope.h).
  void count_filter(std::string_view scope, std::string_view filter, int delta);
  static uint64_t filter_key(std::string_view scope, std::string_view filter);
  bool counts_filters() const { return _filter_counts != nullptr; }
  // Rehoming: a publish by `from` went to `shards`; the client moves when its planner
  // says so and it is a publisher only (rehome_planner.h).
  void follow_traffic(Client* from, uint64_t shards);
  void rehome_out(ClientConnection* client);  // quiesced: send it and its session on
  void rehome_in(ClientConnection* client);   // arrived with its session
  // A connection detached to reach its session (kMigrating): posts it where that is, or
  // parks it while the session is leaving this shard.
  void forward_connect(ClientConnection* client);
  // The parked connections for `client_id` go to `to` (the session went there, or stayed).
  void release_parked(std::string_view client_id, uint16_t to);
  void adopt(ClientConnection* client);
  void write_suback(Client* client, RoutingTable::HeldSuback& suback);
  // A held SUBACK leaves: to its connection if still here; its scan window closes.
  void release_suback(RoutingTable::HeldSuback& suback);
  // The scan window `suback` opened closes without scans (its session's, if it lives).
  void close_scan_window(const RoutingTable::HeldSuback& suback);
  // The cut for a SUBSCRIBE owing retained messages, as of now (scan_cut.h).
  std::shared_ptr<ScanCut> begin_scan_cut() const;
  // Stamps `message`, before any other shard can see it, as the next this shard routes.
  Message* stamped(Message* message) {
    message->stamp(shard_id(), ++_routed);
    return message;
  }
  // Stores a retained message (one reference taken over) on its topic's owner.
  void store_retained(Message* message) { _retained->store(message); }

  std::vector<ShardListener> _listeners;
  std::vector<std::unique_ptr<ListenerAcceptor>> _acceptors;
  shard::Shard* _shard = nullptr;

  // Every client connection here, by id.
  KeyedSet<ClientConnection*, uint64_t, &connection_key> _clients;
  // The owners below this service (made in on_start(), on the shard's thread).
  std::unique_ptr<Outbox> _outbox;
  std::unique_ptr<SessionTable> _sessions;
  std::unique_ptr<RoutingTable> _routes;
  std::unique_ptr<SharedGroups> _shared;
  std::unique_ptr<RetainedRouter> _retained;
  std::unique_ptr<FanOut> _fan_out;
  std::unique_ptr<RehomePlanner> _rehome;
  std::unique_ptr<ControlPlane> _control;
  // Persistence (shard_broker_log.cc): this shard's log (nullptr: in memory only), its
  // persistent sessions' journal, and a timer that makes the shard turn when an interval
  // sync falls due while it is idle.
  void open_log();
  void flush_log();
  // Start-up: the sessions the log held come back offline, with their subscriptions.
  void restore_sessions(const SessionImages& images);
  // Listening starts once every shard has restored its sessions' routes (mail::Recovered).
  void start_listening();
  void listen_on(ShardListener& listener);
  void close_listener(ShardListener& listener);  // no more accepts; its fd closed
  void stop_accepting(ShardListener& listener);  // no more accepts; its fd stays
  // Stopping: once only connections speaking HTTP without a session are left, the page
  // listeners close and so do they.
  bool only_pages_left() const;
  void close_pages();
  bool _pages_open = false;  // stopping, and page listeners still accept
  // The connection count when only_pages_left() last said no: while draining no
  // connection turns into an MQTT one, so the scan waits for one to go.
  size_t _pages_checked_at = SIZE_MAX;
  bool _resume_held = false;  // listening began: held HTTP requests go on at the turn's end
  void tell_recovered();
  // A SUBACK whose subscriptions were written waits for that write (in ticket order);
  // then for the routes. A failed write refuses its filters and takes them back.
  void pass_log_gate(Client* client, RoutingTable::HeldSuback& suback);
  void release_log_gated(uint64_t ticket, int error);
  void refuse_suback(RoutingTable::HeldSuback& suback);
  void hold_for_routes(RoutingTable::HeldSuback& suback);
  // Acknowledgements that wait for durable writes (shard_broker_log.cc): a wait is one
  // PUBLISH (or PUBREL) of a client here, answered once this shard and every other shard
  // its message went to have written what they wrote for it. Bounded by the clients'
  // unacknowledged packets (our Receive Maximum each).
  uint32_t next_wait_id() {
    _next_wait = (_next_wait + 1) & 0x7FFFFFFF;  // DurableAck carries 31 bits
    return _next_wait != 0 ? _next_wait : (_next_wait = 1);
  }
  void answer_wait(uint32_t wait, bool written);
  // What this shard appended for `shard`'s `wait` just now: answered once on disk (at
  // once when nothing was).
  void after_write(uint16_t shard, uint32_t wait);
  struct OriginWait {
    uint64_t connection;
    uint32_t token;
    uint32_t remaining;
    bool failed;
  };
  absl::flat_hash_map<uint32_t, OriginWait> _waits;
  // max_subscribers_per_filter (non-null when set at start): the filters this shard
  // owns, and the SUBSCRIBEs waiting for other owners (one per client at most: its
  // input is paused until it is answered).
  std::unique_ptr<FilterCounts> _filter_counts;
  absl::flat_hash_map<uint32_t, ParkedSubscribe> _parked_subscribes;
  absl::flat_hash_map<uint32_t, FilterAsk> _filter_asks;  // FilterReserve's wait → filter
  uint32_t _next_park = 0;
  uint32_t _next_ask = 0;
  uint32_t _next_wait = 0;
  // This shard's writes that waits hold for, in ticket order: at most one per PUBLISH
  // mail or PUBREL handled in the turns whose batches are not yet reported.
  struct LogWait {
    uint64_t ticket;
    uint16_t shard;
    uint32_t wait;
  };
  std::deque<LogWait> _log_waits;
  // Barriers (mail::LogBarrier) until the journal is written through their ticket, in
  // ticket order: at most one per QoS 2 resend in flight on any shard (Receive Maximum).
  std::deque<LogWait> _barriers;
  // A barrier for `shard`'s `wait`: answered when this shard's journal holds everything
  // appended so far; false when it does already.
  bool barrier(uint16_t shard, uint32_t wait);
  void answer_barriers();
  std::unique_ptr<DurableLog> _log;
  std::unique_ptr<SessionJournal> _journal;
  bool _log_failing = false;  // since the last failed write (logged once an episode)
  // SUBACKs waiting for their write, in log order: at most one per SUBSCRIBE of the
  // turns whose batches are not yet reported (the clients' packets in flight bound them).
  std::deque<RoutingTable::HeldSuback> _log_gated;
  // An UNSUBACK of a durable session waits for its records' write, so that a filter it
  // says is gone never comes back after a crash; a failed write puts the filters back and
  // refuses them (v5 0x80; 3.1.1 has no way to say it: the connection closes). In log
  // order; bounded like _log_gated, by the UNSUBSCRIBE packets of unreported batches.
  struct HeldUnsuback {
    uint64_t connection_id = 0;
    uint64_t session_id = 0;
    uint64_t log_ticket = 0;
    mqtt::Unsuback packet;
    std::vector<std::pair<std::string, SubscriptionOptions>> removed;  // to put back
  };
  std::deque<HeldUnsuback> _unsubacks_gated;
  void release_unsubacks(uint64_t ticket, int error);
  // A snapshot in the making: where its next slice starts, and whether all is added.
  // Retained messages first, then sessions.
  static constexpr size_t kSnapshotSlice = 512;  // retained messages a turn (~0.3 ms)
  static constexpr size_t kSnapshotSessions = 256;  // sessions a turn
  std::string _snapshot_cursor;
  bool _snapshot_retained_done = false;
  size_t _snapshot_session_cursor = 0;
  bool _snapshot_done_adding = false;
  // Start-up barrier: shards that said Recovered (this one included), whether this one
  // has, and whether its listeners are on.
  uint16_t _recovered_shards = 0;
  // Restored wills that fell due before listening (a reference each): at most one per
  // restored session.
  std::vector<Message*> _deferred_wills;
  bool _told_recovered = false;
  bool _listening = false;
  // The operator's pages (shard_broker_service.cc): reports this shard asked for, until
  // every shard filled its slot and the page is answered at a turn's end (at most
  // kMaxReports at once: more are answered 503), and this shard's counters a minute ago.
  static constexpr size_t kMaxReports = 16;
  std::vector<std::unique_ptr<OperatorReport>> _reports;
  std::vector<OperatorReport*> _reports_done;
  CounterHistory _history;
  void finish_reports();
  struct LogSyncTimer final : io::Timer {
    void on_timer() override {}  // the turn it causes flushes the log
  } _log_sync_timer;
  // Connected clients by the jti of the token they proved themselves with, to close them
  // when it is revoked; one entry per such client (released at its end or rehoming).
  std::unordered_map<std::string, std::vector<Client*>> _token_holders;
  std::unordered_map<Client*, std::string> _held_tokens;
  void release_token(Client* client);
  void disconnect_key_holders(std::string_view kid);
  // Connections lingering after their goodbye (net::Connection::close_after_flush): at
  // most limits.max_lingering per shard, so a flood of misbehaving clients cannot hold
  // sockets open; past it a connection closes as soon as its output is written (counted).
  uint32_t _lingering = 0;
  // Empty send queues for reuse: at most kMaxPooledQueues, none that grew past
  // kMaxPooledQueueBytes (a slow reader's big arena goes back to the allocator).
  static constexpr size_t kMaxPooledQueues = 1024;
  static constexpr size_t kMaxPooledQueueBytes = 256 * 1024;
  std::vector<std::unique_ptr<net::OutQueue>> _free_queues;
  std::unique_ptr<MessageReclaimer> _reclaimer;  // installed on this shard's thread
  // Connections written to this turn, flushed at its end: at most one entry each.
  std::vector<net::Connection*> _dirty;
  // Connection ids paused by back-pressure, resumed once the overflow drains: at most
  // one entry each (a paused connection reads no PUBLISH until resumed).
  std::vector<uint64_t> _paused_clients;

  // Connections waiting for a session that is leaving this shard (rehoming): bounded by
  // the connections sent here for it in the one hand-over; all go on when it has left.
  std::vector<ClientConnection*> _parked_connects;

  std::unique_ptr<SysPublisher> _sys;
  std::unique_ptr<MemoryTrimmer> _trimmer;  // shard 0 only
  // Messages stamped here (stamped()), and by shard the last one of each delivery class
  // that shard's Publish mail brought here (ScanCut::Origin::before).
  uint64_t _routed = 0;
  std::vector<ScanCut::Origin> _arrived;
  uint64_t _clients_now = 0;
  // Of those, each virtual broker's (by name; none at 0): the operator's metrics.
  absl::flat_hash_map<std::string, uint64_t> _broker_clients;
  void count_client(std::string_view broker, int delta);
  uint64_t _subscriptions_now = 0;
  uint64_t _assigned_ids = 0;
  // A virtual broker's PUBLISH topic behind its scope, while publish() routes it.
  std::string _routing_topic;
  // Deleted virtual brokers whose state on this shard is still going
  // (shard_broker_tenants.cc): one a turn, kPurgeSlice sessions and retained messages.
  // Bounded by the brokers deleted (the admin API's one-at-a-time changes).
  static constexpr size_t kPurgeSlice = 256;
  struct Purge {
    std::string scope;
    std::vector<uint64_t> sessions;  // ids still to end, the last first
  };
  std::deque<Purge> _purges;
  void purge_slice();
  uint64_t _id_salt = 0;
  bool _stopping = false;
};

}  // namespace peregrine::broker
