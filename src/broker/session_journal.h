// The persistent sessions of one shard, written to its durable log (issue 30): what makes
// a session durable (expiry > 0 at its CONNECT, at its home), the records each change to
// one appends (durable_records.h) — its fields, subscriptions, QoS 1/2 deliveries both
// ways — and the repair of what a failed write lost. A message its durable sessions hold
// is stored once on this shard (kMessage), however many hold it, and named by its
// MessageKey in their deliveries; it is forgotten (left to compaction) once none does.
// A session whose records were in a failed batch is written again, whole (or its end
// again), in the next batch, with the messages that batch held: the state on disk
// converges on the state in memory whatever the failures in between, without replaying
// operations out of order.
// Lives on its shard's thread. Bounds: pending records, one entry per session and batch
// not yet reported (one batch is in flight, one fills); the dirty set, at most one entry
// per session of the shard; stored messages, one entry per message durable sessions hold.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "include/peregrine/durable_log.h"
#include "src/broker/broker_stats.h"
#include "src/broker/durable_records.h"
#include "src/broker/session.h"
#include "src/broker/session_table.h"

namespace peregrine::broker {

// The clocks records take their times from: the shard's and the wall clock (epoch ms).
struct JournalClock {
  const void* self = nullptr;
  uint64_t (*now_ms)(const void*) = nullptr;
  int64_t (*wall_ms)(const void*) = nullptr;
};

class SessionJournal final : public DeliveryLog {
 public:
  SessionJournal(DurableLog& log, const SessionTable& sessions, BrokerStats& stats,
                 JournalClock clock);
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

  // DeliveryLog: a durable session's QoS 1/2 state.
  void taken(Session& session, const Delivery& delivery) override;
  void released(Session& session, const Delivery& delivery, uint16_t packet_id) override;
  void done(Session& session, uint64_t seq, const Message* message) override;
  void inbound(Session& session, uint16_t packet_id, bool awaiting_release) override;
  void will(Session& session, const Message* will, uint64_t due_ms) override;
  // The batch of the newest record appended (0: none yet).
  uint64_t last_appended() const { return _last_appended; }
  // Records appended since start (a count, for "did this call chain append any").
  uint64_t records_appended() const { return _records_appended; }
  uint64_t written_through() const override {
    return _healing_from != 0 ? std::min(_written, _healing_from - 1) : _written;
  }
  void wake_when_written(const Session& session, uint64_t ticket) override;

  // The ticket of the batch holding what was appended since the last call (0: nothing):
  // what an acknowledgement must wait for.
  uint64_t take_touched() {
    const uint64_t ticket = _touched > _reported ? _touched : 0;  // else on disk already
    _touched = 0;
    return ticket;
  }

  // Start-up: `message`, stored under `key`, is held by a restored delivery.
  void restored(const Message* message, const MessageKey& key);

  // `session` is written whole again in the next batch (its memory changed in a way its
  // records do not say: a refused SUBSCRIBE taken back).
  void rewrite(const Session& session) { _dirty.insert(session.client_id()); }
  // A batch is on disk or failed: the sessions and messages it held records of are
  // written again.
  void on_log_written(uint64_t ticket, int error);
  // Before the log's flush at the turn's end: the rewrites a failure asked for.
  void flush();

  // Compaction: the sessions durable when the snapshot began, `max` at a time after
  // `cursor` (an index into the list begin_snapshot took); true once all are added.
  void begin_snapshot();
  bool snapshot_slice(size_t& cursor, size_t max);

  // The key a session's records carry (the default virtual broker until tenancy lands).
  static SessionKey key_of(const Session& session) {
    return {std::string(session.scope_name()), session.client_id()};
  }
  size_t stored_messages() const { return _stored.size(); }

 private:
  enum class ImageFor : uint8_t { kNewlyDurable, kRewrite, kSnapshot };
  uint64_t append(const Session& session, RecordType type, const std::string& body);
  void put(ImageFor why, const Session& session, RecordType type, const std::string& body);
  void append_image(const Session& session, ImageFor why);
  void flush_dirty();
  SessionRecord record_of(const Session& session, bool full_image, int64_t offline) const;
  // The key of `message`, stored (a kMessage appended) on its first holder; `count`: one
  // more delivery holds it.
  MessageKey hold_message(const Message* message, ImageFor why, bool count);
  void let_go_message(const Message* message);

  DurableLog& _log;
  const SessionTable& _sessions;
  BrokerStats& _stats;
  JournalClock _clock;
  // A session with records in a batch not yet reported: by id (no copy of its client id
  // per batch on the delivery path); an end carries its client id, since the session is
  // gone when a failure asks for that end again. A session gone without an end here has
  // its end in a later batch, which stands or fails on its own.
  struct Pending {
    uint64_t ticket;
    uint64_t session_id;
    std::string ended_client_id;  // kSessionEnd only
  };
  std::deque<Pending> _pending;  // in log order
  absl::flat_hash_set<std::string> _dirty;
  std::vector<uint64_t> _snapshot_ids;  // session ids durable when the snapshot began
  // Messages held by durable sessions' deliveries: its key, how many hold it, and the
  // batch its kMessage record went in.
  struct Stored {
    MessageKey key;
    uint32_t holders = 0;
    uint64_t ticket = 0;
  };
  absl::flat_hash_map<const Message*, Stored> _stored;
  // Releases whose PUBREL waits for their write, in ticket order (one per PUBREC of a
  // durable session in the batches not yet reported), and those whose write failed,
  // waiting for the rewrite of their session.
  struct ReleaseWait {
    uint64_t ticket;
    uint64_t session_id;
    uint16_t packet_id;
  };
  std::deque<ReleaseWait> _release_waits;
  // Sessions holding PUBLISHes until the log is written through a ticket
  // (Session::start_send), in ticket order: one entry per session holding any.
  struct SendWait {
    uint64_t ticket;
    uint64_t session_id;
  };
  std::deque<SendWait> _send_waits;
  std::vector<ReleaseWait> _release_retry;
  absl::flat_hash_set<MessageKey> _snapshot_messages;  // the messages the snapshot holds
  uint64_t _epoch = 0;
  uint64_t _counter = 0;
  uint64_t _touched = 0;
  uint64_t _reported = 0;  // the last batch reported written or failed
  uint64_t _written = 0;   // the last batch reported written
  uint64_t _last_appended = 0;
  uint64_t _records_appended = 0;
  // The first failed batch whose sessions' rewrite is not yet written (0: none), and the
  // batch holding that rewrite (0: not yet appended): written_through() stays below it.
  uint64_t _healing_from = 0;
  uint64_t _healed_by = 0;
};

}  // namespace peregrine::broker
