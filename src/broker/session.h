// A session (MQTT §4.1): subscriptions, QoS 1/2 state in both directions, the queue of
// messages waiting for the client or for a window slot, and the will. It lives on one
// shard (its SessionHost), with or without a live connection (its ClientLink), until it
// ends (clean start, expiry): its home (hash of client id), or the shard a publisher was
// rehomed to. Changes
// to it are discrete events (subscribe, enqueue, ack) so that a store can record them.
// Bounds: inflight ≤ the window (client's Receive Maximum, capped by limits); queue ≤
// max_queued_messages and max_queued_bytes (beyond: the new message is dropped, counted);
// held bytes (in flight until acknowledged, plus queued; topic + payload) ≤
// max_session_bytes, a session holding nothing always taking one message (beyond: the
// new message is dropped, counted, logged once per episode), and at the shard's budget
// its fair share of it (held_budget.h); inbound QoS 2 ids awaiting PUBREL ≤ our Receive
// Maximum (beyond: DISCONNECT 0x93).
#pragma once

#include <cstdint>
#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "include/peregrine/authorizer.h"
#include "src/base/assert.h"
#include "src/base/optional_string.h"
#include "src/broker/client_link.h"
#include "src/broker/lazy_deque.h"
#include "src/broker/message.h"
#include "src/broker/packed_string.h"
#include "src/broker/proven_identity.h"
#include "src/broker/session_host.h"
#include "src/io/timer_wheel.h"
#include "src/mqtt/packets.h"
#include "src/mqtt/scope.h"

namespace peregrine::broker {

struct SubscriptionOptions {
  uint8_t max_qos = 0;
  bool no_local = false;
  bool retain_as_published = false;
  uint8_t retain_handling = 0;
  uint32_t subscription_id = 0;  // 0: none
};

// What a new subscription is owed from the retained store once its SUBACK is out.
struct RetainedRequest {
  std::string filter;
  SubscriptionOptions options;
};

// One message on its way to one session.
struct Delivery {
  Message* message = nullptr;  // one reference held by the delivery
  uint8_t qos = 0;
  bool retain = false;
  // Durable sessions (persistence): its number in the session's log (0: none), a packet
  // id fixed before it was numbered (0: the one its seq gives), and whether it may have
  // been sent before a restart (its first PUBLISH then carries DUP).
  bool maybe_sent = false;
  uint16_t packet_id = 0;
  uint64_t seq = 0;
  std::vector<uint32_t> subscription_ids;
};

class Session final {
 public:
  static constexpr uint32_t kNeverExpires = 0xFFFFFFFF;

  Session(SessionHost* host, std::string client_id);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Its key: the client id behind its virtual broker's scope, if any (src/mqtt/scope.h).
  const std::string& client_id() const { return _client_id; }
  // The client id as its client wrote it, and its broker's scope ("": the default).
  std::string_view visible_id() const { return mqtt::unscoped(_client_id); }
  std::string_view scope() const { return mqtt::scope_of(_client_id); }
  std::string_view scope_name() const { return mqtt::scope_name(_client_id); }
  // Who it is to ACLs and hooks: names as its client wrote them.
  ClientIdentity identity() const { return {visible_id(), username.view(), proven != nullptr, grant()}; }
  // The last connection's topic grant; nullptr: none (the common case, one test).
  const TopicGrant* grant() const {
    return proven != nullptr && proven->grant ? &*proven->grant : nullptr;
  }
  ClientLink* client() const { return _client; }
  // Filter → options, in a set of records keyed by the filter: packed keys (8 bytes and
  // one exact allocation each, where a std::string is 32 and a second allocation past 15
  // characters), since a session may hold thousands. Searched by string_view.
  struct Subscription {
    PackedString filter;
    mutable SubscriptionOptions options;  // not part of the key
  };
  struct SubscriptionHash {
    using is_transparent = void;
    size_t operator()(std::string_view f) const { return PackedStringHash{}(f); }
    size_t operator()(const Subscription& s) const { return PackedStringHash{}(s.filter); }
  };
  struct SubscriptionEq {
    using is_transparent = void;
    static std::string_view f(std::string_view v) { return v; }
    static std::string_view f(const Subscription& s) { return s.filter.view(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return f(a) == f(b);
    }
  };
  using Subscriptions = absl::flat_hash_set<Subscription, SubscriptionHash, SubscriptionEq>;
  // Filter → options; allocated at the first subscription (an idle session has none).
  Subscriptions& subscriptions() {
    if (_subscriptions == nullptr) {
      _subscriptions = std::make_unique<Subscriptions>();
    }
    return *_subscriptions;
  }
  bool has_subscriptions() const { return _subscriptions != nullptr && !_subscriptions->empty(); }
  // Its subscriptions sorted by filter: where their order shows (the route changes and
  // counts mailed to other shards, the log's records), not the hash table's, which absl
  // salts with the table's own address — a run would follow the heap's layout and not
  // replay. Valid until the set changes.
  std::vector<const Subscription*> subscriptions_in_order() const;
  // Nothing could be sent to its client: no subscription, nothing in flight or queued.
  bool empty() const { return !has_subscriptions() && _inflight.empty() && _queue.empty(); }
  const Subscriptions* subscriptions_if_any() const { return _subscriptions.get(); }

