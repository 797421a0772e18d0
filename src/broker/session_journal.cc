#include "src/broker/session_journal.h"

#include <sys/random.h>

#include <algorithm>
#include <iterator>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/mqtt/scope.h"

namespace peregrine::broker {

namespace {

std::span<const uint8_t> bytes_of(const std::string& body) {
  return {reinterpret_cast<const uint8_t*>(body.data()), body.size()};
}

}  // namespace

SessionJournal::SessionJournal(DurableLog& log, const SessionTable& sessions, BrokerStats& stats,
                               JournalClock clock)
    : _log(log), _sessions(sessions), _stats(stats), _clock(clock) {
  // Message keys must not repeat across the shards and starts of one state_dir (a move to
  // another shard count brings several shards' messages into one log): a random epoch
  // per log opened.
  if (getrandom(&_epoch, sizeof _epoch, 0) != static_cast<ssize_t>(sizeof _epoch)) {
    _epoch = static_cast<uint64_t>(_clock.wall_ms(_clock.self)) * 0x9E3779B97F4A7C15ull;
  }
}

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
  const uint64_t ticket = _log.append(static_cast<uint8_t>(type), bytes_of(body));
  _touched = ticket;
  _last_appended = ticket;
  _records_appended++;
  session.log_ticket = ticket;
  // One entry per session and batch: a failure rewrites the session whole anyway.
  if (type == RecordType::kSessionEnd) {
    _pending.push_back({ticket, session.id, session.client_id()});
  } else if (_pending.empty() || _pending.back().ticket != ticket ||
             _pending.back().session_id != session.id) {
    _pending.push_back({ticket, session.id, {}});
  }
  return ticket;
}

void SessionJournal::put(ImageFor why, const Session& session, RecordType type,
                         const std::string& body) {
  if (why == ImageFor::kSnapshot) {
    _log.append_snapshot(static_cast<uint8_t>(type), bytes_of(body));
  } else {
    append(session, type, body);
  }
}

MessageKey SessionJournal::hold_message(const Message* message, ImageFor why, bool count) {
  auto [it, fresh] = _stored.try_emplace(message);
  Stored& stored = it->second;
  if (fresh) {
    PG_ASSERT(count);  // an image of a durable session names only messages held already
    stored.key = {_epoch, ++_counter};
  }
  if (count) {
    stored.holders++;
  }
  const auto record = [&] {
    return encode_message(stored.key, *message, _clock.now_ms(_clock.self),
                          _clock.wall_ms(_clock.self));
  };
  if (why == ImageFor::kSnapshot) {
    if (_snapshot_messages.insert(stored.key).second) {
      _log.append_snapshot(static_cast<uint8_t>(RecordType::kMessage), bytes_of(record()));
    }
  } else if (fresh || stored.ticket == 0 || why == ImageFor::kRewrite) {
    // First holder, or its record was lost with a failed batch: stored (again).
    stored.ticket = _log.append(static_cast<uint8_t>(RecordType::kMessage), bytes_of(record()));
    _touched = stored.ticket;
  }
  return stored.key;
}

void SessionJournal::let_go_message(const Message* message) {
  auto it = _stored.find(message);
  PG_ASSERT(it != _stored.end() && it->second.holders > 0);
  if (--it->second.holders == 0) {
    _stored.erase(it);  // its record goes with the next compaction
  }
}

void SessionJournal::restored(const Message* message, const MessageKey& key) {
  auto [it, fresh] = _stored.try_emplace(message);
  if (fresh) {
    it->second.key = key;
    it->second.ticket = 1;  // on disk
  }
  PG_DASSERT(it->second.key == key);
  it->second.holders++;
}

