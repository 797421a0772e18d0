#include "src/broker/shard_broker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/broker/client.h"
#include "src/mqtt/codec.h"
#include "src/net/listener.h"

namespace peregrine::broker {

namespace {

enum EnvelopeKind : uint16_t {
  kPublish = 1,      // ptr: Message*, one reference handed over
  kRouteChange = 2,  // ptr: RouteChange*, value: the sender's route sequence number
  kRouteAck = 3,     // value: the highest route sequence number applied
  kMigrate = 4,      // ptr: Client*, detached and quiesced
};

// A filter gaining its first or losing its last subscriber on a shard; one allocation
// shared by every receiving shard, freed by the last.
struct RouteChange {
  std::atomic<uint32_t> refs;
  bool add;
  std::string filter;
};

void unref_route_change(RouteChange* change) {
  if (change->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    delete change;
  }
}

uint64_t fnv1a(std::string_view s) {
  uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : s) {
    hash = (hash ^ c) * 1099511628211ULL;
  }
  return hash;
}

}  // namespace

// Accepts on one listener of this shard. When the process runs out of descriptors the
// ring stops accepting; this waits kAcceptPauseMs and listens again, so a full broker
// neither spins nor stops accepting for good.
class ShardBroker::ListenerAcceptor final : public io::Acceptor, public io::Timer {
 public:
  static constexpr uint64_t kAcceptPauseMs = 100;

  ListenerAcceptor(ShardBroker* broker, int fd) : _broker(broker), _fd(fd) {}

  void on_accept(int fd) override { _broker->accept(fd); }
  void on_accept_paused(int error) override {
    _broker->stats().accept_paused++;
    PG_WARN("accepting paused for %llums: %s", static_cast<unsigned long long>(kAcceptPauseMs),
            strerror(error));
    _broker->wheel().arm(*this, _broker->now_ms() + kAcceptPauseMs);
  }
  void on_timer() override {
    if (!_broker->stopping()) {
      _broker->ring().listen(_fd, this);
    }
  }

 private:
  ShardBroker* _broker;
  int _fd;
};

ShardBroker::ShardBroker(const BrokerConfig& config, std::vector<ShardListener> listeners)
    : _config(config), _listeners(std::move(listeners)) {
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
}

void ShardBroker::on_start(shard::Shard& shard) {
  _shard = &shard;
  PG_ASSERT(shard.count() <= kMaxShards);
  _acked.assign(shard.count(), 0);
  for (auto& listener : _listeners) {
    _acceptors.push_back(std::make_unique<ListenerAcceptor>(this, listener.fd));
    ring().listen(listener.fd, _acceptors.back().get());
  }
}

uint16_t ShardBroker::home_shard(std::string_view client_id) const {
  return static_cast<uint16_t>(fnv1a(client_id) % _shard->count());
}

std::string ShardBroker::assign_client_id() {
  char id[40];
  std::snprintf(id, sizeof id, "pg-%016llx",
                static_cast<unsigned long long>(
                    _id_salt ^ ((uint64_t{shard_id()} << 48) | ++_assigned_ids)));
  return id;
}