  uint64_t id = 0;               // unique on its shard; names it in mail
  uint64_t away_ticket = 0;      // lent by its home to another shard (session_table.h)
  base::OptionalString username;  // of the last connection (for read checks)
  // What the last connection's credential proved; nullptr: nothing (anonymous, or a
  // username merely claimed).
  std::unique_ptr<const ProvenIdentity> proven;
  uint32_t expiry_interval = 0;  // seconds after the connection ends
  // Its shard's log holds it (session_journal.h): persistent, at its home. Such a session
  // never rehomes (its records stay in its home's log).
  bool durable = false;
  // Durable: the batch of the newest record the journal appended for it (its bookkeeping).
  mutable uint64_t log_ticket = 0;
  // Durable: the batch holding the end of its newest full image (the records that make it
  // exist after a restart: when it became durable, or was written whole again).
  mutable uint64_t image_ticket = 0;

  // Retained scans (scan_cut.h). From a SUBSCRIBE that owes retained messages until its
  // SUBACK leaves — its window, one route round trip to the other shards — the retained
  // messages other shards route here are noted as they reach the session: the cut cannot
  // tell, for those, whether they came live. Outside every window nothing is noted, and
  // the notes are forgotten once the window's scans are done. Only messages published
  // with RETAIN can be in the store, so only they are noted. At most kMaxLiveIds: past
  // that (counted in retained_scan_ids_full) a message of the window that the scan also
  // finds may come twice, which takes more than 65,536 retained messages from other
  // shards reaching one session between its SUBSCRIBE and its SUBACK.
  static constexpr size_t kMaxLiveIds = 65536;
  uint32_t scan_windows = 0;  // SUBACKs owing retained messages, held
  uint32_t active_scans = 0;  // scans running (RetainedRouter)
  void note_live(const Message* message) {
    if (scan_windows == 0 || !message->retain()) {
      return;
    }
    if (_live_ids == nullptr) {
      _live_ids = std::make_unique<absl::flat_hash_set<std::pair<uint16_t, uint64_t>>>();
    }
    if (_live_ids->size() < kMaxLiveIds) {
      _live_ids->insert({message->origin(), message->seq()});
    } else if (!_live_ids_full) {
      _live_ids_full = true;
      _host->stats().retained_scan_ids_full++;
    }
  }
  bool got_live(const Message* message) const {
    return _live_ids != nullptr && _live_ids->contains({message->origin(), message->seq()});
  }
  // A window closed (its SUBACK left, or will never) or a scan ended.
  void close_scan_window() {
    PG_ASSERT(scan_windows > 0);
    --scan_windows;
    forget_live_if_done();
  }
  void end_scan() {
    PG_ASSERT(active_scans > 0);
    --active_scans;
    forget_live_if_done();
  }

  // Moved, with its connection, to the shard `host` runs (rehoming: a publisher with
  // nothing in flight, no subscriptions and no timer armed).
  void rehome(SessionHost* host) {
    PG_ASSERT(_inflight.empty());
    PG_ASSERT(_queue.empty());
    PG_ASSERT(_offline == nullptr);
    _host = host;
  }