void SessionJournal::append_image(const Session& session, ImageFor why) {
  const int64_t offline = session.client() == nullptr ? _clock.wall_ms(_clock.self) : 0;
  const SessionKey key = key_of(session);
  put(why, session, RecordType::kSession,
      encode_session(record_of(session, /*full_image=*/true, offline)));
  for (const Session::Subscription* sub : session.subscriptions_in_order()) {
    put(why, session, RecordType::kSubscribe,
        encode_subscribe(key, sub->filter.view(), sub->options));
  }
  session.for_each_delivery([&](const Delivery& delivery, bool released, uint16_t packet_id) {
    PG_DASSERT(delivery.seq != 0);
    if (released) {
      put(why, session, RecordType::kReleased, encode_released(key, delivery.seq, packet_id));
      return;
    }
    DeliveryRecord record{key,
                          delivery.seq,
                          hold_message(delivery.message, why, why == ImageFor::kNewlyDurable),
                          delivery.qos,
                          delivery.retain,
                          delivery.packet_id,
                          delivery.subscription_ids};
    put(why, session, RecordType::kDeliver, encode_deliver(record));
  });
  if (const std::vector<uint32_t>* inbound = session.inbound_qos2()) {
    for (uint32_t entry : *inbound) {
      if ((entry & Session::kInboundAnswered) != 0) {  // unanswered ones are not routed yet
        put(why, session, RecordType::kInbound,
            encode_inbound(key, static_cast<uint16_t>(entry & 0xFFFF), true));
      }
    }
  }
  const Session::Offline* away = session.offline_if_any();
  if (away != nullptr && away->will != nullptr) {
    const uint64_t now = _clock.now_ms(_clock.self);
    const int64_t wall = _clock.wall_ms(_clock.self);
    const uint64_t due = away->will_due_ms;
    put(why, session, RecordType::kWill,
        encode_will(key, away->will, wall + static_cast<int64_t>(due > now ? due - now : 0),
                    now, wall));
  }
  if (why != ImageFor::kSnapshot) {
    session.image_ticket = session.log_ticket;  // a snapshot's records have no ticket
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
    PG_DEBUG("session client_id=%s away from its home: not durable",
             mqtt::printable(session.client_id()).c_str());
    return;
  }
  if (!session.durable) {
    session.durable = true;
    session.number_deliveries();
    append_image(session, ImageFor::kNewlyDurable);
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
         encode_session(record_of(session, /*full_image=*/false, _clock.wall_ms(_clock.self))));
}

