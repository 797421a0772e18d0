#include "src/broker/shard_broker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/base/owner.h"
#include "src/broker/client.h"
#include "src/broker/client_connection.h"
#include "src/broker/client_limits.h"
#include "src/broker/durable_records.h"
#include "src/broker/publish_batch.h"
#include "src/broker/shard_for.h"
#include "src/mqtt/codec.h"
#include "src/mqtt/scope.h"
#include "src/net/listener.h"

namespace peregrine::broker {

namespace {


}  // namespace

// Accepts on one listener of this shard. When the process runs out of descriptors the
// ring stops accepting; this waits kAcceptPauseMs and listens again, so a full broker
// neither spins nor stops accepting for good.
class ShardBroker::ListenerAcceptor final : public io::Acceptor, public io::Timer {
 public:
  static constexpr uint64_t kAcceptPauseMs = 100;

  ListenerAcceptor(ShardBroker* broker, int fd, uint16_t listener)
      : _broker(broker), _fd(fd), _listener(listener) {}

  // The listener's transport is looked up per accept: a reload may have changed it.
  void on_accept(int fd) override {
    _broker->accept(fd, _broker->transport_of(_listener), _listener);
  }
  void on_accept_paused(int error) override {
    _broker->stats().accept_paused++;
    PG_WARN("accepting paused for %llums: %s", static_cast<unsigned long long>(kAcceptPauseMs),
            strerror(error));
    if (!_broker->stopping()) {
      _broker->wheel().arm(*this, _broker->now_ms() + kAcceptPauseMs);
    }
  }
  void on_timer() override {
    if (!_broker->stopping()) {
      _broker->ring().listen(_fd, this);
    }
  }
  int fd() const { return _fd; }

