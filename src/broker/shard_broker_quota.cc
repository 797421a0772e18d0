// ShardBroker: `[limits] max_subscribers_per_filter` (filter_counts.h). A SUBSCRIBE that
// would add filters its session lacks asks each filter's owner shard to count one more
// subscriber; while answers are out the SUBSCRIBE is parked (copied) and its client's
// input paused, so nothing the client sends after it is answered first. A filter its
// owner refuses gets SUBACK 0x97 (3.1.1: 0x80); a counted one that ends up not added
// (denied, already held by then) is given back. Every subscription added otherwise
// (restored, put back) is counted, every one removed is taken off.
#include "absl/container/flat_hash_set.h"
#include "src/base/log.h"
#include "src/broker/client_connection.h"
#include "src/broker/client_limits.h"
#include "src/broker/shard_broker.h"
#include "src/mqtt/codec.h"
#include "src/mqtt/scope.h"

namespace peregrine::broker {

void ShardBroker::subscribe(Client* client, const mqtt::Subscribe& subscribe) {
  if (!counts_filters()) {
    subscribe_now(client, subscribe, nullptr);
    return;
  }
  std::vector<Quota> quota;
  if (!park_for_quota(client, subscribe, quota)) {
    subscribe_now(client, subscribe, &quota);
  }
}

bool ShardBroker::park_for_quota(Client* client, const mqtt::Subscribe& subscribe,
                                 std::vector<Quota>& quota) {
  const Session* session = client->session();
  const uint32_t limit = limits().max_subscribers_per_filter;
  const size_t n = subscribe.subscriptions.size();
  quota.assign(n, Quota::kNotAsked);
  const uint32_t park = (_next_park = (_next_park + 1) & 0x7FFFFFFF);
  uint32_t asked = 0;
  // A set, not a scan of the filters before: a SUBSCRIBE may carry as many filters as its
  // packet size allows, and one turn must stay linear in them.
  absl::flat_hash_set<std::string_view> first_asks;
  for (size_t i = 0; i < n; ++i) {
    const std::string_view filter = subscribe.subscriptions[i].filter;
    // Only what would be a new subscriber: a filter refused for its form or size asks
    // nobody; one the ACL denies is asked and given back (rare, and checked in one place).
    const Session::Subscriptions* held = session->subscriptions_if_any();
    if (!mqtt::valid_topic_filter(filter) || fit_filter(filter, limits()) != TopicFit::kFits ||
        (held != nullptr && held->find(filter) != held->end())) {
      continue;
    }
    if (!first_asks.insert(filter).second) {
      continue;  // the same filter twice in one SUBSCRIBE: the first asks
    }
    const uint64_t key = filter_key(session->scope(), filter);
    const uint16_t owner = FilterCounts::owner_of(key, _shard->count());
    if (owner == shard_id()) {
      quota[i] = _filter_counts->reserve(key, limit) ? Quota::kReserved : Quota::kRefused;
      continue;
    }
    const uint32_t ask = (_next_ask = (_next_ask + 1) & 0x7FFFFFFF);
    _filter_asks[ask] = {park, static_cast<uint32_t>(i)};
    _outbox->post(owner, mail::FilterReserve{key, ask});
    asked++;
  }
  if (asked == 0) {
    return false;
  }
  ParkedSubscribe& parked = _parked_subscribes[park];
  parked.connection = client->id();
  parked.session_id = session->id;
  parked.packet_id = subscribe.packet_id;
  parked.subscription_id = subscribe.properties.subscription_identifiers.empty()
                               ? 0
                               : subscribe.properties.subscription_identifiers[0];
  parked.scope = session->scope();
  parked.requests = subscribe.subscriptions;
  parked.filters.reserve(n);
  for (const mqtt::SubscriptionRequest& request : subscribe.subscriptions) {
    parked.filters.emplace_back(request.filter);
  }
  parked.quota = std::move(quota);
  parked.remaining = asked;
  client->hold_input();
  return true;
}

void ShardBroker::handle(const mail::FilterReserve& m, uint16_t from) {
  PG_DASSERT(counts_filters());
  const bool granted = _filter_counts->reserve(m.key, limits().max_subscribers_per_filter);
  _outbox->post(from, mail::FilterReserved{m.wait, granted});
}

void ShardBroker::handle(const mail::FilterReserved& m, uint16_t) {
  auto ask = _filter_asks.find(m.wait);
  PG_ASSERT(ask != _filter_asks.end());
  const FilterAsk where = ask->second;
  _filter_asks.erase(ask);
  auto it = _parked_subscribes.find(where.park);
  PG_ASSERT(it != _parked_subscribes.end());
  ParkedSubscribe& parked = it->second;
  parked.quota[where.index] = m.granted ? Quota::kReserved : Quota::kRefused;
  if (--parked.remaining == 0) {
    finish_parked(where.park);
  }
}

void ShardBroker::handle(const mail::FilterCount& m, uint16_t) {
  PG_DASSERT(counts_filters());
  _filter_counts->add(m.key, m.delta);
}

void ShardBroker::finish_parked(uint32_t id) {
  auto it = _parked_subscribes.find(id);
  ParkedSubscribe parked = std::move(it->second);
  _parked_subscribes.erase(it);
  ClientConnection* connection = find_client(parked.connection);
  Client* client = connection != nullptr ? &connection->client() : nullptr;
  if (client == nullptr || client->session() == nullptr ||
      client->session()->id != parked.session_id || client->session()->client() != client ||
      client->phase() != Client::Phase::kConnected) {
    // Its connection went (or its session did, or a new connection took the session
    // over: what that one sends since must not be overtaken by this) while the owners
    // answered: nothing is added, what they counted is given back.
    for (size_t i = 0; i < parked.quota.size(); ++i) {
      if (parked.quota[i] == Quota::kReserved) {
        count_filter(parked.scope, parked.filters[i], -1);
      }
    }
    return;
  }
  mqtt::Subscribe subscribe;
  subscribe.packet_id = parked.packet_id;
  if (parked.subscription_id != 0) {
    subscribe.properties.subscription_identifiers.push_back(parked.subscription_id);
  }
  subscribe.subscriptions = std::move(parked.requests);
  for (size_t i = 0; i < subscribe.subscriptions.size(); ++i) {
    subscribe.subscriptions[i].filter = parked.filters[i];
  }
  subscribe_now(client, subscribe, &parked.quota);
  client->release_input();
}

uint64_t ShardBroker::filter_key(std::string_view scope, std::string_view filter) {
  return scope.empty() ? FilterCounts::key_of(filter)
                       : FilterCounts::key_of(mqtt::scoped(scope, filter));
}

void ShardBroker::count_filter(std::string_view scope, std::string_view filter, int delta) {
  if (!counts_filters()) {
    return;
  }
  const uint64_t key = filter_key(scope, filter);
  const uint16_t owner = FilterCounts::owner_of(key, _shard->count());
  if (owner == shard_id()) {
    _filter_counts->add(key, delta);
  } else {
    _outbox->post(owner, mail::FilterCount{key, delta});
  }
}

}  // namespace peregrine::broker
