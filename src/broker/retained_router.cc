#include "src/broker/retained_router.h"

#include "src/broker/durable_records.h"

#include <algorithm>

#include "src/base/log.h"
#include "src/base/owner.h"
#include "src/broker/shard_for.h"
#include "src/mqtt/scope.h"

namespace peregrine::broker {

void mail::RetainScan::discard() const { delete scan; }
void mail::RetainBatch::discard() const { delete scan; }

namespace {
bool has_wildcard(std::string_view filter) {
  return filter.find_first_of("+#") != std::string_view::npos;
}
}  // namespace

RetainedRouter::RetainedRouter(Outbox& outbox, const SessionTable& sessions,
                               BrokerStats& stats, const Limits& limits)
    : _outbox(outbox),
      _sessions(sessions),
      _stats(stats),
      _limits(limits),
      _store(std::max<uint64_t>(1, limits.max_retained_messages / outbox.count()),
             std::max<uint64_t>(1, limits.max_retained_bytes / outbox.count())) {}

void RetainedRouter::limits_changed() {
  _store.set_limits(std::max<uint64_t>(1, _limits.max_retained_messages / _outbox.count()),
                    std::max<uint64_t>(1, _limits.max_retained_bytes / _outbox.count()));
}

RetainedRouter::~RetainedRouter() {
  for (RetainedScan* scan : _parked) {
    delete scan;
  }
  for (const Pending& p : _pending) {
    p.message->unref();  // the shard stopped before its write was reported
    if (p.previous != nullptr) {
      p.previous->unref();
    }
  }
}

uint16_t RetainedRouter::owner(std::string_view topic) const {
  return shard_for(topic, _outbox.count());
}

RetainOutcome RetainedRouter::store(Message* message, uint64_t connection, uint32_t token) {
  PG_DASSERT_OWNER(_outbox.self());
  const uint16_t to = owner(message->routing_topic());
  if (to != _outbox.self()) {
    _outbox.post(to, mail::RetainStore{message, connection, token});
    return token != 0 ? RetainOutcome::kLater : RetainOutcome::kNone;
  }
  return on_store({message, connection, token}, to);
}

std::string RetainedRouter::record_of(const Message& message) const {
  // Its age carried over to the wall clock, for its expiry.
  const uint64_t now = _now_ms(_clock);
  const uint64_t age_ms = now - std::min(message.received_ms(), now);
  return encode_retained(message, _wall_ms(_clock) - static_cast<int64_t>(age_ms));
}

void RetainedRouter::undo(const Pending& failed) {
  // A later message for the topic, still waiting for its own write, took over from this
  // one: what it replaced is now what came before this one (which never happened).
  for (Pending& later : _pending) {
    if (later.message->routing_topic() == failed.message->routing_topic()) {
      if (later.previous != nullptr) {
        later.previous->unref();
      }
      later.previous = failed.previous;
      return;
    }
  }
  _store.undo(failed.message->routing_topic(),
              failed.message->payload().empty() ? nullptr : failed.message, failed.previous);
}

bool RetainedRouter::snapshot_slice(std::string& cursor, size_t max) {
  return _store.each(cursor, max, [&](const Message& message) {
    const std::string body = record_of(message);
    _log->append_snapshot(static_cast<uint8_t>(RecordType::kRetained),
                          std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
  });
}

RetainOutcome RetainedRouter::on_store(const mail::RetainStore& mail, uint16_t from) {
  // $SYS/ is the broker's own (clients may not publish there): made afresh by each
  // process, never worth a write, and a stale one must not come back at a restart.
  if (_log != nullptr && !mail.message->topic().starts_with("$SYS/")) {
    Message* message = mail.message;
    message->ref();  // ours, for the write and a possible undo
    Message* previous = nullptr;
    if (_store.store(message, &previous) == RetainedStore::StoreResult::kRefused) {
      _stats.retained_refused++;
      PG_DEBUG("retained message refused: retained limits reached");
      message->unref();
      if (mail.token != 0 && from != _outbox.self()) {
        answer(from, mail.connection, mail.token, false);
      }
      return RetainOutcome::kRefused;  // nothing kept: nothing to write
    }
    const std::string body = record_of(*message);
    const uint64_t ticket = _log->append(
        static_cast<uint8_t>(RecordType::kRetained),
        std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
    _pending.push_back({ticket, message, previous, from, mail.connection, mail.token});
    return mail.token != 0 ? RetainOutcome::kLater : RetainOutcome::kNone;
  }
  const bool stored = keep(mail.message);
  if (mail.token != 0 && from != _outbox.self()) {
    answer(from, mail.connection, mail.token, stored);
  }
  return stored ? RetainOutcome::kStored : RetainOutcome::kRefused;
}

bool RetainedRouter::keep(Message* message) {
  const bool stored = _store.store(message) != RetainedStore::StoreResult::kRefused;
  if (!stored) {
    _stats.retained_refused++;
    PG_DEBUG("retained message refused: retained limits reached");
  }
  return stored;
}

void RetainedRouter::answer(uint16_t from, uint64_t connection, uint32_t token, bool stored) {
  _outbox.post(from, mail::RetainAnswer{connection, token, stored});
}

void RetainedRouter::use_log(DurableLog* log, uint64_t (*now_ms)(const void*),
                             int64_t (*wall_ms)(const void*), const void* clock) {
  _log = log;
  _now_ms = now_ms;
  _wall_ms = wall_ms;
  _clock = clock;
}

void RetainedRouter::restore(Message* message) {
  if (owner(message->routing_topic()) != _outbox.self()) {
    // Not this shard's (main moves logs of another shard count before the shards start):
    // never expected; dropped rather than kept where no lookup would find it.
    message->unref();
    return;
  }
  keep(message);
  _stats.retained_restored++;
}

void RetainedRouter::on_log_written(uint64_t ticket, int error) {
  while (!_pending.empty() && _pending.front().ticket <= ticket) {
    const Pending p = _pending.front();
    _pending.pop_front();
    PG_ASSERT(p.ticket == ticket);  // batches are reported in order, each once
    const bool stored = error == 0;
    if (stored) {
      if (p.previous != nullptr) {
        p.previous->unref();
      }
    } else {
      _stats.retained_log_failed++;
      undo(p);
    }
    p.message->unref();
    if (p.token != 0) {
      answer(p.from, p.connection, p.token, stored);
    }
  }
}

void RetainedRouter::start_scans(Session* session,
                                 const std::vector<RetainedRequest>& requests,
                                 std::shared_ptr<const ScanCut> cut) {
  PG_DASSERT_OWNER(_outbox.self());
  PG_ASSERT(cut != nullptr && cut->home == _outbox.self());
  for (const RetainedRequest& request : requests) {
    const bool wildcard = has_wildcard(request.filter);
    const uint16_t first = wildcard ? 0 : owner(request.filter);
    const uint16_t last = wildcard ? _outbox.count() - 1 : first;
    for (uint16_t to = first; to <= last; ++to) {
      auto* scan = new RetainedScan{_outbox.self(), to, session->id, request.filter,
                                    request.options, {}, false, {}, cut};
      session->active_scans++;
      _outbox.post(to, mail::RetainScan{scan});
    }
  }
}

void RetainedRouter::on_scan(const mail::RetainScan& mail, uint64_t now_ms) {
  RetainedScan* scan = mail.scan;
  PG_DASSERT(scan->owner == _outbox.self());
  if (!has_wildcard(scan->filter)) {
    scan->done = true;  // a plain topic: one lookup
    if (Message* message = _store.lookup(scan->filter, now_ms)) {
      scan->batch.push_back(message);
    }
  } else {
    scan->done = _store.scan(scan->filter, scan->cursor, kScanExamined, kScanBatch, now_ms,
                             scan->batch);
  }
  _outbox.post(scan->home, mail::RetainBatch{scan});
}

void RetainedRouter::finish(Session* session) {
  session->end_scan();
  if (session->active_scans == 0) {
    PG_DEBUG("retained scans done client_id=%s", mqtt::printable(session->client_id()).c_str());
  }
}

void RetainedRouter::on_batch(RetainedScan* scan) {
  PG_DASSERT(scan->home == _outbox.self());
  Session* session = _sessions.find(scan->session_id);
  if (session == nullptr || session->client() == nullptr || _stopping) {
    if (session != nullptr) {
      finish(session);
    }
    delete scan;  // the subscriber went away: the rest is not owed to anyone
    return;
  }
  for (Message* message : scan->batch) {
    const ScanCut::Verdict verdict = scan->cut->judge(*message);
    if (verdict == ScanCut::Verdict::kLive ||
        (verdict == ScanCut::Verdict::kUnlessNoted && session->got_live(message))) {
      _stats.retained_scan_live++;
      message->unref();  // it came, or comes, live after the subscription: once is enough
      continue;
    }
    // Retained on subscribe: RETAIN set [MQTT-3.3.1-8], QoS the lower of the two.
    Delivery delivery{.message = message,
                      .qos = std::min(scan->options.max_qos, message->qos()),
                      .retain = true};
    if (scan->options.subscription_id != 0) {
      delivery.subscription_ids.push_back(scan->options.subscription_id);
    }
    session->deliver(std::move(delivery));
  }
  scan->batch.clear();
  if (scan->done) {
    finish(session);
    delete scan;
    return;
  }
  if (!session->has_room_for(_limits.outbound_buffer_bytes / 4,
                             _limits.max_queued_messages / 2)) {
    _parked.push_back(scan);
    return;
  }
  _outbox.post(scan->owner, mail::RetainScan{scan});
}

void RetainedRouter::resume_parked() {
  if (_parked.empty()) {
    return;
  }
  std::vector<RetainedScan*> parked;
  parked.swap(_parked);
  for (RetainedScan* scan : parked) {
    on_batch(scan);  // an empty batch: asks for more when there is room
  }
}

}  // namespace peregrine::broker
