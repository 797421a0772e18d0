// The bytes of QoS 1/2 messages a shard's sessions hold (in flight to their clients and
// queued for them, topic + payload), against the shard's share of the broker-wide budget
// (`[limits] held_bytes_budget` / shards).
//
// Policy at the bound: while the shard holds its share or more, a session may take a new
// QoS 1/2 message only while it holds less than its fair share (the shard's share divided
// by the sessions holding anything); sessions at or over it have new messages dropped and
// counted (`budget_dropped`). Publishers are never refused or slowed: only deliveries to
// the sessions that hold the most are dropped. A session holding nothing always takes
// one message. The total then stays under about twice the share: what was held when the
// bound was crossed, plus at most one fair share for each session that was under it.
//
// Lives on its shard's thread (in BrokerPort, which outlives every session). Invariants:
// `bytes` is the sum of every session's held bytes; `holders` counts the sessions whose
// held bytes are not zero (checked in the session's accounting); the queued share (not
// yet sent: beyond the client's receive window) is part of those, the rest is in flight.
#pragma once

#include <algorithm>
#include <cstdint>

#include "src/base/assert.h"

namespace peregrine::broker {

struct HeldBudget {
  uint64_t limit = 0;     // this shard's share; 0: no budget
  uint64_t bytes = 0;     // held by this shard's sessions
  uint32_t holders = 0;   // sessions holding something
  uint64_t messages = 0;  // the QoS 1/2 messages those bytes are (for the operator's gauges)
  uint64_t queued_bytes = 0;     // of `bytes`, in sessions' queues (the rest in flight)
  uint64_t queued_messages = 0;  // of `messages`, likewise
  bool over = false;      // an episode at the bound is running (logged once)

  bool at_bound() const { return limit != 0 && bytes >= limit; }
  // Whether a session holding `held` bytes may take another message now.
  bool admits(uint64_t held) const {
    return !at_bound() || held == 0 || held < limit / std::max<uint32_t>(holders, 1);
  }
  // A session's held bytes change from `before` by +`size` / -`size`.
  void grew(uint64_t before, uint64_t size) {
    holders += before == 0 && size != 0;
    bytes += size;
    messages++;
  }
  // A held message enters a session's queue / leaves it (sent, or let go from it).
  void queued(uint64_t size) {
    queued_bytes += size;
    queued_messages++;
  }
  void dequeued(uint64_t size) {
    PG_DASSERT(size <= queued_bytes && queued_messages > 0);
    queued_bytes -= size;
    queued_messages--;
  }
  void shrank(uint64_t before, uint64_t size) {
    PG_DASSERT(size <= before && size <= bytes);
    PG_DASSERT(holders > 0);
    PG_DASSERT(messages > 0);
    holders -= before == size && size != 0;
    bytes -= size;
    messages--;
  }
};

}  // namespace peregrine::broker
