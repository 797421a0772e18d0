// ShardBroker: a virtual broker deleted through the admin API (ControlEvents::
// broker_removed). Its live connections on this shard are closed at once (v5: 0x98);
// then, over the following turns, its sessions here end and the retained messages this
// shard owns for it are cleared, kPurgeSlice of each a turn, each through the same path a
// client's would take (so with persistence the log forgets them too). A client still
// closing holds its session until it is gone; it is tried again on a later turn.
#include <algorithm>

#include "src/base/log.h"
#include "src/broker/client_connection.h"
#include "src/broker/shard_broker.h"
#include "src/mqtt/scope.h"

namespace peregrine::broker {

const VirtualBrokers* ShardBroker::brokers_directory() const { return &_control->brokers(); }

void ShardBroker::count_client(std::string_view broker, int delta) {
  _clients_now += static_cast<uint64_t>(static_cast<int64_t>(delta));
  if (broker.empty()) {
    return;  // the default broker's: the total says it
  }
  auto it = _broker_clients.try_emplace(std::string(broker), 0).first;
  it->second += static_cast<uint64_t>(static_cast<int64_t>(delta));
  if (it->second == 0) {
    _broker_clients.erase(it);
  }
}

bool ShardBroker::serves_name(std::string_view name) const {
  return _control->brokers().serves(name);
}

void ShardBroker::broker_removed(std::string_view scope) {
  PG_ASSERT(!scope.empty());
  std::vector<Client*> clients;
  for (ClientConnection* connection : _clients) {
    Client& client = connection->client();
    if (client.phase() != Client::Phase::kGone && client.scope() == scope) {
      clients.push_back(&client);
    }
  }
  // In connection order: the set's follows the connections' addresses.
  std::sort(clients.begin(), clients.end(),
            [](const Client* a, const Client* b) { return a->id() < b->id(); });
  for (Client* client : clients) {
    _stats.broker_deleted_disconnects++;
    client->disconnect(mqtt::ReasonCode::kAdministrativeAction, "virtual broker deleted");
  }
  Purge purge;
  purge.scope = std::string(scope);
  _sessions->for_each([&](const Session& session) {
    if (session.scope() == scope) {
      purge.sessions.push_back(session.id);
    }
  });
  std::sort(purge.sessions.begin(), purge.sessions.end());
  PG_INFO("virtual broker %.*s deleted: %zu connections closed, %zu sessions to end here",
          static_cast<int>(mqtt::scope_name(scope).size()), mqtt::scope_name(scope).data(),
          clients.size(), purge.sessions.size());
  _purges.push_back(std::move(purge));
}

void ShardBroker::purge_slice() {
  Purge& purge = _purges.front();
  size_t done = 0;
  std::vector<uint64_t> later;
  while (!purge.sessions.empty() && done < kPurgeSlice) {
    const uint64_t id = purge.sessions.back();
    purge.sessions.pop_back();
    done++;
    Session* session = _sessions->find(id);
    if (session == nullptr) {
      continue;  // ended, or moved on, already
    }
    if (session->client() != nullptr) {
      later.push_back(id);  // its connection is still closing
      continue;
    }
    _stats.broker_deleted_sessions++;
    if (Message* will = session->take_will()) {
      will->unref();  // into a broker that is gone: nobody to tell
    }
    _sessions->end(session);
  }
  const bool waiting = !later.empty();
  purge.sessions.insert(purge.sessions.begin(), later.begin(), later.end());
  if (!purge.sessions.empty() && !waiting) {
    return;  // more next turn
  }
  // Retained messages of the broker this shard owns: cleared as an empty retained
  // PUBLISH would (written to the log as such).
  const std::vector<std::string> topics = _retained->topics_in_scope(purge.scope, kPurgeSlice);
  for (const std::string& topic : topics) {
    mqtt::Publish clear;
    clear.topic = topic;
    clear.retain = true;
    store_retained(stamped(Message::create(clear, 0, now_ms())));
    _stats.broker_deleted_retained++;
  }
  if (topics.size() < kPurgeSlice && purge.sessions.empty()) {
    PG_DEBUG("virtual broker %s: its state on this shard is gone", purge.scope.c_str() + 2);
    _purges.pop_front();
  }
}

}  // namespace peregrine::broker