 private:
  ShardBroker* _broker;
  int _fd;
  uint16_t _listener;
};

uint64_t ShardBroker::connection_key(ClientConnection* const& connection) {
  return connection->id();
}

ShardBroker::ShardBroker(const BrokerConfig& config, std::vector<ShardListener> listeners)
    : BrokerPort(config), _listeners(std::move(listeners)) {
  if (getrandom(&_id_salt, sizeof _id_salt, 0) != sizeof _id_salt) {
    _id_salt = static_cast<uint64_t>(getpid()) * 0x9E3779B97F4A7C15ULL;
  }
}

ShardBroker::~ShardBroker() {
  PG_ASSERT(_clients.empty());
  for (auto& listener : _listeners) {
    if (listener.fd >= 0) {
      ::close(listener.fd);
    }
  }
  for (ClientConnection* connection : _parked_connects) {
    mail::Migrate{connection}.discard();
  }
  // Sessions go before the owners whose entries point at them.
  _fan_out.reset();
  _retained.reset();
  _shared.reset();
  _routes.reset();
  _sessions.reset();
}

void ShardBroker::on_start(shard::Shard& shard) {
  _shard = &shard;
  _overflow_size = &shard.overflow_size_counter();
  PG_ASSERT(shard.count() <= kMaxShards);
  _outbox = std::make_unique<Outbox>(shard, _stats);
  if (_config.limits.max_subscribers_per_filter != 0) {
    _filter_counts = std::make_unique<FilterCounts>();
  }
  _held.limit = _config.limits.held_bytes_budget / shard.count();
  _sessions = std::make_unique<SessionTable>(shard.id(), shard.count(), *this, *this);
  _routes = std::make_unique<RoutingTable>(*_outbox);
  _arrived.assign(shard.count(), {});
  _shared = std::make_unique<SharedGroups>(*_outbox, *_routes, _stats);
  _retained = std::make_unique<RetainedRouter>(*_outbox, *_sessions, _stats, _config.limits);
  _fan_out = std::make_unique<FanOut>(*_routes, _stats, _config.authorizer, shard.id());
  _rehome = std::make_unique<RehomePlanner>(*_outbox, _config.rehome_publishers);
  _control = std::make_unique<ControlPlane>(shard.id(), shard.count(), *_outbox, *this,
                                            _config.control);
  if (shard.id() == ControlPlane::kLeader && _config.control.store != nullptr) {
    io::Ring* leader = &ring();
    _config.control.store->set_wake([leader] { leader->wake(); });
  }
  if (authenticator() != nullptr && !_config.control.broker_keys.empty()) {
    authenticator()->use_broker_keys(_control->public_keys());
  }
  if (_config.durable_log != nullptr) {
    open_log();
  }
  _reclaimer = std::make_unique<MessageReclaimer>(shard.id(), shard.count());
  _reclaimer->install();
  for (ShardListener& listener : _listeners) {
    if (listener.serves_pages()) {
      listen_on(listener);  // /readyz answers (503) while the log is replayed
    }
  }
  if (_log == nullptr) {
    start_listening();
  } else {
    tell_recovered();  // listening waits for every shard's restored routes
  }
  _sys = std::make_unique<SysPublisher>(*this, _config.sys);
  _sys->start();
  if (shard.id() == 0) {
    _trimmer = std::make_unique<MemoryTrimmer>(
        wheel(), _stats,
        [this] { return std::max(_shard->busy_permille(), _rehome->busiest_peer(now_ms())); },
        [this] { return now_ms(); });
    _trimmer->start();
  }
}

void ShardBroker::publish_internal(const std::string& topic, std::string_view payload,
                                   bool retain) {
  mqtt::Publish publish;
  publish.topic = topic;
  publish.payload = mqtt::as_bytes(payload);
  publish.retain = retain;
  Message* message = stamped(Message::create(publish, 0, now_ms()));
  if (retain) {
    message->ref();
    store_retained(message);
  }
  route(message);
}

void ShardBroker::send_sys_snapshot(SysSnapshot* snapshot) {
  _outbox->post(0, mail::SysSnapshotMail{snapshot});
}

uint16_t ShardBroker::home_shard(std::string_view client_id) const {
  return _sessions->home(client_id);
}

bool ShardBroker::connects_here(std::string_view client_id) const {
  if (const Session* session = _sessions->find(client_id)) {
    const ClientLink* holder = session->client();
    return holder == nullptr || !holder->rehoming();
  }
  return _sessions->is_home(client_id) && !_sessions->away(client_id).has_value();
}

std::string ShardBroker::assign_client_id() {
  char id[40];
  std::snprintf(id, sizeof id, "pg-%016llx",
                static_cast<unsigned long long>(
                    _id_salt ^ ((uint64_t{shard_id()} << 48) | ++_assigned_ids)));
  return id;
}

// ---- connections -------------------------------------------------------------------------

void ShardBroker::accept(int fd, const net::TransportConfig* transport, uint16_t listener) {
  if (_stopping && !_pages_open) {
    ::close(fd);
    return;
  }
  const net::PeerAddress peer = net::peer_address(fd);
  if (ConnectionSlots* slots = _config.slots;
      slots != nullptr && !slots->addresses().admit_new(AddressCounts::key_of(peer),
                                                         now_ms() / 1000)) {
    // A flood from one address costs an accept and a close, nothing more.
    _stats.address_flood_closed++;
    PG_DEBUG("connection from %s closed: over max_new_connections_per_address",
             peer.text().c_str());
    ::close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto* client = new ClientConnection(this, fd, peer, transport, listener);
  _clients.insert(client);
  _stats.connections_accepted++;
  client->begin();
}

void ShardBroker::mark_dirty(net::Connection* connection) {
  if (!connection->dirty) {
    connection->dirty = true;
    _dirty.push_back(connection);
  }
}

void ShardBroker::release(net::Connection* connection) {
  auto* client = static_cast<ClientConnection*>(connection);
  if (client->dirty) {
    std::replace(_dirty.begin(), _dirty.end(), connection, static_cast<net::Connection*>(nullptr));
  }
  _clients.erase(client);
  delete client;
}

net::OutQueue* ShardBroker::acquire_out_queue() {
  if (_free_queues.empty()) {
    return new net::OutQueue();
  }
  net::OutQueue* queue = _free_queues.back().release();
  _free_queues.pop_back();
  return queue;
}

void ShardBroker::release_out_queue(net::OutQueue* queue) {
  PG_DASSERT(!queue->has_pending());
  PG_DASSERT(!queue->has_inflight());
  if (_free_queues.size() < kMaxPooledQueues &&
      queue->retained_bytes() <= kMaxPooledQueueBytes) {
    _free_queues.emplace_back(queue);
  } else {
    delete queue;
  }
}

bool ShardBroker::begin_linger() {
  if (_lingering >= _config.limits.max_lingering) {
    _stats.linger_refused++;
    return false;
  }
  _lingering++;
  _stats.linger_started++;
  return true;
}

void ShardBroker::end_linger() {
  PG_ASSERT(_lingering > 0);
  _lingering--;
}

void ShardBroker::count_transport_event(net::TransportEvent event) {
  switch (event) {
    case net::TransportEvent::kTlsHandshakeFailed: _stats.tls_handshake_failed++; break;
    case net::TransportEvent::kTlsHandshakeTimeout: _stats.tls_handshake_timeout++; break;
    case net::TransportEvent::kTlsError: _stats.tls_error++; break;
    case net::TransportEvent::kWsUpgradeRefused: _stats.ws_upgrade_refused++; break;
    case net::TransportEvent::kWsProtocolError: _stats.ws_protocol_error++; break;
    case net::TransportEvent::kHttpRefused: _stats.http_refused++; break;
    case net::TransportEvent::kCount: break;
  }
}

void ShardBroker::detached(net::Connection* connection) {
  auto* client = static_cast<ClientConnection*>(connection);
  if (client->dirty) {
    std::replace(_dirty.begin(), _dirty.end(), connection, static_cast<net::Connection*>(nullptr));
    client->dirty = false;
  }
  _clients.erase(client);
  if (client->client().rehoming()) {
    rehome_out(client);
    return;
  }
  _stats.migrations++;
  forward_connect(client);
}

void ShardBroker::forward_connect(ClientConnection* client) {
  const std::string& client_id = client->client().client_id();
  if (const Session* session = _sessions->find(client_id)) {
    const ClientLink* holder = session->client();
    if (holder != nullptr && holder->rehoming()) {
      _parked_connects.push_back(client);  // goes where the session goes (release_parked)
      return;
    }
    _outbox->post(shard_id(), mail::Migrate{client});  // the session stayed after all
    return;
  }
  if (const std::optional<uint16_t> away = _sessions->away(client_id)) {
    _stats.connects_forwarded++;
    PG_DEBUG("connect forwarded client_id=%s to=%u", mqtt::printable(client_id).c_str(), *away);
    _outbox->post(*away, mail::Migrate{client});
    return;
  }
  // Its home; or, on the home, here: the session it was sent for ended meanwhile.
  _outbox->post(home_shard(client_id), mail::Migrate{client});
}

void ShardBroker::release_parked(std::string_view client_id, uint16_t to) {
  size_t kept = 0;
  for (ClientConnection* client : _parked_connects) {
    if (client->client().client_id() == client_id) {
      _stats.connects_forwarded += to != shard_id();
      _outbox->post(to, mail::Migrate{client});
    } else {
      _parked_connects[kept++] = client;
    }
  }
  _parked_connects.resize(kept);
}

void ShardBroker::follow_traffic(Client* from, uint64_t shards) {
  if (!_rehome->enabled()) {
    return;
  }
  const uint16_t target = _rehome->note(from->publish_run(), shards, from->last_rx_ms());
  if (target == kNoShard) {
    return;
  }
  Session* session = from->session();
  if (from->rehoming() || !from->open() || from->input_paused() || session == nullptr) {
    return;
  }
  // A publisher only: nothing of it is tied to this shard's trie, scans or acks.
  if (session->durable || session->has_subscriptions() || session->inflight() != 0 ||
      session->queued() != 0 ||
      session->active_scans != 0 || session->scan_windows != 0 || _shared->any() ||
      _routes->holds_suback_for(from->id())) {
    return;
  }
  if (_rehome->admit(target, home_shard(session->client_id()), now_ms(),
                     _shard->busy_permille())) {
    from->begin_rehome(target);
  }
}

void ShardBroker::rehome_out(ClientConnection* client) {
  const uint16_t target = client->client().rehome_target();
  Session* session = client->client().session();
  const std::string client_id = session->client_id();
  _sessions->release(session);  // the session travels with its client
  count_client(session->scope_name(), -1);
  release_token(&client->client());
  if (_sessions->is_home(client_id)) {
    session->away_ticket = _sessions->lend(client_id, target);
  }  // else it goes home, which forgets that it was away when it arrives (rehome_in)
  _stats.sessions_rehomed++;
  PG_DEBUG("client rehomed client_id=%s from=%u to=%u", mqtt::printable(client_id).c_str(),
           shard_id(), target);
  // Its messages sent from here are ahead of it in this mailbox, so the shard it joins
  // delivers them before any it sends from there. Those batched for a third shard leave
  // now too: sealed at the turn's end, they could trail what it sends there from its new
  // shard.
  _outbox->seal_all();
  _outbox->post(target, mail::Rehome{client});
  release_parked(client_id, target);
}

void ShardBroker::rehome_in(ClientConnection* client) {
  Session* session = client->client().session();
  if (_sessions->is_home(session->client_id())) {
    // Back home: connects arriving from now on are its own here. One forwarded to where
    // it was meanwhile comes back behind it in that shard's mailbox.
    _sessions->returned(session->client_id());
    session->away_ticket = 0;
  }
  session->rehome(this);
  _sessions->insert(std::unique_ptr<Session>(session));
  _clients.insert(client);
  count_client(session->scope_name(), 1);
  credential_in_use(&client->client());
  if (_stopping) {
    client->attach(this);
    client->client().rehome_done();
    client->close_now();
    return;
  }
  client->adopt_rehomed(this);
  // Revoked, or its key deleted, while it travelled (the change reached this shard
  // first): closed now.
  if (session->proven != nullptr && !session->proven->token_id.empty() &&
      token_revoked(session->proven->token_id)) {
    disconnect_token_holders(session->proven->token_id);
  }
  if (session->proven != nullptr && !session->proven->broker_key_id.empty() &&
      !_control->has_broker_key(session->proven->broker_key_id)) {
    disconnect_key_holders(session->proven->broker_key_id);
  }
}

void ShardBroker::adopt(ClientConnection* client) {
  _clients.insert(client);
  if (_stopping) {
    client->attach(this);
    client->close_now();
    return;
  }
  client->adopt(this);
}

void ShardBroker::paused(Client* client) {
  _stats.input_paused++;
  // It publishes faster than the other shards take its messages: moving it would only
  // trade this back-pressure for the subscribers' queue bounds.
  client->publish_run() = {};
  _paused_clients.push_back(client->id());
}

void ShardBroker::resume_at_turn_end(Client* client) {
  _paused_clients.push_back(client->id());
}

void ShardBroker::on_turn_begin() {
  _reclaimer->install();
  _control->on_turn_begin();
}

void ShardBroker::start_listening() {
  if (_listening || _stopping) {
    return;
  }
  _listening = true;
  std::vector<Message*> wills;
  wills.swap(_deferred_wills);
  for (Message* will : wills) {
    publish_will(will);
  }
  for (ShardListener& listener : _listeners) {
    listen_on(listener);
  }
  _resume_held = true;  // HTTP requests that came while this shard started (turn's end)
  if (shard::ShardPulse* pulse = _shard->pulse()) {
    pulse->listening.fetch_add(1, std::memory_order_release);  // main says READY=1
  }
}

void ShardBroker::change_listeners(std::vector<ShardListener> added,
                                   const std::vector<uint16_t>& removed,
                                   const std::vector<ShardListener>& changed) {
  for (const uint16_t index : removed) {
    auto it = std::find_if(_listeners.begin(), _listeners.end(),
                           [&](const ShardListener& l) { return l.index == index; });
    if (it == _listeners.end()) {
      continue;
    }
    close_listener(*it);
    _listeners.erase(it);
  }
  for (const ShardListener& change : changed) {
    auto it = std::find_if(_listeners.begin(), _listeners.end(),
                           [&](const ShardListener& l) { return l.index == change.index; });
    if (it == _listeners.end()) {
      continue;
    }
    it->url = change.url;
    it->transport = change.transport;
    it->broker = change.broker;
    // It may have become (or stopped being) a page listener while the log is replayed.
    if (it->serves_pages() && !_stopping) {
      listen_on(*it);
    } else if (!it->serves_pages() && !_listening) {
      stop_accepting(*it);  // no MQTT before recovery is done; start_listening resumes it
    }
  }
  for (ShardListener& listener : added) {
    if (_stopping) {
      ::close(listener.fd);
      continue;
    }
    _listeners.push_back(listener);
    if (_listening || listener.serves_pages()) {
      listen_on(_listeners.back());
    }
  }
}

std::string_view ShardBroker::listener_broker(uint16_t index) const {
  for (const ShardListener& listener : _listeners) {
    if (listener.index == index) {
      return listener.broker;
    }
  }
  return {};
}

const net::TransportConfig* ShardBroker::transport_of(uint16_t index) const {
  for (const ShardListener& listener : _listeners) {
    if (listener.index == index) {
      return listener.transport;
    }
  }
  return nullptr;
}

void ShardBroker::close_listener(ShardListener& listener) {
  if (listener.fd < 0) {
    return;
  }
  stop_accepting(listener);
  ::close(listener.fd);
  listener.fd = -1;
}

void ShardBroker::stop_accepting(ShardListener& listener) {
  if (!listener.accepting) {
    return;
  }
  ring().unlisten(listener.fd);
  listener.accepting = false;
  for (const auto& acceptor : _acceptors) {
    if (acceptor->fd() == listener.fd) {
      wheel().cancel(*acceptor);  // an accept pause's retry; the acceptor stays (the ring
    }                             // may still complete its cancelled accept)
  }
}

void ShardBroker::listen_on(ShardListener& listener) {
  if (listener.accepting || listener.fd < 0) {
    return;
  }
  listener.accepting = true;
  // A fresh acceptor each time, even for a listener that accepted before (a reload
  // during recovery): the old one's cancelled accept may still complete to it.
  _acceptors.push_back(std::make_unique<ListenerAcceptor>(this, listener.fd, listener.index));
  ring().listen(listener.fd, _acceptors.back().get());
}

void ShardBroker::on_turn_end() {
  // Admin answers due (from mail, a call, or a finished save) go out with this turn's
  // output: given here, never inside the HTTP bridge's own call.
  if (_control->has_answers()) {
    _control->flush_answers();
  }
  if (!_purges.empty()) {
    purge_slice();  // a deleted virtual broker's state, a slice a turn
  }
  if (!_reports_done.empty()) {
    finish_reports();
  }
  if (_pages_open && _clients.size() + _parked_connects.size() != _pages_checked_at) {
    if (only_pages_left()) {
      close_pages();  // every MQTT client is gone: the drain is over
    } else {
      _pages_checked_at = _clients.size() + _parked_connects.size();
    }
  }
  if (_resume_held) {
    _resume_held = false;
    std::vector<ClientConnection*> waiting;
    for (ClientConnection* connection : _clients) {
      if (connection->speaks_http_only()) {
        waiting.push_back(connection);
      }
    }
    for (ClientConnection* connection : waiting) {
      connection->resume_held_request();  // may open a session, even move the connection
    }
  }
  _history.maybe_sample(now_ms(), _stats);
  if (!_paused_clients.empty() && !backpressured()) {
    std::vector<uint64_t> paused;
    paused.swap(_paused_clients);
    for (uint64_t id : paused) {
      if (ClientConnection* connection = find_client(id)) {
        connection->client().resume_after_backpressure();
      }
    }
  }
  // Mail this shard sent itself (retained scans it owns, connections) is handled once a
  // turn, like that from other shards.
  _outbox->take_self_mail([this](const shard::Envelope& envelope) { on_envelope(envelope); });
  _retained->resume_parked();
  // Everything this turn made durable goes out in one write (group commit).
  if (_log != nullptr) {
    flush_log();
    tell_recovered();
  }
  _rehome->tell_load(now_ms(), _shard->busy_permille());
  std::vector<net::Connection*> dirty;
  dirty.swap(_dirty);
  for (net::Connection* connection : dirty) {
    if (connection != nullptr) {
      connection->dirty = false;
      connection->flush();
    }
  }
  dirty.clear();
  if (_dirty.empty()) {
    _dirty.swap(dirty);  // keep the capacity
  }
  for (uint16_t home = 0; home < _shard->count(); ++home) {
    if (Message* dead = _reclaimer->take(home)) {  // never this shard's: freed where they die
      _outbox->post(home, mail::Reclaim{dead});
    }
  }
  _outbox->seal_all();
}

// ---- sessions ------------------------------------------------------------------------------

Session* ShardBroker::open_session(Client* client, const mqtt::Connect& connect,
                                   bool* present) {
  const SessionTable::Opened opened =
      _sessions->open(client, client->client_id(), connect.clean_start,
                      connect.properties.receive_maximum.value_or(65535));
  if (opened.took_over) {
    PG_INFO("client id %s taken over by %s", mqtt::printable(client->client_id()).c_str(),
            client->peer().c_str());
  }
  Session* session = opened.session;
  session->username =
      connect.username ? base::OptionalString(*connect.username) : base::OptionalString();
  count_client(session->scope_name(), 1);
  _sys->client_connected(client->client_id());
  *present = opened.present;
  return session;
}

void ShardBroker::session_opened(Session* session) {
  if (_journal != nullptr) {
    _journal->connected(*session);
  }
}

void ShardBroker::session_ending(Session* session) {
  if (_journal != nullptr) {
    _journal->ended(*session);
  }
}

void ShardBroker::client_gone(Client* client) {
  Session* session = client->session();
  if (session == nullptr) {
    return;
  }
  if (client->rehoming()) {
    // Closed before it left: the session stays (or ends) here, and connections parked
    // for it are taken here.
    client->rehome_done();
    const std::string client_id = session->client_id();
    client_gone(client);
    release_parked(client_id, shard_id());
    return;
  }
  count_client(session->scope_name(), -1);
  release_token(client);
  _sys->client_disconnected(client->client_id());
  if (_journal != nullptr && !client->taken_over()) {
    _journal->disconnected(*session);  // the new connection's record follows a takeover
  }
  const uint32_t will_delay = client->will_delay();
  _sessions->connection_gone(session, client->take_will(), will_delay, client->taken_over());
}

void ShardBroker::session_timer(Session* session) { _sessions->timer(session); }

// ---- control plane -------------------------------------------------------------------------

void ShardBroker::admin_call(net::Connection* connection, const http::AdminCall& call) {
  _control->call(static_cast<ClientConnection*>(connection)->id(), call);
}

void ShardBroker::answer_admin(uint64_t waiter, int status, std::string body) {
  if (ClientConnection* connection = find_client(waiter)) {
    connection->answer_admin(status, body);
  }
}

void ShardBroker::credential_in_use(Client* client) {
  const Session* session = client->session();
  if (session == nullptr || session->proven == nullptr || session->proven->token_id.empty()) {
    return;
  }
  const std::string& token_id = session->proven->token_id;
  if (_held_tokens.emplace(client, token_id).second) {
    _token_holders[token_id].push_back(client);
  }
}

void ShardBroker::release_token(Client* client) {
  const auto held = _held_tokens.find(client);
  if (held == _held_tokens.end()) {
    return;
  }
  const auto holders = _token_holders.find(held->second);
  PG_ASSERT(holders != _token_holders.end());
  std::erase(holders->second, client);
  if (holders->second.empty()) {
    _token_holders.erase(holders);
  }
  _held_tokens.erase(held);
}

void ShardBroker::disconnect_token_holders(std::string_view token_id) {
  const auto holders = _token_holders.find(std::string(token_id));
  if (holders == _token_holders.end()) {
    return;
  }
  // Each DISCONNECT closes its connection; client_gone() releases it from the index
  // later, so the list is copied first.
  const std::vector<Client*> clients = holders->second;
  for (Client* client : clients) {
    _stats.auth_revoked_disconnects++;
    PG_DEBUG("token revoked: closing client_id=%s", mqtt::printable(client->client_id()).c_str());
    client->disconnect(mqtt::ReasonCode::kAdministrativeAction, "token revoked");
  }
}

void ShardBroker::broker_keys_changed(const std::vector<BrokerKey>& keys,
                                      std::string_view removed_key) {
  if (authenticator() != nullptr) {
    authenticator()->use_broker_keys(keys);
  }
  if (!removed_key.empty()) {
    disconnect_key_holders(removed_key);
  }
}

void ShardBroker::disconnect_key_holders(std::string_view kid) {
  // Every token a broker key signs has a jti, so its holders are all in the token index;
  // collected first, as each DISCONNECT changes the index later.
  std::vector<Client*> holders;
  for (const auto& [client, token_id] : _held_tokens) {
    const Session* session = client->session();
    if (session != nullptr && session->proven != nullptr &&
        session->proven->broker_key_id == kid) {
      holders.push_back(client);
    }
  }
  // In connection order: the table's follows the clients' addresses.
  std::sort(holders.begin(), holders.end(),
            [](const Client* a, const Client* b) { return a->id() < b->id(); });
  for (Client* client : holders) {
    _stats.auth_revoked_disconnects++;
    PG_DEBUG("signing key deleted: closing client_id=%s",
             mqtt::printable(client->client_id()).c_str());
    client->disconnect(mqtt::ReasonCode::kAdministrativeAction, "signing key deleted");
  }
}

int64_t ShardBroker::wall_clock_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void ShardBroker::drop_subscription(Session* session, std::string_view filter) {
  remove_subscription(session, filter);
}

void ShardBroker::drop_ungranted(Session* session) {
  const ClientIdentity identity = session->identity();
  if (identity.grant == nullptr || !session->has_subscriptions()) {
    return;
  }
  std::vector<std::string> ungranted;
  for (const Session::Subscription* subscription : session->subscriptions_in_order()) {
    if (!grant_allows_subscribe(identity.grant, subscription->filter.view())) {
      ungranted.emplace_back(subscription->filter.view());
    }
  }
  for (const std::string& filter : ungranted) {
    if (_journal != nullptr) {
      _journal->unsubscribed(*session, filter);
    }
    remove_subscription(session, filter);
    session->subscriptions().erase(session->subscriptions().find(filter));
    _stats.subscribe_denied++;
    PG_DEBUG("subscription %s dropped: not granted to client_id=%s", filter.c_str(),
             mqtt::printable(session->client_id()).c_str());
  }
}

void ShardBroker::ended_away(uint16_t home, uint64_t ticket) {
  _outbox->post(home, mail::SessionGone{ticket});
}

void ShardBroker::publish_will(Message* will) {
  if (!_listening && _log != nullptr && !_stopping) {
    // A restored will due while the broker was down: once every shard has its routes.
    _deferred_wills.push_back(will);
    return;
  }
  _stats.wills_published++;
  stamped(will);  // made at its CONNECT, maybe on another shard: routed from here, now
  if (will->retain()) {
    will->ref();
    store_retained(will);
  }
  route(will);
}

// ---- publish -------------------------------------------------------------------------------

PublishOutcome ShardBroker::publish(Client* from, mqtt::Publish& publish,
                                    uint32_t answer_token) {
  _stats.messages_in++;
  if (mqtt::is_sys_topic(publish.topic)) {
    _stats.sys_publish_denied++;
    PG_DEBUG("PUBLISH to %.*s from %s dropped: $SYS is the broker's",
             static_cast<int>(publish.topic.size()), publish.topic.data(),
             mqtt::printable(from->client_id()).c_str());
    return {};
  }
  if (const std::string_view scope = from->scope(); !scope.empty()) [[unlikely]] {
    // A virtual broker's: routed in its own topic space from here on.
    _routing_topic.assign(scope).append(publish.topic);
    publish.topic = _routing_topic;
  }
  // QoS 0 for subscribers on the publisher's own shard only: matched first, such a
  // message is copied from the read buffer to them and never becomes a Message (no
  // allocation, one payload copy fewer, nothing to free later).
  const bool plain_qos0 = publish.qos == 0 && !publish.retain && !_shared->any() &&
                          !Message::carries_properties(publish.properties);
  if (plain_qos0) {
    FanOutPass& pass = _fan_out->match_publish(from->route_memo(), from->id(), publish.topic,
                                               0, false);
    const uint64_t shards = pass.shards;
    const uint64_t self = uint64_t{1} << shard_id();
    if ((shards & ~self) == 0 && _fan_out->deliver_in_place(pass, publish)) {
      _stats.published_in_place++;
      follow_traffic(from, shards);
      return {};
    }
    // Bound for one other shard only: a record in that shard's batch, no Message.
    if (shards != 0 && (shards & self) == 0 && (shards & (shards - 1)) == 0 &&
        publish.topic.size() + publish.payload.size() <= PublishBatch::kMaxRecordBody &&
        _outbox->append_to_batch(static_cast<uint16_t>(__builtin_ctzll(shards)), from->id(),
                                 publish.topic, publish.payload)) {
      follow_traffic(from, shards);
      return {};
    }
    route_matched(
        stamped(Message::create(publish, from->id(), now_ms(), hold_payload(publish))), pass);
    follow_traffic(from, shards);
    return {};
  }
  Message* message =
      stamped(Message::create(publish, from->id(), now_ms(), hold_payload(publish)));
  PublishOutcome outcome;
  if (publish.retain) {
    message->ref();
    outcome.retained = _retained->store(message, from->id(), answer_token);
  }
  FanOutPass& pass = _fan_out->match_publish(from->route_memo(), from->id(), message->routing_topic(),
                                             message->qos(), message->retain());
  const uint64_t shards = pass.shards;
  // With persistence the acknowledgement waits for what durable sessions here and on
  // the other shards it goes to write for it (and for its own QoS 2 state).
  const bool durable = _journal != nullptr && answer_token != 0 && publish.qos > 0;
  const uint32_t wait = durable ? next_wait_id() : 0;
  const uint32_t posted = route_matched(message, pass, wait);
  if (durable) {
    const uint64_t ticket = _journal->take_touched();
    if (posted != 0 || ticket != 0) {
      _waits[wait] = {from->id(), answer_token, posted + (ticket != 0 ? 1u : 0u), false};
      if (ticket != 0) {
        _log_waits.push_back({ticket, shard_id(), wait});
      }
      outcome.durable_later = true;
    }
  }
  follow_traffic(from, shards);  // a move waits for the answers this PUBLISH waits for
  return outcome;
}

io::RecvHold* ShardBroker::hold_payload(const mqtt::Publish& publish) {
  // Retained messages live on indefinitely: they would keep a receive buffer from the
  // ring for as long, so they are copied.
  if (publish.payload.size() < Message::kHoldPayloadFrom || publish.retain) {
    return nullptr;
  }
  io::RecvHold* hold = ring().hold_recv(publish.payload);
  if (hold != nullptr) {
    _stats.payloads_held++;
  }
  return hold;
}

uint32_t ShardBroker::route_matched(Message* message, FanOutPass& pass, uint32_t wait) {
  const uint16_t self = shard_id();
  uint32_t posted = 0;
  PG_DASSERT(message->origin() == self && message->seq() == _routed);  // stamped just now
  for (uint64_t shards = pass.shards, to = 0; shards != 0; ++to, shards >>= 1) {
    if ((shards & 1) == 0 || to == self) {
      continue;
    }
    message->ref();
    const mail::Publish publish{message, wait};
    if (!_outbox->post(static_cast<uint16_t>(to), publish)) {
      publish.discard();
      _stats.mailbox_dropped++;
    } else {
      posted++;
    }
  }
  _fan_out->deliver(pass, message);
  if (_shared->any()) {
    posted += _shared->route(message, wait);
  }
  message->unref();
  return posted;
}

// ---- subscriptions -------------------------------------------------------------------------

void ShardBroker::subscribe_now(Client* client, const mqtt::Subscribe& subscribe,
                                const std::vector<Quota>* quota) {
  Session* session = client->session();
  const bool v5 = client->version() == mqtt::ProtocolVersion::kV5;
  const uint32_t subscription_id = subscribe.properties.subscription_identifiers.empty()
                                       ? 0
                                       : subscribe.properties.subscription_identifiers[0];
  mqtt::Suback suback;
  suback.packet_id = subscribe.packet_id;
  RoutingTable::HeldSuback ack{client->id(), 0, {}, {}};
  std::string granted_json = "[";
  // Counted by their owners for this SUBSCRIBE and not added after all: given back.
  std::vector<bool> unused_reservation(quota != nullptr ? quota->size() : 0);
  for (size_t i = 0; i < unused_reservation.size(); ++i) {
    unused_reservation[i] = (*quota)[i] == Quota::kReserved;
  }
  // A filter refused by a limit: counted, logged at debug, its code in the SUBACK (3.1.1
  // has one failure code, 0x80).
  const auto refuse = [&](std::string_view filter, mqtt::ReasonCode code, uint64_t& counter,
                          const char* why) {
    counter++;
    PG_DEBUG("SUBSCRIBE %.*s from %s: %s", static_cast<int>(filter.size()), filter.data(),
             mqtt::printable(client->client_id()).c_str(), why);
    suback.reasons.push_back(v5 ? code : mqtt::ReasonCode::kUnspecifiedError);
  };
  for (size_t i = 0; i < subscribe.subscriptions.size(); ++i) {
    const mqtt::SubscriptionRequest& request = subscribe.subscriptions[i];
    std::string_view group;
    std::string_view inner;
    if (!mqtt::valid_topic_filter(request.filter)) {
      suback.reasons.push_back(v5 ? mqtt::ReasonCode::kTopicFilterInvalid
                                  : mqtt::ReasonCode::kUnspecifiedError);
      continue;
    }
    if (fit_filter(request.filter, limits()) != TopicFit::kFits) {
      refuse(request.filter, mqtt::ReasonCode::kTopicFilterInvalid, _stats.topic_limit_refused,
             "over max_topic_length or max_topic_depth");
      continue;
    }
    const bool shared = mqtt::parse_shared_filter(request.filter, group, inner);
    const Authorizer* authorizer = _config.authorizer;
    const ClientIdentity identity = session->identity();
    if (!grant_allows_subscribe(identity.grant, request.filter) ||
        (authorizer != nullptr && !authorizer->allow_subscribe(identity, request.filter))) {
      _stats.subscribe_denied++;
      suback.reasons.push_back(
          v5 ? static_cast<mqtt::ReasonCode>(_config.acl.subscribe_denied_code)
             : mqtt::ReasonCode::kUnspecifiedError);
      continue;
    }
    const Quota asked = quota != nullptr ? (*quota)[i] : Quota::kNotAsked;
    if (asked == Quota::kRefused) {
      refuse(request.filter, mqtt::ReasonCode::kQuotaExceeded, _stats.subscribers_refused,
             "max_subscribers_per_filter reached");
      continue;
    }
    SubscriptionOptions options{std::min<uint8_t>(request.max_qos, 2), request.no_local,
                                request.retain_as_published, request.retain_handling,
                                subscription_id};
    const bool is_new =
        add_subscription(session, request.filter, options, asked == Quota::kReserved);
    if (asked == Quota::kReserved) {
      unused_reservation[i] = false;  // add_subscription kept or gave it back
    }
    if (_journal != nullptr) {
      if (const uint64_t ticket = _journal->subscribed(*session, request.filter, options)) {
        ack.log_ticket = ticket;
        if (is_new) {
          ack.added.emplace_back(request.filter);
        }
      }
    }
    // Retain Handling 0: send retained; 1: only for a new subscription; 2: never. Shared
    // subscriptions get no retained messages on subscribe (§4.8.2).
    if (!shared &&
        (options.retain_handling == 0 || (options.retain_handling == 1 && is_new))) {
      ack.retained.push_back({mqtt::scoped(session->scope(), request.filter), options});
    }
    suback.reasons.push_back(static_cast<mqtt::ReasonCode>(options.max_qos));
    granted_json += std::string(granted_json.size() > 1 ? "," : "") + "{\"topic\":" +
                    SysPublisher::json_string(request.filter) +
                    ",\"qos\":" + std::to_string(options.max_qos) + "}";
  }
  for (size_t i = 0; i < unused_reservation.size(); ++i) {
    if (unused_reservation[i]) {
      count_filter(session->scope(), subscribe.subscriptions[i].filter, -1);
    }
  }
  if (granted_json.size() > 1) {
    _sys->subscribed(client->client_id(), granted_json + "]");
  }
  const bool refused = std::any_of(suback.reasons.begin(), suback.reasons.end(),
                                   [](mqtt::ReasonCode r) { return mqtt::is_error(r); });
  if (v5 && refused && client->problem_information()) {
    suback.properties.reason_string = "one or more topic filters refused";  // [MQTT-3.1.2-29]
  }
  if (!client->encode_within_limit(suback, ack.packet)) {
    client->close_oversize();  // its subscriptions stay, as if the SUBACK were lost
    return;
  }
  if (!ack.retained.empty()) {
    ack.session_id = session->id;
    ack.cut = begin_scan_cut();
    session->scan_windows++;  // closed as the SUBACK leaves
  }
  ack.reason_count = static_cast<uint16_t>(suback.reasons.size());
  pass_log_gate(client, ack);  // its write, then every shard's routes
}

std::shared_ptr<ScanCut> ShardBroker::begin_scan_cut() const {
  auto cut = std::make_shared<ScanCut>();
  cut->home = shard_id();
  cut->origins = _arrived;
  ScanCut::Origin& here = cut->origins[shard_id()];
  here.before[0] = here.before[1] = here.acked = _routed;
  return cut;
}

void ShardBroker::write_suback(Client* client, RoutingTable::HeldSuback& suback) {
  client->write(suback.packet);
  PG_DEBUG("suback sent client_id=%s", mqtt::printable(client->client_id()).c_str());
  if (suback.retained.empty()) {
    return;
  }
  // Every other shard has applied the routes (hold_suback): what each had routed at its
  // last ack here completes the cut.
  ScanCut& cut = *suback.cut;
  for (uint16_t from = 0; from < cut.origins.size(); ++from) {
    if (from != shard_id()) {
      cut.origins[from].acked = _routes->acked_routed(from);
    }
  }
  Session* session = client->session();
  PG_DASSERT(session != nullptr && session->id == suback.session_id);
  if (session == nullptr || session->id != suback.session_id) {
    close_scan_window(suback);  // a connection always keeps its session: not expected
    return;
  }
  _retained->start_scans(session, suback.retained, std::move(suback.cut));
  session->close_scan_window();  // after the scans count: the notes stay for them
}

void ShardBroker::release_suback(RoutingTable::HeldSuback& suback) {
  ClientConnection* connection = find_client(suback.connection_id);
  if (connection != nullptr && connection->client().phase() == Client::Phase::kConnected) {
    write_suback(&connection->client(), suback);
    return;
  }
  close_scan_window(suback);  // nobody to send it to: its scans are not owed
}

void ShardBroker::close_scan_window(const RoutingTable::HeldSuback& suback) {
  if (suback.retained.empty()) {
    return;
  }
  if (Session* session = _sessions->find(suback.session_id)) {
    session->close_scan_window();
  }
}

void ShardBroker::unsubscribe(Client* client, const mqtt::Unsubscribe& unsubscribe) {
  Session* session = client->session();
  mqtt::Unsuback unsuback;
  unsuback.packet_id = unsubscribe.packet_id;
  std::string removed_json = "[";
  HeldUnsuback held;
  for (std::string_view filter : unsubscribe.filters) {
    auto it = session->subscriptions().find(filter);
    const bool existed = it != session->subscriptions().end();
    if (existed) {
      if (_journal != nullptr) {
        if (const uint64_t ticket = _journal->unsubscribed(*session, filter)) {
          held.log_ticket = ticket;
          held.removed.emplace_back(std::string(filter), it->options);
        }
      }
      remove_subscription(session, filter);
      session->subscriptions().erase(it);
    }
    unsuback.reasons.push_back(existed ? mqtt::ReasonCode::kSuccess
                                       : mqtt::ReasonCode::kNoSubscriptionExisted);
    if (existed) {
      removed_json += std::string(removed_json.size() > 1 ? "," : "") +
                      SysPublisher::json_string(filter);
    }
  }
  if (removed_json.size() > 1) {
    _sys->unsubscribed(client->client_id(), removed_json + "]");
  }
  if (held.log_ticket == 0) {
    client->send_packet(unsuback);  // nothing of it to write
    return;
  }
  held.connection_id = client->connection_id();
  held.session_id = session->id;
  held.packet = std::move(unsuback);
  PG_DASSERT(_unsubacks_gated.empty() || _unsubacks_gated.back().log_ticket <= held.log_ticket);
  _unsubacks_gated.push_back(std::move(held));
}

bool ShardBroker::add_subscription(Session* session, std::string_view filter,
                                   const SubscriptionOptions& options, bool reserved) {
  Session::Subscriptions& subscriptions = session->subscriptions();
  auto it = subscriptions.find(filter);
  const bool is_new = it == subscriptions.end();
  if (is_new) {
    it = subscriptions.insert(Session::Subscription{PackedString(filter), options}).first;
  }
  it->options = options;  // a repeated filter replaces the old options [MQTT-3.8.4-3]
  if (is_new) {
    _subscriptions_now++;
  }
  if (is_new != reserved) {
    count_filter(session->scope(), filter, is_new ? 1 : -1);  // now, or not needed after all
  }
  std::string_view group;
  std::string_view inner;
  std::string scoped;
  if (mqtt::parse_shared_filter(filter, group, inner)) {
    _shared->add_member(session, group, routing_filter(*session, inner, scoped), options);
  } else {
    _routes->add(session, routing_filter(*session, filter, scoped), options);
  }
  return is_new;
}

std::string_view ShardBroker::routing_filter(const Session& session, std::string_view filter,
                                             std::string& storage) {
  if (session.scope().empty()) {
    return filter;
  }
  storage = mqtt::scoped(session.scope(), filter);
  return storage;
}

void ShardBroker::remove_subscription(Session* session, std::string_view filter) {
  _subscriptions_now--;  // callers pass only filters the session holds
  count_filter(session->scope(), filter, -1);
  std::string_view group;
  std::string_view inner;
  std::string scoped;
  if (mqtt::parse_shared_filter(filter, group, inner)) {
    _shared->remove_member(session, group, routing_filter(*session, inner, scoped));
  } else {
    _routes->remove(session, routing_filter(*session, filter, scoped));
  }
}

// ---- mail ----------------------------------------------------------------------------------

uint32_t ShardBroker::on_envelope(const shard::Envelope& envelope) {
  PG_DASSERT_OWNER(shard_id());
  return mail::open(envelope, [this](const auto& m, uint16_t from) { return handle(m, from); });
}

void ShardBroker::discard_envelope(const shard::Envelope& envelope) { mail::discard(envelope); }

void ShardBroker::handle(const mail::Publish& m, uint16_t from) {
  // In order within a delivery class (scan_cut.h): this is the last of its class from
  // `from` so far.
  PG_DASSERT(m.message->origin() == from);
  uint64_t& arrived = _arrived[from].before[ScanCut::class_of(m.message->qos())];
  PG_DASSERT(m.message->seq() > arrived);
  arrived = m.message->seq();
  _fan_out->deliver(_fan_out->match(*m.message), m.message);
  m.message->unref();
  if (m.wait != 0) {
    after_write(from, m.wait);
  }
}

uint32_t ShardBroker::handle(const mail::PublishBatchMail& m, uint16_t from) {
  const uint32_t records = m.batch->count();
  _fan_out->deliver_batch(*m.batch, now_ms());
  _outbox->post(from, mail::BatchBack{m.batch});
  return records;
}

void ShardBroker::handle(const mail::BatchBack& m, uint16_t from) {
  _outbox->batch_back(m.batch, from);
}

void ShardBroker::handle(const mail::RouteChangeMail& m, uint16_t from) {
  if (!_shared->apply(*m.change, from)) {
    _routes->apply(*m.change, from);
  }
  _routes->ack(m, from, _routed);
}

void ShardBroker::handle(const mail::RouteAck& m, uint16_t from) {
  _routes->on_ack(m, from);
  _routes->release_subacks(
      [this](RoutingTable::HeldSuback& suback) { release_suback(suback); });
}

void ShardBroker::handle(const mail::Migrate& m, uint16_t) { adopt(m.connection); }

void ShardBroker::handle(const mail::Rehome& m, uint16_t) { rehome_in(m.connection); }

void ShardBroker::handle(const mail::SessionGone& m, uint16_t) { _sessions->gone(m.ticket); }

void ShardBroker::handle(const mail::Load& m, uint16_t from) {
  _rehome->on_load(m, from, now_ms());
}

void ShardBroker::handle(const mail::RetainStore& m, uint16_t from) {
  _retained->on_store(m, from);
}

void ShardBroker::handle(const mail::RetainAnswer& m, uint16_t) {
  if (ClientConnection* connection = find_client(m.connection)) {
    connection->client().retain_answer(m.token, m.stored);
  }  // else the publisher is gone: nobody waits for the acknowledgement
}

void ShardBroker::handle(const mail::RetainScan& m, uint16_t) { _retained->on_scan(m, now_ms()); }

void ShardBroker::handle(const mail::RetainBatch& m, uint16_t) { _retained->on_batch(m.scan); }

void ShardBroker::handle(const mail::SharedPublish& m, uint16_t from) {
  _shared->deliver(m);
  if (m.wait != 0) {
    after_write(from, m.wait);
  }
}

void ShardBroker::handle(const mail::SysSnapshotMail& m, uint16_t from) {
  _sys->on_snapshot(from, *m.snapshot);
  _outbox->post(from, mail::SysSnapshotBack{m.snapshot});
}

void ShardBroker::handle(const mail::SysSnapshotBack& m, uint16_t) {
  _sys->snapshot_back(m.snapshot);
}

void ShardBroker::handle(const mail::AdminForward& m, uint16_t) { _control->on_forward(m.op); }

void ShardBroker::handle(const mail::AdminDone& m, uint16_t) { _control->on_done(m.op); }

void ShardBroker::handle(const mail::ControlChangeMail& m, uint16_t from) {
  _control->on_change(m.change, from);
}

void ShardBroker::handle(const mail::ControlAck& m, uint16_t) { _control->on_ack(m.change); }

void ShardBroker::handle(const mail::Reclaim& m, uint16_t) {
  MessageReclaimer::free_list(m.dead);
}

std::string ShardBroker::check_bounds() const {
  std::string broken;
  const Limits& limits = _config.limits;
  _sessions->for_each([&](const Session& session) {
    if (broken.empty() && session.inflight() > limits.max_inflight) {
      broken = "session " + session.client_id() + " has " +
               std::to_string(session.inflight()) + " in flight";
    }
    if (broken.empty() && session.queued() > limits.max_queued_messages) {
      broken = "session " + session.client_id() + " queues " +
               std::to_string(session.queued());
    }
  });
  for (uint16_t to = 0; to < shard_count() && broken.empty(); ++to) {
    if (_outbox->batches_out(to) > Outbox::kMaxBatchesOut) {
      broken = std::to_string(_outbox->batches_out(to)) + " batches out to shard " +
               std::to_string(to);
    }
  }
  return broken;
}

// ---- shutdown ------------------------------------------------------------------------------

void ShardBroker::on_stop_requested() {
  _stopping = true;
  std::vector<Message*> wills;
  wills.swap(_deferred_wills);
  for (Message* will : wills) {
    publish_will(will);  // stopping before every shard listened: sent as it is
  }
  _sys->stop();
  if (_trimmer != nullptr) {
    _trimmer->stop();
  }
  _retained->stop();
  for (auto& acceptor : _acceptors) {
    wheel().cancel(*acceptor);
  }
  wheel().cancel(_log_sync_timer);  // what is unsynced is synced as the log drains
  for (ShardListener& listener : _listeners) {
    if (listener.serves_pages() && listener.accepting) {
      _pages_open = true;  // /readyz says 503 (draining) while the others drain
      continue;
    }
    close_listener(listener);
  }
  std::vector<ClientConnection*> connections;
  connections.assign(_clients.begin(), _clients.end());
  for (ClientConnection* connection : connections) {
    Client& client = connection->client();
    if (client.rehoming() && !connection->open()) {
      continue;  // on its way: the shard it joins closes it
    }
    if (client.phase() == Client::Phase::kConnected) {
      // Its DISCONNECT first, not after what a slow reader would need seconds to take:
      // QoS 1/2 among it stays in the session (and its log) for the next connection.
      _stats.drain_dropped_bytes += connection->drop_unsent_output();
      client.disconnect(mqtt::ReasonCode::kServerShuttingDown);
      connection->linger_for_shutdown(_config.drain_timeout_ms);
    } else if (connection->open() && !(_pages_open && connection->speaks_http_only())) {
      connection->close_now();
    }
  }
  if (_pages_open && only_pages_left()) {
    close_pages();
  }
}

bool ShardBroker::only_pages_left() const {
  if (!_parked_connects.empty()) {
    return false;
  }
  for (const ClientConnection* connection : _clients) {
    if (!connection->speaks_http_only()) {
      return false;  // an MQTT client, open or lingering after its DISCONNECT
    }
  }
  return true;
}

void ShardBroker::close_pages() {
  _pages_open = false;
  for (ShardListener& listener : _listeners) {
    close_listener(listener);
  }
  std::vector<ClientConnection*> connections;
  connections.assign(_clients.begin(), _clients.end());
  for (ClientConnection* connection : connections) {
    if (connection->open()) {
      connection->close_now();
    }
  }
}

bool ShardBroker::finished() const {
  return _stopping && _clients.empty() && _parked_connects.empty() &&
         (_log == nullptr || !_log->busy());
}

}  // namespace peregrine::broker
