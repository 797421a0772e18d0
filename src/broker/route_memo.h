// What the shard's filters matched for a publisher's last topic (with that message's QoS
// and retain flag), kept so the next such message skips FanOut::match(): a publisher
// mostly sends to one topic over and over. TopicTrie's own cache already saves the walk;
// this saves what remains of a match, per publisher and without hashing the topic: the
// cache's hash and lookup, the walk when that set was evicted, and the loop over each
// matched entry's subscribers (No Local, QoS, overlapping subscriptions). In pairs
// (callgrind) the match and its callees were ~250 of ~1,750 instructions a message and a
// replay is ~90; the head kept for the QoS 0 in-place path saves ~100 more.
//
// Owned by one Client on the shard that made it. Valid while the shard's filter epoch
// (bumped by every change to its trie: subscribe, unsubscribe, a route from another
// shard, a session's filters dropped) and the shard are those it was made with, so its
// Session pointers are only read while every one of them is still in the trie. Bounded:
// a topic matching more than kMaxSessions sessions is not kept (a large fan-out walks
// its subscriber list anyway), nor a match that carries subscription identifiers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace peregrine::broker {

class Session;

struct RouteMemo {
  static constexpr size_t kMaxSessions = 64;

  // One matched session with the QoS and retain flag the match gave it.
  struct Match {
    Session* session;
    uint8_t qos;
    bool retain;
  };

  bool matches(uint16_t on_shard, uint64_t filters_epoch, std::string_view topic_name,
               uint8_t message_qos, bool message_retain) const {
    // Sizes first, then the bytes: std::string == string_view went through an
    // out-of-line compare() that orders as well.
    return epoch == filters_epoch && shard == on_shard && qos == message_qos &&
           retain == message_retain && topic.size() == topic_name.size() &&
           std::memcmp(topic.data(), topic_name.data(), topic.size()) == 0;
  }

  // A QoS 0 head for `topic` in one layout (v3, v5), valid for payloads of
  // `payload_size` bytes: a publisher's messages mostly keep their size, so the head sent
  // from its read buffer is encoded once, not once a message.
  struct Head {
    std::vector<uint8_t> bytes;
    size_t payload_size = SIZE_MAX;  // SIZE_MAX: none yet
  };

  uint64_t epoch = 0;  // 0: holds nothing (a shard's epoch starts at 1)
  uint16_t shard = 0;
  uint8_t qos = 0;      // the message's
  bool retain = false;  // the message's
  uint64_t shards = 0;  // the match's shards with a matching filter
  std::string topic;
  std::vector<Match> matched;  // on this shard, in match order
  Head heads[2];               // [0] v3.1/3.1.1, [1] v5; for `topic`
};

}  // namespace peregrine::broker
