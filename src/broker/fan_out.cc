#include "src/broker/fan_out.h"

#include <algorithm>
#include <numeric>

#include "src/base/assert.h"
#include "src/broker/client_link.h"
#include "src/mqtt/codec.h"
#include "src/mqtt/scope.h"
#include "src/net/out_queue.h"

namespace peregrine::broker {

namespace {

// Whether a matched session (given no subscription identifier) takes the QoS 0 fast path:
// QoS 0, retain flag clear, the shard's shared heads. Offline sessions qualify: QoS 0 is
// not queued for them.
bool takes_shared_qos0(const FanOutPass::Match& match) {
  const ClientLink* link = match.session->client();
  return match.qos == 0 && !match.retain && (link == nullptr || link->takes_shared_heads());
}

size_t layout(mqtt::ProtocolVersion version) {
  return version == mqtt::ProtocolVersion::kV5 ? 1 : 0;
}

}  // namespace

std::span<const uint8_t> FanOutPass::qos0_head(mqtt::ProtocolVersion version,
                                               std::string_view topic,
                                               const mqtt::Properties* properties,
                                               size_t payload_size) {
  const size_t l = layout(version);
  std::vector<uint8_t>& head = _head[l];
  if (!_head_ready[l]) {
    if (properties != nullptr) {
      head.clear();
      mqtt::encode_qos0_publish_head(version, topic, *properties, payload_size, head);
      _head_size[l] = head.size();
    } else {
      const size_t need = mqtt::plain_publish_head_size(version, topic.size(), 0, payload_size);
      if (head.size() < need) {
        head.resize(need);
      }
      _head_size[l] = mqtt::encode_plain_publish_head(version, topic, 0, false, false, 0,
                                                      payload_size, head.data());
    }
    _head_ready[l] = true;
  }
  return {head.data(), _head_size[l]};
}

FanOut::FanOut(RoutingTable& routes, BrokerStats& stats, const Authorizer* authorizer,
               uint16_t self)
    : _routes(routes), _stats(stats), _authorizer(authorizer), _self(self) {}

FanOutPass& FanOut::match(std::string_view topic, uint8_t message_qos, bool message_retain,
                          uint64_t origin) {
  FanOutPass& pass = _pass;
  pass.clear();
  uint64_t shards = 0;
  uint32_t entries = 0;  // filters with subscribers here
  _routes.match(topic, [&](RoutingTable::FilterEntry& entry) {
    shards |= entry.shards;
    if (entry.subscribers.empty()) {
      return;
    }
    ++entries;
    for (const RoutingTable::Subscriber& sub : entry.subscribers) {
      const ClientLink* link = sub.session->client();
      if (sub.options.no_local && link != nullptr && link->connection_id() == origin) {
        continue;  // [MQTT-3.8.3-3]
      }
      if (sub.options.subscription_id != 0) {
        pass.ids.emplace_back(static_cast<uint32_t>(pass.matched.size()),
                              sub.options.subscription_id);
      }
      pass.matched.push_back({sub.session, std::min(sub.options.max_qos, message_qos),
                              sub.options.retain_as_published && message_retain});
    }
  });
  if (entries > 1) {
    merge_overlaps(pass);
  }
  pass.shards = shards;
  return pass;
}

void FanOut::merge_overlaps(FanOutPass& pass) {
  const auto n = static_cast<uint32_t>(pass.matched.size());
  _order.resize(n);
  std::iota(_order.begin(), _order.end(), 0u);
  // By session, each session's entries in match order: the first is where it stays.
  std::stable_sort(_order.begin(), _order.end(), [&](uint32_t a, uint32_t b) {
    return std::less<const Session*>()(pass.matched[a].session, pass.matched[b].session);
  });
  _remap.assign(n, 0);
  constexpr uint32_t kMerged = UINT32_MAX;
  for (uint32_t i = 0; i < n;) {
    const uint32_t first = _order[i];
    uint32_t j = i + 1;
    for (; j < n && pass.matched[_order[j]].session == pass.matched[first].session; ++j) {
      FanOutPass::Match& kept = pass.matched[first];
      const FanOutPass::Match& other = pass.matched[_order[j]];
      kept.qos = std::max(kept.qos, other.qos);
      kept.retain = kept.retain || other.retain;
      _remap[_order[j]] = first;  // provisional: the first entry's old index
      pass.matched[_order[j]].session = nullptr;
    }
    _remap[first] = first;
    i = j;
  }
  // Compact in match order; old index → new index.
  uint32_t kept = 0;
  for (uint32_t old = 0; old < n; ++old) {
    if (pass.matched[old].session != nullptr) {
      pass.matched[kept] = pass.matched[old];
      _order[old] = kept++;
    } else {
      _order[old] = kMerged;
    }
  }
  pass.matched.resize(kept);
  for (auto& [index, id] : pass.ids) {
    index = _order[_remap[index]];
    PG_DASSERT(index != kMerged);
  }
  if (pass.ids.size() > 1) {
    std::stable_sort(pass.ids.begin(), pass.ids.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }
}

FanOutPass& FanOut::match_publish(std::unique_ptr<RouteMemo>& memo, uint64_t origin,
                                  std::string_view topic, uint8_t qos, bool retain) {
  if (memo != nullptr && memo->matches(_self, _routes.epoch(), topic, qos, retain)) {
    // What match() would find, without the walk.
    FanOutPass& pass = _pass;
    pass.clear();
    pass.matched.assign(memo->matched.begin(), memo->matched.end());
    pass.shards = memo->shards;
    pass.memo = memo.get();
    _stats.routes_reused++;
    return pass;
  }
  FanOutPass& pass = match(topic, qos, retain, origin);
  if (pass.ids.empty() && pass.matched.size() <= RouteMemo::kMaxSessions) {
    if (memo == nullptr) {
      memo = std::make_unique<RouteMemo>();
    }
    RouteMemo& made = *memo;
    if (made.topic != topic) {
      for (RouteMemo::Head& head : made.heads) {
        head.payload_size = SIZE_MAX;
      }
    }
    made.epoch = _routes.epoch();
    made.shard = _self;
    made.qos = qos;
    made.retain = retain;
    made.shards = pass.shards;
    made.topic.assign(topic);
    made.matched.assign(pass.matched.begin(), pass.matched.end());
    pass.memo = &made;
  }
  return pass;
}

std::span<const uint8_t> FanOut::in_place_head(FanOutPass& pass, mqtt::ProtocolVersion version,
                                               std::string_view topic, size_t payload_size) {
  const std::string_view visible = mqtt::unscoped(topic);
  if (pass.memo == nullptr) {
    return pass.qos0_head(version, visible, nullptr, payload_size);
  }
  PG_DASSERT(pass.memo->topic == topic);
  RouteMemo::Head& head = pass.memo->heads[layout(version)];
  if (head.payload_size != payload_size) {
    head.bytes.resize(mqtt::plain_publish_head_size(version, visible.size(), 0, payload_size));
    mqtt::encode_plain_publish_head(version, visible, 0, false, false, 0, payload_size,
                                    head.bytes.data());
    head.payload_size = payload_size;
  }
  return head.bytes;
}

bool FanOut::deliver_in_place(FanOutPass& pass, const mqtt::Publish& publish,
                              bool transient_payload) {
  PG_DASSERT(!publish.retain);
  if (!pass.ids.empty()) {
    return false;  // subscription identifiers: per-session heads
  }
  const size_t payload_size = publish.payload.size();
  for (const FanOutPass::Match& match : pass.matched) {
    if (!takes_shared_qos0(match)) {
      return false;
    }
    // A lone subscriber takes a small payload copied however full the turn's copy arena
    // (a transient one whatever its size): a Message would copy it as well, allocate,
    // and go out as an iovec of its own, which slowed a fan-in subscriber's sends until
    // its outbound limit dropped messages. That limit still bounds its queue.
    const ClientLink* link = match.session->client();
    const bool copy_anyway = pass.matched.size() == 1 &&
                             (transient_payload || payload_size <= net::OutQueue::kCopyUpTo);
    if (link != nullptr && !copy_anyway && !link->copies_shared(payload_size)) {
      return false;  // it would reference a Message's payload
    }
  }
  pass.new_message();
  const std::string_view topic = mqtt::unscoped(publish.topic);  // what its clients see
  for (const FanOutPass::Match& match : pass.matched) {
    ClientLink* link = match.session->client();
    if (link == nullptr || !may_read(*match.session, topic)) {
      continue;  // QoS 0 is not queued for an offline session
    }
    link->send_qos0_copy(in_place_head(pass, link->version(), publish.topic, payload_size),
                         publish.payload);
  }
  return true;
}

void FanOut::deliver(FanOutPass& pass, Message* message) {
  pass.new_message();
  const bool plain = !message->has_expiry();
  const mqtt::Properties* properties =
      message->has_properties() ? &message->properties() : nullptr;
  size_t next_id = 0;  // into pass.ids, sorted by index into matched
  for (uint32_t index = 0; index < pass.matched.size(); ++index) {
    const FanOutPass::Match& match = pass.matched[index];
    Session* session = match.session;
    ClientLink* link = session->client();
    session->note_live(message);
    const bool has_ids = next_id < pass.ids.size() && pass.ids[next_id].first == index;
    if (plain && !has_ids && takes_shared_qos0(match)) {
      if (link != nullptr && may_read(*session, message->topic())) {
        // The fan-out fast path: the head encoded once for every subscriber of a layout.
        link->send_qos0_shared(message,
                               pass.qos0_head(link->version(), message->topic(), properties,
                                              message->payload().size()));
      }
      continue;
    }
    message->ref();
    Delivery delivery{.message = message, .qos = match.qos, .retain = match.retain};
    for (; next_id < pass.ids.size() && pass.ids[next_id].first == index; ++next_id) {
      delivery.subscription_ids.push_back(pass.ids[next_id].second);
    }
    session->deliver(std::move(delivery));
  }
}

void FanOut::deliver_batch(const PublishBatch& batch, uint64_t now_ms) {
  mqtt::Publish publish;  // plain QoS 0: only the topic and payload change
  batch.for_each([&](const PublishBatch::Record& record) {
    publish.topic = record.topic;
    publish.payload = record.payload;
    FanOutPass& pass = match(record.topic, 0, false, record.origin_connection);
    if (!deliver_in_place(pass, publish, /*transient_payload=*/true)) {
      // A subscriber here needs a Message (identifiers, a referenced payload): made
      // here, from the record.
      Message* message = Message::create(publish, record.origin_connection, now_ms);
      deliver(pass, message);
      message->unref();
    }
  });
}

}  // namespace peregrine::broker
