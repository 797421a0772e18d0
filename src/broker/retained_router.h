// Retained messages across shards (DESIGN.md §2): each topic's retained message lives on
// its owner shard (shard_for(topic)), in this shard's RetainedStore for the topics it
// owns. A retained publish is stored here or posted to the owner. A new subscription's
// retained messages come from scans: one per owner (every shard for a wildcard filter,
// the topic's owner otherwise), each bouncing between the subscriber's home and the owner
// — the owner fills a batch of at most kScanBatch after examining at most kScanExamined
// entries, the home delivers it and asks for more only while the session has room. So a
// large scan is time-sliced and paced by the subscriber. What a scan finds that also
// comes live is delivered once: its SUBSCRIBE's ScanCut (scan_cut.h) says which path
// owns each message, however long the scan runs and in whichever order the two arrive.
// Lives on its shard's thread; a RetainedScan is made at the subscriber's home and dies
// there (or, never handled, when its mail is discarded). Bounds: the store's count and
// bytes (its share of the broker's limits); parked scans: at most one per running scan.
//
// With a durable log (persistence on), the owner keeps each retained message at once (a
// new subscriber sees it, as live ones already have) and appends it to its shard's log;
// the publisher's answer goes out once that write is on disk. A failed write takes the
// store back to what it held (unless a later message replaced it meanwhile) and answers
// refused (0x97, as at the limits). $SYS/ messages, the broker's own, are kept in memory
// only.
// Pending messages wait in log order: at most what one turn of the shard appends.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "include/peregrine/durable_log.h"
#include "include/peregrine/options.h"
#include "src/broker/broker_stats.h"
#include "src/broker/message.h"
#include "src/broker/outbox.h"
#include "src/broker/retain_outcome.h"
#include "src/broker/retained_store.h"
#include "src/broker/scan_cut.h"
#include "src/broker/session.h"
#include "src/broker/session_table.h"
#include "src/broker/shard_mail.h"

namespace peregrine::broker {

// One retained-message scan for one new subscription.
struct RetainedScan {
  uint16_t home;
  uint16_t owner;
  uint64_t session_id;
  std::string filter;
  SubscriptionOptions options;
  std::string cursor;
  bool done = false;
  std::vector<Message*> batch;  // a reference each
  std::shared_ptr<const ScanCut> cut;  // touched on home's thread only

  ~RetainedScan() {
    for (Message* message : batch) {
      message->unref();
    }
  }
};

class RetainedRouter {
 public:
  // Per slice of a scan: entries examined and messages returned. Small enough that one
  // slice is a few hundred microseconds of work at most.
  static constexpr size_t kScanExamined = 4096;
  static constexpr size_t kScanBatch = 256;

  RetainedRouter(Outbox& outbox, const SessionTable& sessions, BrokerStats& stats,
                 const Limits& limits);
  ~RetainedRouter();
  RetainedRouter(const RetainedRouter&) = delete;
  RetainedRouter& operator=(const RetainedRouter&) = delete;

  uint16_t owner(std::string_view topic) const;
  // Retained messages held here (the topics this shard owns).
  size_t size() const { return _store.size(); }
  std::vector<std::string> topics_in_scope(std::string_view scope, size_t max) const {
    return _store.topics_in_scope(scope, max);
  }
  uint64_t bytes() const { return _store.bytes(); }
  // A reload: the store's share of the new retained limits (read from limits() again).
  void limits_changed();

  // Stores `message` (one reference) on its owner shard. With a `token`, the publisher's
  // connection `connection` wants to know the outcome: told now when this shard owns the
  // topic, else by a RetainAnswer mail back to this shard (kLater).
  RetainOutcome store(Message* message, uint64_t connection = 0, uint32_t token = 0);
  // The owner: keeps it (or refuses it at the limits), answering `from` if asked; with a
  // log, once its write is on disk (kLater).
  RetainOutcome on_store(const mail::RetainStore& mail, uint16_t from);

  // Persistence: the shard's log, and the clocks a record's time is taken from (the
  // shard's, and the wall clock in epoch milliseconds).
  void use_log(DurableLog* log, uint64_t (*now_ms)(const void*), int64_t (*wall_ms)(const void*),
               const void* clock);
  // Start-up: a retained message replayed from the log (one reference).
  void restore(Message* message);
  // A log batch is on disk (error 0) or failed: its retained messages are kept or
  // refused, and their publishers answered.
  void on_log_written(uint64_t ticket, int error);
  // The batch of the newest retained record not yet reported written (0: none waits).
  uint64_t last_pending_ticket() const {
    return _pending.empty() ? 0 : _pending.back().ticket;
  }
  // Compaction: adds up to `max` retained messages after `cursor` to the log's snapshot;
  // true once every one was added.
  bool snapshot_slice(std::string& cursor, size_t max);

  // Starts the scans `session` is owed for its new subscriptions (after its SUBACK),
  // cut by `cut`.
  void start_scans(Session* session, const std::vector<RetainedRequest>& requests,
                   std::shared_ptr<const ScanCut> cut);
  // The owner: fill the scan's next batch.
  void on_scan(const mail::RetainScan& mail, uint64_t now_ms);
  // Home: deliver a batch and ask for more while the session has room.
  void on_batch(RetainedScan* scan);
  // Turn end: scans that waited for their session to drain ask again.
  void resume_parked();
  // Shutting down: scans end as their batches come home.
  void stop() { _stopping = true; }

 private:
  void finish(Session* session);

  Outbox& _outbox;
  const SessionTable& _sessions;
  BrokerStats& _stats;
  const Limits& _limits;
  RetainedStore _store;
  std::vector<RetainedScan*> _parked;  // waiting for their session to drain
  // Persistence.
  void answer(uint16_t from, uint64_t connection, uint32_t token, bool stored);
  std::string record_of(const Message& message) const;
  bool keep(Message* message);
  DurableLog* _log = nullptr;
  uint64_t (*_now_ms)(const void*) = nullptr;
  int64_t (*_wall_ms)(const void*) = nullptr;
  const void* _clock = nullptr;
  struct Pending {
    uint64_t ticket;
    Message* message;   // one reference: what was stored (an empty payload: a delete)
    Message* previous;  // what the topic held before (a reference), for an undo; or null
    uint16_t from;
    uint64_t connection;
    uint32_t token;
  };
  std::deque<Pending> _pending;  // in log order
  void undo(const Pending& failed);
  bool _stopping = false;
};

}  // namespace peregrine::broker
