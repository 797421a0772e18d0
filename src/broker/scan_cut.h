// Where a new subscription's retained scans end and its live traffic begins: which
// retained message a scan finds the subscriber gets from the scan, and which it gets (or
// got) live, so that none comes twice and none is skipped (retained_router.h).
//
// A scan reads the owner shard's store some time after the SUBSCRIBE; a retained message
// published meanwhile can be both in the store and on its way live, in either order. The
// cut decides by where the message was routed, not by what the subscriber happened to
// see: every message a shard routes is stamped with that shard and a number that grows
// with its routing order (Message::stamp). For one SUBSCRIBE on shard `home` and each
// shard P, three numbers:
//  - `before[class]`: the last message P had routed here, of each delivery class, when
//    the subscriptions were added. Mail from P to here keeps its order within a class
//    (QoS 1/2 waits in order behind a full mailbox; QoS 0 is dropped there, never
//    reordered, though it may overtake waiting QoS 1/2), so every message of that class P
//    routed here up to it had arrived: none of them reached the subscription live.
//  - `acked`: P's count when it sent the last route ack this shard had at the SUBACK.
//    The SUBACK waits until every shard applied the new routes (routing_table.h), so P
//    routes every later message on these topics here; and all P routed here up to its ack
//    arrived before the ack.
// So a message of P numbered s, of class c, found by the scan:
//  - s <= before[c]: it never came live after the subscription: the scan delivers it.
//  - s >  max(acked, before[c]): it came, or comes, live after the subscription: skipped.
//  - between: if P routed it here it arrived between the SUBSCRIBE and the SUBACK, which
//    the session noted (Session::note_live): delivered unless noted.
// For `home` itself both are its own count at the SUBSCRIBE: its later messages met the
// subscription as they were routed. A QoS 0 message past the cut that a full mailbox
// dropped reaches the subscriber neither way; it was published after the subscription
// took effect on its shard, so it is the live path's loss (counted in mailbox_dropped),
// as for any QoS 0 message.
// Made at the SUBSCRIBE on its home, completed when the SUBACK leaves, then read-only;
// shared by that SUBSCRIBE's scans and dies with the last of them, on home's thread.
#pragma once

#include <cstdint>
#include <vector>

#include "src/broker/message.h"

namespace peregrine::broker {

struct ScanCut {
  enum class Verdict : uint8_t {
    kDeliver,        // the scan delivers it
    kLive,           // it came or comes live: the scan skips it
    kUnlessNoted,    // the scan delivers it unless the session noted it live
  };
  struct Origin {
    uint64_t before[2] = {0, 0};  // by class: [0] QoS 1/2, [1] QoS 0
    uint64_t acked = 0;
  };

  static constexpr int class_of(uint8_t qos) { return qos == 0 ? 1 : 0; }

  Verdict judge(uint16_t origin, uint64_t seq, uint8_t qos) const {
    if (origin >= origins.size()) {
      return Verdict::kDeliver;  // unstamped: no shard routed it live
    }
    const Origin& o = origins[origin];
    const uint64_t before = o.before[class_of(qos)];
    if (seq <= before) {
      return Verdict::kDeliver;
    }
    return seq > (o.acked > before ? o.acked : before) ? Verdict::kLive
                                                       : Verdict::kUnlessNoted;
  }
  Verdict judge(const Message& message) const {
    return judge(message.origin(), message.seq(), message.qos());
  }

  uint16_t home = 0;
  std::vector<Origin> origins;  // by shard
};

}  // namespace peregrine::broker
