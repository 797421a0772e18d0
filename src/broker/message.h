// An application message in flight: topic, payload and the v5 properties that travel with
// it [MQTT-3.3.2-*], copied once from the publisher's receive buffer into one allocation
// and shared, immutable, by every subscriber on every shard (DESIGN.md §3). A large
// payload may instead stay in its io_uring receive buffer, held until the message dies.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "src/io/shared_buffer.h"
#include "src/mqtt/packets.h"

namespace peregrine::io {
class RecvHold;  // src/io/recv_buffer_pool.h
}  // namespace peregrine::io

namespace peregrine::broker {

class MessageReclaimer;

class Message final : public io::SharedBuffer {
 public:
  // Copies what `in` views (its topic is the routing topic: scoped for a virtual
  // broker's message); topic alias and subscription identifiers are not carried
  // (they belong to one connection). The result holds one reference. With
  // `payload_hold`, a hold on the receive buffer `in.payload` lies in, the payload is
  // referenced there instead of copied, and the hold is released with the message.
  static Message* create(const mqtt::Publish& in, uint64_t origin_connection,
                         uint64_t received_ms, io::RecvHold* payload_hold = nullptr);
  // Payloads from this size up are worth referencing in their receive buffer.
  static constexpr size_t kHoldPayloadFrom = 4096;
  // Whether a PUBLISH with these properties makes a message with properties: those that
  // travel to subscribers [MQTT-3.3.2-*]; the rest belong to one connection.
  static bool carries_properties(const mqtt::Properties& properties);

  // The topic as its broker's clients see it: what is encoded, checked against ACLs and
  // grants, and told to hooks.
  std::string_view topic() const { return _topic; }
  // The topic inside the broker: the same, behind its virtual broker's scope if it has
  // one (src/mqtt/scope.h). What routes, keys retained messages and picks owner shards.
  std::string_view routing_topic() const {
    return std::string_view(_topic.data() - _scope_size, _topic.size() + _scope_size);
  }
  // The scope before topic() (empty for the default broker).
  std::string_view scope() const { return std::string_view(_topic.data() - _scope_size, _scope_size); }
  // Longest scope a message carries: its name fits a record's tenant field.
  static constexpr size_t kMaxScopeBytes = 255;
  std::span<const uint8_t> payload() const { return _payload; }
  uint8_t qos() const { return _qos; }
  bool retain() const { return _retain; }
  // The v5 properties that travel with the message; an empty set when it has none (most
  // messages: they then carry no Properties at all, ~340 bytes less per message).
  const mqtt::Properties& properties() const {
    return _properties != nullptr ? *_properties : kNoProperties;
  }
  bool has_properties() const { return _properties != nullptr; }
  bool has_expiry() const {
    return _properties != nullptr && _properties->message_expiry_interval.has_value();
  }
  // The message as a PUBLISH to fill in per delivery (QoS, retain, packet id, DUP); its
  // views point into this object.
  mqtt::Publish to_publish() const;
  uint64_t origin_connection() const { return _origin_connection; }
  // The shard that routed it and its place in that shard's routing order: every message
  // a shard routes is stamped first, before another shard can see it, with a number
  // greater than any it stamped before (a will again when it is published). The pair
  // names the message in the process; the order is what a retained scan is cut by
  // (scan_cut.h). Unstamped: kNoOrigin and 0 (a message no shard routes).
  static constexpr uint16_t kNoOrigin = 0xFFFF;
  void stamp(uint16_t origin, uint64_t seq) {
    _origin = origin;
    _seq = seq;
  }
  uint16_t origin() const { return _origin; }
  uint64_t seq() const { return _seq; }
  uint64_t received_ms() const { return _received_ms; }
  // Seconds of Message Expiry Interval left at `now_ms` [MQTT-3.3.2-6]; nullopt: none set.
  // 0 means expired.
  std::optional<uint32_t> expiry_left(uint64_t now_ms) const;

 private:
  friend class MessageReclaimer;
  static constexpr uint16_t kNoHome = 0xFFFF;
  static const mqtt::Properties kNoProperties;

  Message() = default;
  ~Message() override;
  void destroy() override;
  void free_now();

  // Layout of one allocation: this object, then the Properties when the message has any,
  // then the bytes every view points at.
  std::string_view _topic;
  std::span<const uint8_t> _payload;
  mqtt::Properties* _properties = nullptr;
  uint64_t _origin_connection = 0;
  uint64_t _received_ms = 0;
  uint64_t _seq = 0;
  Message* _next_dead = nullptr;  // in a MessageReclaimer's list, once unreferenced
  io::RecvHold* _payload_hold = nullptr;  // the receive buffer _payload lies in, if held
  uint16_t _home = kNoHome;       // the shard whose thread allocated it
  uint16_t _origin = kNoOrigin;   // the shard that routed it (stamp())
  uint8_t _qos = 0;
  bool _retain = false;
  uint8_t _scope_size = 0;  // bytes of the scope before _topic (in the same block)
};

// Messages are freed by the shard that allocated them. glibc frees a chunk of another
// thread's arena under that arena's lock, which its owner takes for every malloc: state
// shared across shards on the message path. A shard installs one reclaimer on its thread;
// a message of another shard dying there is linked into the list for its home, which the
// shard hands back once a turn (a mail::Reclaim) for the home to free.
// Off shard threads (tests, teardown) a message is freed where it dies. Bounded by the
// messages in flight: a list holds only messages its home allocated and sent over.
class MessageReclaimer {
 public:
  MessageReclaimer(uint16_t shard, uint16_t shards);
  ~MessageReclaimer();  // frees what it still holds (after the shard threads are joined)
  MessageReclaimer(const MessageReclaimer&) = delete;
  MessageReclaimer& operator=(const MessageReclaimer&) = delete;

  // Makes this the reclaimer of the calling thread (the shard's), or none.
  void install();
  static void uninstall();

  // Takes the list of dead messages whose home is `home` (nullptr: none).
  Message* take(uint16_t home);
  // Frees a list taken on another shard; on the list's home thread.
  static void free_list(Message* head);

 private:
  friend class Message;
  void give_back(Message* message);

  const uint16_t _shard;
  std::vector<Message*> _lists;  // by home shard
};

}  // namespace peregrine::broker