  // Connection life.
  void attach(ClientLink* client, uint16_t window);
  void detach();
  // Sends what the new connection is owed: inflight again (DUP / PUBREL), then the queue.
  void resume();

  // Outbound: send now if a window slot is free, else queue (or drop when full).
  void deliver(Delivery delivery);
  void on_puback(uint16_t packet_id);
  void on_pubrec(uint16_t packet_id);
  // PUBREC with an error reason: the client refused it; the QoS 2 flow ends.
  void on_pubrec_refused(uint16_t packet_id);
  void on_pubcomp(uint16_t packet_id);
  // Durable: the release of `packet_id` is on disk: its PUBREL may go.
  void release_written(uint16_t packet_id);
  // Durable: a batch was reported; PUBLISHes held for it may go.
  void log_caught_up();

  // Inbound QoS 2: true if `packet_id` is new (route the message), false if a resend.
  // Returns nullopt when the id set is full (Receive Maximum exceeded).
  std::optional<bool> begin_inbound_qos2(uint16_t packet_id, uint16_t limit);
  // Its PUBREC (success) goes out: every write the message's routing caused is done, here
  // and on the shards it went to. Only now is the id written to a durable session's log:
  // an id the log holds means "routed, durably", so that a resend after a restart is
  // answered without routing it again and nothing is lost. (A crash before this point
  // leaves no id: the publisher's resend is routed again, and a subscriber that had the
  // first copy may get the message twice.)
  void answered_inbound_qos2(uint16_t packet_id);
  // `packet_id` awaits PUBREL and its PUBREC has not left yet (its connection ended
  // first): a resend's PUBREC must wait for the first routing's writes.
  bool inbound_unanswered(uint16_t packet_id) const {
    if (_inbound_qos2 == nullptr) {
      return false;
    }
    auto it = find_inbound(packet_id);
    return it != _inbound_qos2->end() && (*it & kInboundAnswered) == 0;
  }
  bool release_inbound_qos2(uint16_t packet_id);

  // While no connection is attached and the session goes on: its expiry, and the will
  // of the last connection held while its delay runs, with the one timer for both
  // (whichever is due first). Allocated when the connection ends; an attached session
  // carries none of it.
  struct Offline final : io::Timer {
    explicit Offline(Session& owner) : session(owner) {}
    ~Offline() override;
    void on_timer() override;
    Session& session;
    Message* will = nullptr;
    uint64_t will_due_ms = 0;    // 0: no will waiting
    uint64_t expiry_due_ms = 0;  // 0: never expires
  };
  Offline& offline();
  Offline* offline_if_any() { return _offline.get(); }
  const Offline* offline_if_any() const { return _offline.get(); }
  // The will, due at `due_ms` (a will already held is dropped).
  void set_will(Message* will, uint64_t due_ms);
  Message* take_will();

  // Persistence (durable sessions). The packet id a numbered delivery is sent under: the
  // same after a restart, so that a QoS 2 receiver recognises a PUBLISH it already has.
  static uint16_t packet_id_of(const Delivery& delivery) {
    return delivery.packet_id != 0 ? delivery.packet_id
                                   : static_cast<uint16_t>((delivery.seq - 1) % 65535 + 1);
  }
  // Numbers every delivery it holds that has no number (it became durable now), fixing
  // the packet id of those in flight.
  void number_deliveries();
  // `visit(const Delivery&, bool released, uint16_t packet_id)` for each delivery held,
  // in flight first, in order.
  template <typename Visit>
  void for_each_delivery(Visit&& visit) const {
    for (const Inflight& entry : _inflight) visit(entry.delivery, entry.released, entry.packet_id);
    for (const Delivery& delivery : _queue) visit(delivery, false, packet_id_of(delivery));
  }
  // Inbound QoS 2 ids, each with kInboundAnswered once its PUBREC went out (and so is in
  // the log of a durable session).
  static constexpr uint32_t kInboundAnswered = 0x10000;
  const std::vector<uint32_t>* inbound_qos2() const { return _inbound_qos2.get(); }
  // Start-up: a delivery the log held (numbered, in seq order), and a QoS 2 id awaiting
  // PUBREL. A released one goes in flight (PUBREL again on resume); the others queue.
  void restore_delivery(Delivery delivery, bool released);
  void restore_inbound_qos2(uint16_t packet_id);

