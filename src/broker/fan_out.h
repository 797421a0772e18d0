// Fan-out on one shard (DESIGN.md §3): a message's topic matched once against the routing
// table — this shard's sessions, each once at the highest QoS of its matching
// subscriptions with every identifier [MQTT-3.3.4-2, MQTT-3.3.4-4], and the shards with
// subscribers — then delivered in one of three ways: in place (plain QoS 0 copied from
// the publisher's read buffer, no Message), from a batch record, or from a Message (the
// QoS 0 head encoded once per layout and shared, per-session heads for the rest).
// A match is a FanOutPass, handed from match() to the deliver calls; the shard keeps one
// and reuses its storage message after message. Lives on its shard's thread. Bounds:
// a pass holds one entry per matching subscription of this shard's sessions.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "include/peregrine/authorizer.h"
#include "src/broker/broker_stats.h"
#include "src/broker/message.h"
#include "src/broker/publish_batch.h"
#include "src/broker/route_memo.h"
#include "src/broker/routing_table.h"
#include "src/broker/session.h"
#include "src/mqtt/packets.h"

namespace peregrine::broker {

// One message's match on this shard and the QoS 0 heads encoded for it.
class FanOutPass {
 public:
  using Match = RouteMemo::Match;

  uint64_t shards = 0;        // shards with a matching filter (this one's bit too)
  std::vector<Match> matched;  // this shard's sessions, one each
  // (index into matched, subscription identifier), by index, each session's identifiers
  // in the order its subscriptions matched.
  std::vector<std::pair<uint32_t, uint32_t>> ids;
  // The publisher's memo this match came from or went into (QoS 0 in place uses its
  // head); nullptr: none.
  RouteMemo* memo = nullptr;

  // The QoS 0 PUBLISH head of this pass's message in `version`'s layout, encoded on
  // first use.
  std::span<const uint8_t> qos0_head(mqtt::ProtocolVersion version, std::string_view topic,
                                     const mqtt::Properties* properties, size_t payload_size);
  // Forgets the heads: the next message is another.
  void new_message() {
    _head_ready[0] = false;
    _head_ready[1] = false;
  }
  void clear() {
    shards = 0;
    matched.clear();
    ids.clear();
    memo = nullptr;
    new_message();
  }

 private:
  // Each keeps the largest size it has had; the head is its first _head_size bytes (a
  // resize per message value-initialised the bytes it was about to write).
  std::vector<uint8_t> _head[2];  // [0] v3.1/3.1.1, [1] v5
  size_t _head_size[2] = {0, 0};
  bool _head_ready[2] = {false, false};
};

class FanOut {
 public:
  FanOut(RoutingTable& routes, BrokerStats& stats, const Authorizer* authorizer,
         uint16_t self);
  // A reload: the ACL asked from now on (the old one stays alive: main keeps it).
  void set_authorizer(const Authorizer* authorizer) { _authorizer = authorizer; }

  // Matches `topic` for a message of `qos` and `retain`; `origin`: the publishing
  // connection (No Local [MQTT-3.8.3-3]).
  FanOutPass& match(std::string_view topic, uint8_t qos, bool retain, uint64_t origin);
  FanOutPass& match(const Message& message) {
    return match(message.routing_topic(), message.qos(), message.retain(),
                 message.origin_connection());
  }
  // match() for a PUBLISH from the connection `origin` with `memo` (its last match,
  // made on first use): replayed when the topic, QoS and retain flag are those of its
  // last one and the filters are unchanged.
  FanOutPass& match_publish(std::unique_ptr<RouteMemo>& memo, uint64_t origin,
                            std::string_view topic, uint8_t qos, bool retain);

  // A plain QoS 0 PUBLISH (never RETAIN: a retained scan has nothing to note of it)
  // whose matched subscribers are all on this shard and all take
  // the QoS 0 fast path with copied payloads: sends it to them straight from `publish`'s
  // bytes and returns true. Returns false, having sent nothing, when any of them needs a
  // Message. `transient_payload`: the bytes are gone once this returns (a batch record),
  // so a lone subscriber always takes a copy. `publish.topic` is the routing topic (a
  // virtual broker's scoped: it is unscoped for the subscribers).
  bool deliver_in_place(FanOutPass& pass, const mqtt::Publish& publish,
                        bool transient_payload = false);
  // `message` to the pass's sessions.
  void deliver(FanOutPass& pass, Message* message);
  // Each record of a batch from another shard, to this shard's subscribers.
  void deliver_batch(const PublishBatch& batch, uint64_t now_ms);

  bool may_read(const Session& session, std::string_view topic) const {
    return _authorizer == nullptr || !_authorizer->may_deny_reads() ||
           _authorizer->allow_read(session.identity(), topic);
  }

 private:
  // Several filters matched: a session subscribed through more than one gets one entry at
  // the highest QoS, retain if any asks, and all its identifiers.
  void merge_overlaps(FanOutPass& pass);
  // The head of a plain QoS 0 PUBLISH of routing topic `topic` (sent unscoped).
  std::span<const uint8_t> in_place_head(FanOutPass& pass, mqtt::ProtocolVersion version,
                                         std::string_view topic, size_t payload_size);

  RoutingTable& _routes;
  BrokerStats& _stats;
  const Authorizer* _authorizer;  // nullptr: allow everything; shared, read-only
  const uint16_t _self;
  FanOutPass _pass;
  std::vector<uint32_t> _order;  // merge_overlaps()' scratch
  std::vector<uint32_t> _remap;
};

}  // namespace peregrine::broker