void SessionJournal::ended(Session& session) {
  if (!session.durable) {
    return;
  }
  session.durable = false;
  session.for_each_delivery([&](const Delivery& delivery, bool released, uint16_t) {
    if (!released) {
      let_go_message(delivery.message);
    }
  });
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

void SessionJournal::taken(Session& session, const Delivery& delivery) {
  PG_DASSERT(session.durable && delivery.seq != 0);
  const MessageKey message = hold_message(delivery.message, ImageFor::kNewlyDurable, true);
  append(session, RecordType::kDeliver,
         encode_deliver({key_of(session), delivery.seq, message, delivery.qos, delivery.retain,
                         delivery.packet_id, delivery.subscription_ids}));
}

void SessionJournal::released(Session& session, const Delivery& delivery, uint16_t packet_id) {
  const uint64_t ticket = append(session, RecordType::kReleased,
                                 encode_released(key_of(session), delivery.seq, packet_id));
  let_go_message(delivery.message);
  _release_waits.push_back({ticket, session.id, packet_id});
}

void SessionJournal::done(Session& session, uint64_t seq, const Message* message) {
  append(session, RecordType::kDone, encode_done(key_of(session), seq));
  if (message != nullptr) {
    let_go_message(message);
  }
}

void SessionJournal::inbound(Session& session, uint16_t packet_id, bool awaiting_release) {
  append(session, RecordType::kInbound,
         encode_inbound(key_of(session), packet_id, awaiting_release));
}

void SessionJournal::will(Session& session, const Message* will, uint64_t due_ms) {
  const uint64_t now = _clock.now_ms(_clock.self);
  const int64_t wall = _clock.wall_ms(_clock.self);
  const int64_t due_wall = wall + static_cast<int64_t>(due_ms > now ? due_ms - now : 0);
  append(session, RecordType::kWill, encode_will(key_of(session), will, due_wall, now, wall));
}

void SessionJournal::wake_when_written(const Session& session, uint64_t ticket) {
  // Mostly the newest ticket: kept in order from the back.
  auto at = _send_waits.end();
  while (at != _send_waits.begin() && std::prev(at)->ticket > ticket) {
    --at;
  }
  _send_waits.insert(at, {ticket, session.id});
}

void SessionJournal::on_log_written(uint64_t ticket, int error) {
  _reported = ticket;
  if (error == 0) {
    _written = ticket;
    if (_healed_by != 0 && ticket >= _healed_by) {
      _healing_from = _healed_by = 0;  // the failed batch's sessions are whole again
    }
  } else if (_healing_from == 0) {
    _healing_from = ticket;  // its sessions are rewritten at flush(): _healed_by
  } else {
    _healed_by = 0;  // the rewrite failed too: the next one heals
  }
  // Taken out first: a session whose held PUBLISHes are not all due asks again.
  std::vector<uint64_t> due;
  while (!_send_waits.empty() && _send_waits.front().ticket <= ticket) {
    due.push_back(_send_waits.front().session_id);
    _send_waits.pop_front();
  }
  for (const uint64_t session_id : due) {
    if (Session* session = _sessions.find(session_id)) {
      session->log_caught_up();
    }
  }
  while (!_release_waits.empty() && _release_waits.front().ticket <= ticket) {
    const ReleaseWait done = _release_waits.front();
    _release_waits.pop_front();
    if (error != 0) {
      _release_retry.push_back(done);  // after its session's rewrite (flush())
    } else if (Session* session = _sessions.find(done.session_id)) {
      session->release_written(done.packet_id);
    }
  }
  while (!_pending.empty() && _pending.front().ticket <= ticket) {
    Pending& lost = _pending.front();
    if (error != 0) {
      if (!lost.ended_client_id.empty()) {
        _dirty.insert(std::move(lost.ended_client_id));
      } else if (const Session* session = _sessions.find(lost.session_id)) {
        _dirty.insert(session->client_id());
      }
    }
    _pending.pop_front();
  }
  if (error != 0) {
    // Their records went with the batch: stored again with the next one (before its
    // write: one batch is in flight at a time), wherever the deliveries naming them are.
    // In the order they were first stored (their key's counter), not the table's:
    // that follows heap addresses, and the log's layout would not replay.
    std::vector<std::pair<const Message*, Stored*>> lost;
    for (auto& [message, stored] : _stored) {
      if (stored.ticket == ticket) {
        lost.emplace_back(message, &stored);
      }
    }
    std::sort(lost.begin(), lost.end(), [](const auto& a, const auto& b) {
      return a.second->key.counter < b.second->key.counter;
    });
    for (auto& [message, stored] : lost) {
      stored->ticket = _log.append(static_cast<uint8_t>(RecordType::kMessage),
                                   bytes_of(encode_message(stored->key, *message,
                                                           _clock.now_ms(_clock.self),
                                                           _clock.wall_ms(_clock.self))));
    }
  }
}

void SessionJournal::flush() {
  flush_dirty();
  if (_healing_from != 0 && _healed_by == 0) {
    // The rewrites of the failed batch's sessions are in the batch filling now (or it
    // had nothing of theirs left to say): written_through() may pass it once that is.
    // (_last_appended, not _touched: an acknowledgement may have taken that this turn.)
    _healed_by = _last_appended > _reported ? _last_appended : 0;
    if (_healed_by == 0) {
      _healing_from = 0;
    }
  }
  if (!_release_retry.empty()) {
    // The rewrites just appended hold these releases: their PUBRELs wait for them.
    // (_last_appended, as above: _touched is the acknowledgements' to take.)
    const uint64_t ticket = _last_appended > _reported ? _last_appended : 0;
    for (ReleaseWait& wait : _release_retry) {
      Session* session = _sessions.find(wait.session_id);
      if (ticket == 0 || session == nullptr || !session->durable) {
        if (session != nullptr) {
          session->release_written(wait.packet_id);  // nothing left to wait for
        }
        continue;
      }
      wait.ticket = ticket;
      _release_waits.push_back(wait);
    }
    _release_retry.clear();
  }
}

void SessionJournal::flush_dirty() {
  if (_dirty.empty()) {
    return;
  }
  // Sorted: the hash set's order follows its address (absl salts by it), and the
  // log's layout must replay.
  std::vector<std::string> dirty(_dirty.begin(), _dirty.end());
  _dirty.clear();
  std::sort(dirty.begin(), dirty.end());
  for (const std::string& client_id : dirty) {
    _stats.sessions_rewritten++;
    Session* session = _sessions.find(client_id);
    if (session != nullptr && session->durable) {
      append_image(*session, ImageFor::kRewrite);
    } else {
      // Ended, or no longer durable, while its records were lost: its end again (a
      // no-op on replay if the log never held it).
      const uint64_t ticket = _log.append(static_cast<uint8_t>(RecordType::kSessionEnd),
                                          bytes_of(encode_session_end({"", client_id})));
      _pending.push_back({ticket, 0, client_id});
    }
  }
}

void SessionJournal::begin_snapshot() {
  _snapshot_ids.clear();
  _snapshot_messages.clear();
  _sessions.for_each([&](const Session& session) {
    if (session.durable) {
      _snapshot_ids.push_back(session.id);
    }
  });
  std::sort(_snapshot_ids.begin(), _snapshot_ids.end());  // not the table's salted order
}

bool SessionJournal::snapshot_slice(size_t& cursor, size_t max) {
  const size_t end = std::min(_snapshot_ids.size(), cursor + max);
  for (; cursor < end; ++cursor) {
    const Session* session = _sessions.find(_snapshot_ids[cursor]);
    if (session != nullptr && session->durable) {  // else ended since: its end is logged
      append_image(*session, ImageFor::kSnapshot);
    }
  }
  if (cursor < _snapshot_ids.size()) {
    return false;
  }
  _snapshot_ids.clear();
  _snapshot_ids.shrink_to_fit();
  _snapshot_messages.clear();
  return true;
}

}  // namespace peregrine::broker
