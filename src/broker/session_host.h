// What a session uses of the shard it lives on: limits, counters, the held-bytes budget,
// the timer wheel and
// clock, the read check, and where its offline timer fires. ShardBroker implements it;
// the seeded simulation and unit tests can host sessions on their own. A session's host
// changes only when it moves with its client (rehoming), always to the shard it runs on.
#pragma once

#include <cstdint>
#include <string_view>

#include "include/peregrine/options.h"
#include "src/broker/broker_stats.h"
#include "src/broker/held_budget.h"
#include "src/io/timer_wheel.h"

namespace peregrine::broker {

class Session;

class SessionHost {
 public:
  // The shard it runs on (ownership checks in debug builds).
  virtual uint16_t shard_id() const = 0;
  virtual const Limits& limits() const = 0;
  virtual BrokerStats& stats() = 0;
  // The shard's account of held QoS 1/2 bytes (outlives every session it hosts).
  virtual HeldBudget& held_budget() = 0;
  virtual io::TimerWheel& wheel() = 0;
  virtual uint64_t now_ms() const = 0;
  // Whether the ACL lets `session` receive a message on `topic`.
  virtual bool may_read(const Session& session, std::string_view topic) const = 0;
  // `session`'s offline timer fired: its will delay or its expiry ran out.
  virtual void session_timer(Session* session) = 0;

 protected:
  ~SessionHost() = default;
};

}  // namespace peregrine::broker