void ShardBroker::accept(int fd) {
  if (_stopping) {
    ::close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto* client = new Client(this, fd, net::peer_name(fd));
  _clients.emplace(client->id(), client);
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
  auto* client = static_cast<Client*>(connection);
  if (client->dirty) {
    std::replace(_dirty.begin(), _dirty.end(), connection, static_cast<net::Connection*>(nullptr));
  }
  _clients.erase(client->id());
  delete client;
}

void ShardBroker::detached(net::Connection* connection) {
  auto* client = static_cast<Client*>(connection);
  if (client->dirty) {
    std::replace(_dirty.begin(), _dirty.end(), connection, static_cast<net::Connection*>(nullptr));
    client->dirty = false;
  }
  _clients.erase(client->id());
  _stats.migrations++;
  const uint16_t home = home_shard(client->client_id());
  _shard->post(home, {kMigrate, 0, 0, 0, client}, shard::Delivery::kRequired);
}

void ShardBroker::adopt(Client* client) {
  _clients.emplace(client->id(), client);
  if (_stopping) {
    client->attach(this);
    client->close_now();
    return;
  }
  client->adopt(this);
}

void ShardBroker::on_turn_end() {
  // Flushing may mark more connections dirty (a send finished synchronously): loop on
  // a swapped list so each gets at most one send per turn.
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
}

void ShardBroker::register_session(Client* client) {
  auto it = _sessions.find(client->client_id());
  if (it != _sessions.end() && it->second != client) {
    Client* old = it->second;
    _stats.takeovers++;
    PG_INFO("client id %s taken over by %s", client->client_id().c_str(),
            client->peer().c_str());
    old->disconnect(mqtt::ReasonCode::kSessionTakenOver);  // erases its session entry
  }
  _sessions[client->client_id()] = client;
}

void ShardBroker::client_gone(Client* client) {
  for (const std::string& filter : client->filters()) {
    remove_subscription(client, filter);
  }
  client->filters().clear();
  auto it = _sessions.find(client->client_id());
  if (it != _sessions.end() && it->second == client) {
    _sessions.erase(it);
  }
  if (Message* will = client->take_will()) {
    _stats.wills_published++;
    route(will);
  }
}

void ShardBroker::publish(Client* from, const mqtt::Publish& publish) {
  _stats.messages_in++;
  if (publish.topic.starts_with("$SYS")) {
    _stats.sys_publish_denied++;
    PG_DEBUG("PUBLISH to %.*s from %s dropped: $SYS is the broker's",
             static_cast<int>(publish.topic.size()), publish.topic.data(),
             from->client_id().c_str());
    return;
  }
  route(Message::create(publish, from->id()));
}

void ShardBroker::route(Message* message) {
  uint64_t shards = 0;
  _routes.match(message->publish().topic, [&](RouteEntry& entry) { shards |= entry.shards; });
  const uint16_t self = shard_id();
  for (uint16_t to = 0; shards != 0; ++to, shards >>= 1) {
    if ((shards & 1) == 0 || to == self) {
      continue;
    }
    message->ref();
    if (!_shard->post(to, {kPublish, 0, 0, 0, message}, shard::Delivery::kDroppable)) {
      message->unref();
      _stats.mailbox_dropped++;
    }
  }
  deliver_local(message);
  message->unref();
}

void ShardBroker::deliver_local(Message* message) {
  const uint64_t stamp = ++_delivery_stamp;
  _head_v3_ready = false;
  _head_v5_ready = false;
  _local.match(message->publish().topic, [&](LocalEntry& entry) {
    for (const Subscriber& sub : entry.subscribers) {
      if (sub.client->delivery_stamp == stamp) {
        continue;  // overlapping subscriptions: one copy per client
      }
      sub.client->delivery_stamp = stamp;
      deliver(sub.client, message);
    }
  });
}

std::span<const uint8_t> ShardBroker::head_for(mqtt::ProtocolVersion version,
                                               Message* message) {
  const bool v5 = version == mqtt::ProtocolVersion::kV5;
  std::vector<uint8_t>& head = v5 ? _head_v5 : _head_v3;
  bool& ready = v5 ? _head_v5_ready : _head_v3_ready;
  if (!ready) {
    mqtt::Publish publish = message->publish();
    publish.qos = 0;
    publish.retain = false;
    publish.dup = false;
    publish.packet_id = 0;
    head.clear();
    mqtt::encode_publish_head(version, publish, message->payload().size(), head);
    ready = true;
  }
  return head;
}

void ShardBroker::deliver(Client* client, Message* message) {
  if (client->phase() != Client::Phase::kConnected || client->closing()) {
    return;
  }
  const std::span<const uint8_t> head = head_for(client->version(), message);
  const size_t size = head.size() + message->payload().size();
  if (client->max_packet_size() != 0 && size > client->max_packet_size()) {
    _stats.oversize_dropped++;  // never send more than the client allows [MQTT-3.1.2-24]
    return;
  }
  if (client->queued_bytes() + size > _config.limits.outbound_buffer_bytes) {
    _stats.qos0_dropped++;
    return;
  }
  client->write(head);
  client->write_shared(message, message->payload());
  _stats.messages_out++;
}

void ShardBroker::subscribe(Client* client, const mqtt::Subscribe& subscribe) {
  const bool v5 = client->version() == mqtt::ProtocolVersion::kV5;
  mqtt::Suback suback;
  suback.packet_id = subscribe.packet_id;
  for (const mqtt::SubscriptionRequest& request : subscribe.subscriptions) {
    std::string_view group;
    std::string_view inner;
    if (!mqtt::valid_topic_filter(request.filter)) {
      suback.reasons.push_back(v5 ? mqtt::ReasonCode::kTopicFilterInvalid
                                  : mqtt::ReasonCode::kUnspecifiedError);
    } else if (mqtt::parse_shared_filter(request.filter, group, inner)) {
      suback.reasons.push_back(v5 ? mqtt::ReasonCode::kSharedSubscriptionsNotSupported
                                  : mqtt::ReasonCode::kUnspecifiedError);
    } else {
      add_subscription(client, request);
      suback.reasons.push_back(mqtt::ReasonCode::kSuccess);  // granted QoS 0
    }
  }
  std::vector<uint8_t> packet;
  mqtt::encode(client->version(), suback, packet);
  const uint64_t wait_for = _route_seq;
  if (min_acked() >= wait_for && _pending_acks.empty()) {
    client->write(packet);
    return;
  }
  _pending_acks.push_back({client->id(), wait_for, std::move(packet)});
}

void ShardBroker::unsubscribe(Client* client, const mqtt::Unsubscribe& unsubscribe) {
  mqtt::Unsuback unsuback;
  unsuback.packet_id = unsubscribe.packet_id;
  for (std::string_view filter : unsubscribe.filters) {
    const bool existed = remove_subscription(client, filter);
    if (existed) {
      auto& filters = client->filters();
      filters.erase(std::find(filters.begin(), filters.end(), filter));
    }
    unsuback.reasons.push_back(existed ? mqtt::ReasonCode::kSuccess
                                       : mqtt::ReasonCode::kNoSubscriptionExisted);
  }
  client->send_packet(unsuback);
}

bool ShardBroker::add_subscription(Client* client, const mqtt::SubscriptionRequest& request) {
  LocalEntry& entry = _local.insert(request.filter);
  for (Subscriber& sub : entry.subscribers) {
    if (sub.client == client) {
      sub.max_qos = request.max_qos;  // a repeated filter replaces [MQTT-3.8.4-3]
      return false;
    }
  }
  entry.subscribers.push_back({client, request.max_qos});
  client->filters().emplace_back(request.filter);
  if (entry.subscribers.size() == 1) {
    _routes.insert(request.filter).shards |= uint64_t{1} << shard_id();
    broadcast_route(request.filter, true);
  }
  return true;
}

bool ShardBroker::remove_subscription(Client* client, std::string_view filter) {
  LocalEntry* entry = _local.find(filter);
  if (entry == nullptr) {
    return false;
  }
  auto& subs = entry->subscribers;
  auto it = std::find_if(subs.begin(), subs.end(),
                         [&](const Subscriber& s) { return s.client == client; });
  if (it == subs.end()) {
    return false;
  }
  subs.erase(it);
  if (subs.empty()) {
    _local.erase_if_empty(filter);
    if (RouteEntry* route = _routes.find(filter)) {
      route->shards &= ~(uint64_t{1} << shard_id());
      _routes.erase_if_empty(filter);
    }
    broadcast_route(filter, false);
  }
  return true;
}

void ShardBroker::broadcast_route(std::string_view filter, bool add) {
  const uint16_t count = _shard->count();
  if (count == 1) {
    return;
  }
  ++_route_seq;
  auto* change = new RouteChange{{static_cast<uint32_t>(count - 1)}, add, std::string(filter)};
  for (uint16_t to = 0; to < count; ++to) {
    if (to != shard_id()) {
      _shard->post(to, {kRouteChange, 0, 0, _route_seq, change}, shard::Delivery::kRequired);
    }
  }
}

void ShardBroker::apply_route(const shard::Envelope& envelope) {
  auto* change = static_cast<RouteChange*>(envelope.ptr);
  const uint64_t bit = uint64_t{1} << envelope.from;
  if (change->add) {
    _routes.insert(change->filter).shards |= bit;
  } else if (RouteEntry* route = _routes.find(change->filter)) {
    route->shards &= ~bit;
    _routes.erase_if_empty(change->filter);
  }
  unref_route_change(change);
  _shard->post(envelope.from, {kRouteAck, 0, 0, envelope.value, nullptr},
               shard::Delivery::kRequired);
}

uint64_t ShardBroker::min_acked() const {
  uint64_t low = _route_seq;
  for (uint16_t s = 0; s < _acked.size(); ++s) {
    if (s != shard_id()) {
      low = std::min(low, _acked[s]);
    }
  }
  return low;
}

void ShardBroker::on_route_ack(const shard::Envelope& envelope) {
  _acked[envelope.from] = std::max(_acked[envelope.from], envelope.value);
  send_ready_acks();
}

void ShardBroker::send_ready_acks() {
  const uint64_t applied = min_acked();
  while (!_pending_acks.empty() && _pending_acks.front().seq <= applied) {
    PendingAck& ack = _pending_acks.front();
    auto it = _clients.find(ack.connection_id);
    if (it != _clients.end() && it->second->phase() == Client::Phase::kConnected) {
      it->second->write(ack.packet);
    }
    _pending_acks.pop_front();
  }
}

void ShardBroker::on_envelope(const shard::Envelope& envelope) {
  switch (envelope.kind) {
    case kPublish: {
      auto* message = static_cast<Message*>(envelope.ptr);
      deliver_local(message);
      message->unref();
      break;
    }
    case kRouteChange:
      apply_route(envelope);
      break;
    case kRouteAck:
      on_route_ack(envelope);
      break;
    case kMigrate:
      adopt(static_cast<Client*>(envelope.ptr));
      break;
    default:
      PG_ASSERT_MSG(false, "unknown envelope kind");
  }
}

void ShardBroker::discard_envelope(const shard::Envelope& envelope) {
  switch (envelope.kind) {
    case kPublish:
      static_cast<Message*>(envelope.ptr)->unref();
      break;
    case kRouteChange:
      unref_route_change(static_cast<RouteChange*>(envelope.ptr));
      break;
    case kMigrate: {
      auto* client = static_cast<Client*>(envelope.ptr);
      ::close(client->fd());
      client->set_fd(-1);
      delete client;
      break;
    }
    default:
      break;
  }
}

void ShardBroker::on_stop_requested() {
  _stopping = true;
  for (auto& acceptor : _acceptors) {
    wheel().cancel(*acceptor);
  }
  for (auto& listener : _listeners) {
    ring().unlisten(listener.fd);
    ::close(listener.fd);
    listener.fd = -1;
  }
  std::vector<Client*> clients;
  for (auto& [id, client] : _clients) {
    clients.push_back(client);
  }
  for (Client* client : clients) {
    if (client->phase() == Client::Phase::kConnected) {
      client->disconnect(mqtt::ReasonCode::kServerShuttingDown);
    } else if (client->open()) {
      client->close_now();
    }
  }
}

bool ShardBroker::finished() const { return _stopping && _clients.empty(); }

}  // namespace peregrine::broker
