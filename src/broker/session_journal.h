// The persistent sessions of one shard, written to its durable log (issue 30): what makes
// a session durable (expiry > 0 at its CONNECT, at its home), the records each change to
// one appends (durable_records.h), and the repair of what a failed write lost. A session
// the log holds is `durable`; one whose records were in a failed batch is written again,
// whole (or its end again), in the next batch: the state on disk converges on the state
// in memory whatever the failures in between, without replaying operations out of order.
// Lives on its shard's thread. Bounds: pending records, one entry per session record
// appended and not yet reported (one turn's, as one batch is in flight); the dirty set,
// at most one entry per session of the shard.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "include/peregrine/durable_log.h"
#include "src/broker/broker_stats.h"
#include "src/broker/durable_records.h"
#include "src/broker/session.h"
#include "src/broker/session_table.h"

namespace peregrine::broker {

class SessionJournal {
 public:
  // `wall_ms(clock)`: the wall clock in epoch milliseconds (offline times).
  SessionJournal(DurableLog& log, const SessionTable& sessions, BrokerStats& stats,
                 int64_t (*wall_ms)(const void*), const void* clock)
      : _log(log), _sessions(sessions), _stats(stats), _wall_ms(wall_ms), _clock(clock) {}
  SessionJournal(const SessionJournal&) = delete;
  SessionJournal& operator=(const SessionJournal&) = delete;

  // A CONNECT opened or resumed `session` with its final expiry and identity: written
  // whole when it becomes durable, its fields otherwise; its end when its expiry is 0.
  void connected(Session& session);
  // Its connection ended and it goes on (expiry > 0): offline from now.
  void disconnected(Session& session);
  // It ended (expiry, clean start, expiry 0 at the end of its connection).
  void ended(Session& session);
  // Subscription changes made by the client (an ending session's are implied by its end).
  // Return the ticket of the batch holding the record (0: none was needed).
  uint64_t subscribed(Session& session, std::string_view filter,
                      const SubscriptionOptions& options);
  uint64_t unsubscribed(Session& session, std::string_view filter);

  // `session` is written whole again in the next batch (its memory changed in a way its
  // records do not say: a refused SUBSCRIBE taken back).
  void rewrite(const Session& session) { _dirty.insert(session.client_id()); }
  // A batch is on disk or failed: the sessions it held records of are written again.
  void on_log_written(uint64_t ticket, int error);
  // Before the log's flush at the turn's end: the rewrites a failure asked for.
  void flush();

  // Compaction: the sessions durable when the snapshot began, `max` at a time after
  // `cursor` (an index into the list begin_snapshot took); true once all are added.
  void begin_snapshot();
  bool snapshot_slice(size_t& cursor, size_t max);

  // The key a session's records carry (the default virtual broker until tenancy lands).
  static SessionKey key_of(const Session& session) { return {"", session.client_id()}; }

 private:
  uint64_t append(const Session& session, RecordType type, const std::string& body);
  void append_image(const Session& session, bool snapshot);
  SessionRecord record_of(const Session& session, bool full_image, int64_t offline) const;

  DurableLog& _log;
  const SessionTable& _sessions;
  BrokerStats& _stats;
  int64_t (*_wall_ms)(const void*);
  const void* _clock;
  struct Pending {
    uint64_t ticket;
    std::string client_id;
  };
  std::deque<Pending> _pending;  // in log order
  absl::flat_hash_set<std::string> _dirty;
  std::vector<uint64_t> _snapshot_ids;  // session ids durable when the snapshot began
};

}  // namespace peregrine::broker
