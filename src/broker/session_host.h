// What a session uses of the shard it lives on: limits, counters, the held-bytes budget,
// the timer wheel and
// clock, the read check, where its offline timer fires, and the log of durable sessions. ShardBroker implements it;
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
struct Delivery;
class Message;

// What a durable session's QoS 1/2 state changes tell its shard's log
// (session_journal.h). Called only for a session whose `durable` is set.
class DeliveryLog {
 public:
  // `delivery` (seq assigned) is now held: queued or sent.
  virtual void taken(Session& session, const Delivery& delivery) = 0;
  // PUBREC came for `delivery` (sent under `packet_id`); its message is let go next. Its
  // PUBREL waits for this record's write (the client forgets the id once it has PUBREL:
  // a restart that had not written the release would send the message again as new):
  // Session::release_written() follows.
  virtual void released(Session& session, const Delivery& delivery, uint16_t packet_id) = 0;
  // The delivery `seq` is over; `message` is what it held (nullptr once released).
  virtual void done(Session& session, uint64_t seq, const Message* message) = 0;
  // A QoS 2 PUBLISH `packet_id` was received (awaiting PUBREL), or released.
  virtual void inbound(Session& session, uint16_t packet_id, bool awaiting_release) = 0;
  // Its delayed will is now `will`, due at `due_ms` on the shard clock; nullptr: none
  // (sent, or dropped by a new connection).
  virtual void will(Session& session, const Message* will, uint64_t due_ms) = 0;
  // Every batch up to this ticket is written (a failed one counts once the rewrite of
  // its sessions is written): records appended with a ticket at most this are on disk.
  virtual uint64_t written_through() const = 0;
  // Session::log_caught_up() follows once batch `ticket` is reported.
  virtual void wake_when_written(const Session& session, uint64_t ticket) = 0;

 protected:
  ~DeliveryLog() = default;
};

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
  // The shard's log for durable sessions' QoS 1/2 state (nullptr: no persistence).
  virtual DeliveryLog* delivery_log() { return nullptr; }

 protected:
  ~SessionHost() = default;
};

}  // namespace peregrine::broker