  size_t queued() const { return _queue.size(); }
  size_t inflight() const { return _inflight.size(); }
  // QoS 1/2 bytes it holds: in flight and not yet acknowledged, and queued.
  uint64_t held_bytes() const { return _held_bytes; }
  // Connected, with less than `out_bytes` waiting to be written to its connection and
  // fewer than `queued` messages queued.
  bool has_room_for(size_t out_bytes, size_t queued) const;

 private:
  struct Inflight {
    uint16_t packet_id;
    bool released;  // PUBREC received, PUBREL sent: waiting for PUBCOMP
    Delivery delivery;
    bool release_pending = false;  // durable: PUBREL waits for the release's write
    // Durable: its PUBLISH waits until the log is written through this batch (0: not
    // held; see start_send).
    uint64_t send_after = 0;
  };

  // Sends a PUBLISH put in flight, or holds it (durable sessions, see session.cc).
  void start_send(Inflight& entry);
  bool window_open() const { return _client != nullptr && _inflight.size() < _window; }
  // The clock is read only for messages that carry an expiry.
  bool expired(const Message& message) const {
    return message.has_expiry() && message.expiry_left(_host->now_ms()) == 0u;
  }
  uint16_t allocate_packet_id();
  // The packet id `delivery` goes out under, or 0 when that id is still in flight.
  uint16_t packet_id_for(const Delivery& delivery);
  DeliveryLog& log() const {
    PG_DASSERT(durable && _host->delivery_log() != nullptr);
    return *_host->delivery_log();
  }
  void send_publish(Inflight& entry, bool dup);
  void pump();
  LazyDeque<Inflight>::iterator find_inflight(uint16_t packet_id);
  void release(Delivery& delivery);
  // Held bytes: what a message counts, whether one more may be held (dropping and
  // counting it if not), and the accounting as messages are taken and let go.
  static uint64_t held_size(const Message& message) {
    return message.payload().size() + message.topic().size();
  }
  bool admit(uint64_t size);
  void hold(uint64_t size);
  void let_go(Delivery& delivery);  // release() of a held delivery

  SessionHost* _host;
  std::string _client_id;
  void forget_live_if_done() {
    if (scan_windows == 0 && active_scans == 0) {
      _live_ids.reset();
      _live_ids_full = false;
    }
  }

  ClientLink* _client = nullptr;
  uint16_t _window = 0;
  std::unique_ptr<Subscriptions> _subscriptions;
  LazyDeque<Inflight> _inflight;  // send order
  LazyDeque<Delivery> _queue;
  size_t _queue_bytes = 0;
  uint64_t _held_bytes = 0;
  uint16_t _next_packet_id = 1;
  uint64_t _last_seq = 0;  // durable: the last delivery numbered
  // Ids may be in flight ahead of _next_packet_id (it wrapped, or numbered deliveries
  // use theirs): allocation checks each against those in flight.
  bool _packet_ids_wrapped = false;
  uint32_t _sends_held = 0;  // in-flight entries whose PUBLISH waits for the log
  bool _over_bytes = false;  // an episode over max_session_bytes is running (logged once)
  bool _live_ids_full = false;  // kMaxLiveIds reached since the notes were last forgotten
  // Ids awaiting PUBREL, if any (with kInboundAnswered): at most our Receive Maximum.
  std::unique_ptr<std::vector<uint32_t>> _inbound_qos2;
  std::vector<uint32_t>::iterator find_inbound(uint16_t packet_id) const {
    return std::find_if(_inbound_qos2->begin(), _inbound_qos2->end(),
                        [&](uint32_t e) { return (e & 0xFFFF) == packet_id; });
  }
  // (origin, seq) of retained messages noted in a window (note_live)
  std::unique_ptr<absl::flat_hash_set<std::pair<uint16_t, uint64_t>>> _live_ids;
  std::unique_ptr<Offline> _offline;
};

}  // namespace peregrine::broker
