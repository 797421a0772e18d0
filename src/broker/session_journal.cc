#include "src/broker/session_journal.h"

#include "src/base/assert.h"
#include "src/base/log.h"

namespace peregrine::broker {

SessionRecord SessionJournal::record_of(const Session& session, bool full_image,
                                        int64_t offline) const {
  SessionRecord record;
  record.full_image = full_image;
  record.key = key_of(session);
  record.expiry_interval = session.expiry_interval;
  record.offline_since_wall_ms = offline;
  SessionIdentity& id = record.identity;
  if (session.username) {
    id.username = *session.username;
  }
  if (const ProvenIdentity* proven = session.proven.get()) {
    id.proven = true;
    id.subject = proven->subject;
    id.token_id = proven->token_id;
    id.broker_key_id = proven->broker_key_id;
    id.grant = proven->grant;
  }
  return record;
}

uint64_t SessionJournal::append(const Session& session, RecordType type,
                                const std::string& body) {
  const uint64_t ticket = _log.append(
      static_cast<uint8_t>(type),
      {reinterpret_cast<const uint8_t*>(body.data()), body.size()});
  // One entry per session and batch: a failure rewrites the session whole anyway.
  if (_pending.empty() || _pending.back().ticket != ticket ||
      _pending.back().client_id != session.client_id()) {
    _pending.push_back({ticket, session.client_id()});
  }
  return ticket;
}

void SessionJournal::append_image(const Session& session, bool snapshot) {
  const int64_t offline = session.client() == nullptr ? _wall_ms(_clock) : 0;
  const SessionKey key = key_of(session);
  const auto put = [&](RecordType type, const std::string& body) {
    if (snapshot) {
      _log.append_snapshot(static_cast<uint8_t>(type),
                           {reinterpret_cast<const uint8_t*>(body.data()), body.size()});
    } else {
      append(session, type, body);
    }
  };
  put(RecordType::kSession, encode_session(record_of(session, /*full_image=*/true, offline)));
  if (const Session::Subscriptions* subscriptions = session.subscriptions_if_any()) {
    for (const Session::Subscription& sub : *subscriptions) {
      put(RecordType::kSubscribe, encode_subscribe(key, sub.filter.view(), sub.options));
    }
  }
}

void SessionJournal::connected(Session& session) {
  if (session.expiry_interval == 0) {
    if (session.durable) {
      ended(session);  // it ends with this connection now: no image must survive a crash
    }
    return;
  }
  if (!_sessions.is_home(session.client_id())) {
    // Only a session at its home is durable (a restart finds it there); one lent to
    // another shard as a publisher is taken over rarely, and stays in memory.
    PG_DEBUG("session client_id=%s away from its home: not durable", session.client_id().c_str());
    return;
  }
  if (!session.durable) {
    session.durable = true;
    append_image(session, /*snapshot=*/false);
    return;
  }
  append(session, RecordType::kSession,
         encode_session(record_of(session, /*full_image=*/false, /*offline=*/0)));
}

void SessionJournal::disconnected(Session& session) {
  if (!session.durable || session.expiry_interval == 0) {
    return;  // ended() follows for expiry 0
  }
  append(session, RecordType::kSession,
         encode_session(record_of(session, /*full_image=*/false, _wall_ms(_clock))));
}

void SessionJournal::ended(Session& session) {
  if (!session.durable) {
    return;
  }
  session.durable = false;
  append(session, RecordType::kSessionEnd, encode_session_end(key_of(session)));
}

uint64_t SessionJournal::subscribed(Session& session, std::string_view filter,
                                    const SubscriptionOptions& options) {
  if (!session.durable) {
    return 0;
  }
  return append(session, RecordType::kSubscribe,
                encode_subscribe(key_of(session), filter, options));
}

uint64_t SessionJournal::unsubscribed(Session& session, std::string_view filter) {
  if (!session.durable) {
    return 0;
  }
  return append(session, RecordType::kUnsubscribe, encode_unsubscribe(key_of(session), filter));
}

void SessionJournal::on_log_written(uint64_t ticket, int error) {
  while (!_pending.empty() && _pending.front().ticket <= ticket) {
    if (error != 0) {
      _dirty.insert(std::move(_pending.front().client_id));
    }
    _pending.pop_front();
  }
}

void SessionJournal::flush() {
  if (_dirty.empty()) {
    return;
  }
  absl::flat_hash_set<std::string> dirty;
  dirty.swap(_dirty);
  for (const std::string& client_id : dirty) {
    _stats.sessions_rewritten++;
    Session* session = _sessions.find(client_id);
    if (session != nullptr && session->durable) {
      append_image(*session, /*snapshot=*/false);
    } else {
      // Ended, or no longer durable, while its records were lost: its end again (a
      // no-op on replay if the log never held it).
      const std::string body = encode_session_end({"", client_id});
      const uint64_t ticket = _log.append(
          static_cast<uint8_t>(RecordType::kSessionEnd),
          {reinterpret_cast<const uint8_t*>(body.data()), body.size()});
      _pending.push_back({ticket, client_id});
    }
  }
}

void SessionJournal::begin_snapshot() {
  _snapshot_ids.clear();
  _sessions.for_each([&](const Session& session) {
    if (session.durable) {
      _snapshot_ids.push_back(session.id);
    }
  });
}

bool SessionJournal::snapshot_slice(size_t& cursor, size_t max) {
  const size_t end = std::min(_snapshot_ids.size(), cursor + max);
  for (; cursor < end; ++cursor) {
    const Session* session = _sessions.find(_snapshot_ids[cursor]);
    if (session != nullptr && session->durable) {  // else ended since: its end is logged
      append_image(*session, /*snapshot=*/true);
    }
  }
  if (cursor < _snapshot_ids.size()) {
    return false;
  }
  _snapshot_ids.clear();
  _snapshot_ids.shrink_to_fit();
  return true;
}

}  // namespace peregrine::broker
