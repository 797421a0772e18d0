// ShardBroker's persistence (issue 30): opening and replaying the shard's log, bringing
// back its persistent sessions, the group commit at each turn's end, compaction in
// slices, the SUBACKs that wait for their write, and the start-up barrier that holds
// listening until every shard's restored subscriptions are routed everywhere.
#include <cstring>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/broker/client.h"
#include "src/broker/client_connection.h"
#include "src/broker/durable_records.h"
#include "src/broker/shard_broker.h"
#include "src/mqtt/scope.h"

namespace peregrine::broker {

void ShardBroker::open_log() {
  const int64_t wall_ms = wall_clock_ms();
  const uint64_t now = now_ms();
  std::string error;
  SessionImages images(wall_ms, now);
  const auto replay = [&](uint8_t type, std::span<const uint8_t> body) {
    if (!known_record_type(type)) {
      // Written by a newer broker: dropping it would lose state silently.
      PG_ERROR("shard %u: a log record of unknown type %u: state_dir was written by a newer "
               "peregrine",
               shard_id(), type);
      std::_Exit(1);
    }
    if (type != static_cast<uint8_t>(RecordType::kRetained)) {
      std::string why;
      if (!images.apply(static_cast<RecordType>(type), body, why)) {
        // Its checksum held, so the broker wrote it: a bug, not damage. Logged, skipped.
        PG_ERROR("shard %u: a session record that does not read back: %s", shard_id(),
                 why.c_str());
      }
      return;
    }
    DecodedRetained decoded = decode_retained(body, wall_ms, now);
    switch (decoded.outcome) {
      case DecodedRetained::Outcome::kMessage:
        _retained->restore(decoded.message);
        break;
      case DecodedRetained::Outcome::kExpired:
        break;
      case DecodedRetained::Outcome::kMalformed:
        PG_ERROR("shard %u: a retained record that does not read back: %s", shard_id(),
                 decoded.why.c_str());
        break;
    }
  };
  _log = _config.durable_log->open(shard_id(), ring(), *this, replay, error);
  if (_log == nullptr) {
    // main checked state_dir before starting the shards: this is a disk gone bad at once.
    PG_ERROR("shard %u: cannot open its log: %s", shard_id(), error.c_str());
    std::_Exit(1);
  }
  _retained->use_log(
      _log.get(), [](const void* self) { return static_cast<const ShardBroker*>(self)->now_ms(); },
      [](const void* self) { return static_cast<const ShardBroker*>(self)->wall_clock_ms(); },
      this);
  _journal = std::make_unique<SessionJournal>(
      *_log, *_sessions, _stats,
      JournalClock{this,
                   [](const void* self) { return static_cast<const ShardBroker*>(self)->now_ms(); },
                   [](const void* self) {
                     return static_cast<const ShardBroker*>(self)->wall_clock_ms();
                   }});
  if (images.orphans() != 0) {
    PG_DEBUG("shard %u: %zu records name no session (ended before a snapshot, or lost with a "
             "damaged segment): skipped",
             shard_id(), images.orphans());
  }
  restore_sessions(images);
}

void ShardBroker::restore_sessions(const SessionImages& images) {
  const int64_t wall_now = wall_clock_ms();
  const uint64_t now = now_ms();
  size_t expired = 0;
  size_t subscriptions = 0;
  size_t deliveries = 0;
  size_t lost = 0;
  size_t wills = 0;
  for (const auto& [key, image] : images.images()) {
    const SessionRecord& record = image.session;
    if (!_sessions->is_home(record.key.client_id)) {
      // Logs are moved to their owners before the shards start: not expected.
      PG_ERROR("shard %u: the log holds session %s of shard %u: skipped", shard_id(),
               mqtt::printable(record.key.client_id).c_str(),
               _sessions->home(record.key.client_id));
      continue;
    }
    uint64_t due = 0;
    if (record.expiry_interval != Session::kNeverExpires) {
      // Offline since its connection ended (or, connected then, since now); a clock that
      // went back counts as no time.
      const int64_t gone = record.offline_since_wall_ms == 0
                               ? 0
                               : std::max<int64_t>(0, wall_now - record.offline_since_wall_ms);
      const int64_t left = int64_t{record.expiry_interval} * 1000 - gone;
      if (left <= 0) {
        expired++;
        if (image.will != nullptr) {
          image.will->ref();  // the session ended while the broker was down: its will goes
          publish_will(image.will);
        }
        continue;  // forgotten by the next snapshot
      }
      due = now + static_cast<uint64_t>(left);
    }
    auto session = std::make_unique<Session>(this, record.key.client_id);
    session->expiry_interval = record.expiry_interval;
    if (image.will != nullptr) {
      // Due while the broker was down: sent once every shard listens (publish_will).
      const int64_t left = std::max<int64_t>(0, image.will_due_wall_ms - wall_now);
      image.will->ref();
      session->set_will(image.will, now + static_cast<uint64_t>(left));
      wills++;
    }
    session->durable = true;
    const SessionIdentity& id = record.identity;
    if (id.username) {
      session->username = base::OptionalString(*id.username);
    }
    if (id.proven) {
      auto proven = std::make_unique<ProvenIdentity>();
      proven->subject = id.subject;
      proven->token_id = id.token_id;
      proven->broker_key_id = id.broker_key_id;
      proven->grant = id.grant;
      session->proven = std::move(proven);
    }
    Session* restored = _sessions->restore(std::move(session), due);
    for (const auto& [filter, options] : image.subscriptions) {
      add_subscription(restored, filter, options);
      subscriptions++;
    }
    for (const auto& [seq, d] : image.deliveries) {
      Delivery delivery{.qos = d.qos, .retain = d.retain, .packet_id = d.packet_id, .seq = seq,
                        .subscription_ids = d.subscription_ids};
      if (d.released) {
        restored->restore_delivery(std::move(delivery), /*released=*/true);
        continue;
      }
      Message* message = images.message(d.message);
      if (message == nullptr) {
        lost++;  // expired while the broker was down (or lost with a damaged segment)
        continue;
      }
      message->ref();
      delivery.message = message;
      _journal->restored(message, d.message);
      restored->restore_delivery(std::move(delivery), /*released=*/false);
      deliveries++;
    }
    for (uint16_t packet_id : image.inbound) {
      restored->restore_inbound_qos2(packet_id);
    }
    _stats.sessions_restored++;
  }
  if (_stats.sessions_restored != 0 || expired != 0) {
    PG_INFO("shard %u: %llu persistent sessions restored with %zu subscriptions, %zu QoS "
            "1/2 messages (%zu stored once) and %zu delayed wills; %zu sessions and %zu "
            "messages expired while the broker was down",
            shard_id(), static_cast<unsigned long long>(_stats.sessions_restored), subscriptions,
            deliveries, _journal->stored_messages(), wills, expired, lost);
  }
}

void ShardBroker::tell_recovered() {
  // Once every other shard applied the routes of the restored subscriptions.
  if (_told_recovered || !_routes->all_applied()) {
    return;
  }
  _told_recovered = true;
  _outbox->post_to_others(mail::Recovered{});
  handle(mail::Recovered{}, shard_id());
}

void ShardBroker::handle(const mail::Recovered&, uint16_t) {
  _recovered_shards++;
  PG_ASSERT(_recovered_shards <= _shard->count());
  if (_recovered_shards == _shard->count()) {
    start_listening();
  }
}

void ShardBroker::flush_log() {
  // Compaction, in slices: a snapshot of the retained store and the persistent sessions
  // replaces the segments before it once the log has grown past its bound.
  if (!_stopping && !_log->snapshot_running() && _log->wants_snapshot() &&
      _log->begin_snapshot()) {
    _snapshot_cursor.clear();
    _snapshot_retained_done = false;
    _snapshot_session_cursor = 0;
    _journal->begin_snapshot();
  }
  if (_log->snapshot_ready() && !_snapshot_done_adding) {
    if (!_snapshot_retained_done) {
      _snapshot_retained_done = _retained->snapshot_slice(_snapshot_cursor, kSnapshotSlice);
    } else if (_journal->snapshot_slice(_snapshot_session_cursor, kSnapshotSessions)) {
      _log->end_snapshot();
      _snapshot_done_adding = true;
    }
  }
  if (!_log->snapshot_running()) {
    _snapshot_done_adding = false;
  }
  _journal->flush();
  _log->flush(now_ms());
  // Set, not counted: the log keeps the totals (snapshots are not reported as batches).
  _stats.log_bytes_written = _log->bytes_written();
  _stats.log_snapshots = _log->snapshots();
  const uint64_t due = _log->next_flush_ms();
  if (due != 0 && !_stopping &&
      (!_log_sync_timer.armed() || _log_sync_timer.deadline_ms() > due)) {
    wheel().arm(_log_sync_timer, due);
  }
}

void ShardBroker::on_log_written(uint64_t ticket, int error) {
  _retained->on_log_written(ticket, error);
  _journal->on_log_written(ticket, error);
  answer_barriers();
  release_log_gated(ticket, error);
  release_unsubacks(ticket, error);
  while (!_log_waits.empty() && _log_waits.front().ticket <= ticket) {
    const LogWait done = _log_waits.front();
    _log_waits.pop_front();
    if (done.shard == shard_id()) {
      answer_wait(done.wait, error == 0);
    } else {
      _outbox->post(done.shard, mail::DurableAck{done.wait, error == 0});
    }
  }
  if (error != 0) {
    _stats.log_batches_failed++;
    // Once per episode, not per batch: the first failure after a success.
    if (!_log_failing) {
      PG_ERROR("shard %u: log write failed: %s; retained messages and subscriptions of "
               "persistent sessions are refused until it succeeds again",
               shard_id(), std::strerror(-error));
    }
    _log_failing = true;
  } else if (_log_failing) {
    _log_failing = false;
    PG_WARN("shard %u: log writes succeed again", shard_id());
  }
}

// ---- acknowledgements after their writes ----------------------------------------------------

bool ShardBroker::wait_for_log(Client* from, uint32_t answer_token) {
  const uint64_t ticket = _journal != nullptr ? _journal->take_touched() : 0;
  if (ticket == 0) {
    return false;
  }
  const uint32_t wait = next_wait_id();
  _waits[wait] = {from->id(), answer_token, 1, false};
  _log_waits.push_back({ticket, shard_id(), wait});
  return true;
}

uint64_t ShardBroker::journal_records() const {
  return _journal != nullptr ? _journal->records_appended() : 0;
}

uint64_t ShardBroker::connack_ticket(const Client* from, uint64_t mark, bool present) const {
  const Session* session = from->session();
  if (_journal == nullptr || session == nullptr) {
    return 0;
  }
  const bool appended = _journal->records_appended() != mark;
  uint64_t ticket = 0;
  if (!present) {
    ticket = appended ? _journal->last_appended() : 0;
  } else if (session->durable && session->image_ticket > _journal->written_through() &&
             session->empty()) {
    // Resumed, though the image that makes it exist is not on disk: a CONNECT made it
    // (ending the one before) and its CONNACK never left. Told "present", the client must
    // not find the older session after a crash. Nothing can be sent to it while it waits.
    ticket = std::max(session->image_ticket, appended ? _journal->last_appended() : 0);
  }
  return ticket > _journal->written_through() ? ticket : 0;
}

void ShardBroker::wait_written_through(Client* from, uint32_t answer_token, uint64_t ticket) {
  PG_ASSERT(_journal != nullptr && ticket != 0);
  // A barrier, not a log wait: it is answered once the journal is written through the
  // ticket, a failed batch counting only once its sessions' rewrite is written — so an
  // answer always means "on disk", however long a full disk lasts.
  const uint32_t wait = next_wait_id();
  _waits[wait] = {from->id(), answer_token, 1, false};
  _barriers.push_back({ticket, shard_id(), wait});
}

bool ShardBroker::barrier_for_log(Client* from, uint32_t answer_token) {
  if (_journal == nullptr) {
    return false;
  }
  const uint32_t wait = next_wait_id();
  const uint16_t shards = _shard->count();
  // Mail to a shard comes after the mail of the first routing (one ordered mailbox per
  // pair): each answers once its log holds that routing's writes.
  const uint32_t remaining = (shards - 1u) + (barrier(shard_id(), wait) ? 1u : 0u);
  if (remaining == 0) {
    return false;
  }
  _waits[wait] = {from->id(), answer_token, remaining, false};
  for (uint16_t s = 0; s < shards; ++s) {
    if (s != shard_id()) {
      _outbox->post(s, mail::LogBarrier{wait});
    }
  }
  return true;
}

bool ShardBroker::barrier(uint16_t shard, uint32_t wait) {
  // What the first routing wrote here: durable sessions' records, and the retained
  // message if this shard owns its topic (one log, one numbering of batches).
  const uint64_t ticket = std::max(_journal->last_appended(), _retained->last_pending_ticket());
  if (ticket <= _journal->written_through()) {
    return false;
  }
  _barriers.push_back({ticket, shard, wait});
  return true;
}

void ShardBroker::handle(const mail::LogBarrier& m, uint16_t from) {
  if (_journal == nullptr || !barrier(from, m.wait)) {
    _outbox->post(from, mail::DurableAck{m.wait, true});
  }
}

void ShardBroker::answer_barriers() {
  const uint64_t through = _journal->written_through();
  while (!_barriers.empty() && _barriers.front().ticket <= through) {
    const LogWait done = _barriers.front();
    _barriers.pop_front();
    if (done.shard == shard_id()) {
      answer_wait(done.wait, true);
    } else {
      _outbox->post(done.shard, mail::DurableAck{done.wait, true});
    }
  }
}

void ShardBroker::after_write(uint16_t shard, uint32_t wait) {
  const uint64_t ticket = _journal != nullptr ? _journal->take_touched() : 0;
  if (ticket != 0) {
    PG_DASSERT(_log_waits.empty() || _log_waits.back().ticket <= ticket);
    _log_waits.push_back({ticket, shard, wait});
    return;
  }
  _outbox->post(shard, mail::DurableAck{wait, true});  // nothing written here for it
}

void ShardBroker::handle(const mail::DurableAck& m, uint16_t) { answer_wait(m.wait, m.written); }

void ShardBroker::answer_wait(uint32_t wait, bool written) {
  auto it = _waits.find(wait);
  PG_DASSERT(it != _waits.end());
  if (it == _waits.end()) {
    return;
  }
  OriginWait& origin = it->second;
  origin.failed |= !written;
  if (--origin.remaining != 0) {
    return;
  }
  const OriginWait done = origin;
  _waits.erase(it);
  if (ClientConnection* connection = find_client(done.connection)) {
    connection->client().durable_answer(done.token, !done.failed);
  }  // else the publisher is gone: nobody waits for the acknowledgement
}

// ---- SUBACKs after their write ------------------------------------------------------------

void ShardBroker::pass_log_gate(Client* client, RoutingTable::HeldSuback& suback) {
  if (suback.log_ticket == 0) {
    if (_routes->hold_suback(suback)) {  // else held until every shard applied its routes
      write_suback(client, suback);
    }
    return;
  }
  PG_DASSERT(_log_gated.empty() || _log_gated.back().log_ticket <= suback.log_ticket);
  _log_gated.push_back(std::move(suback));
}

void ShardBroker::release_log_gated(uint64_t ticket, int error) {
  while (!_log_gated.empty() && _log_gated.front().log_ticket <= ticket) {
    RoutingTable::HeldSuback suback = std::move(_log_gated.front());
    _log_gated.pop_front();
    if (error != 0 && suback.log_ticket == ticket) {
      refuse_suback(suback);
    }
    hold_for_routes(suback);
  }
}

void ShardBroker::hold_for_routes(RoutingTable::HeldSuback& suback) {
  if (_routes->hold_suback(suback)) {
    release_suback(suback);
  }
}

void ShardBroker::refuse_suback(RoutingTable::HeldSuback& suback) {
  _stats.subscribe_log_failed++;
  // Every granted filter is refused (v5 0x83 Implementation specific error, 3.1.1 0x80):
  // the reason codes are the packet's last bytes.
  ClientConnection* connection = find_client(suback.connection_id);
  const bool v5 = connection != nullptr &&
                  connection->client().version() == mqtt::ProtocolVersion::kV5;
  PG_ASSERT(suback.packet.size() >= suback.reason_count);
  for (size_t i = suback.packet.size() - suback.reason_count; i < suback.packet.size(); ++i) {
    if (suback.packet[i] < 0x80) {
      suback.packet[i] = v5 ? 0x83 : 0x80;
    }
  }
  close_scan_window(suback);  // no retained messages for refused filters
  suback.retained.clear();
  suback.cut.reset();
  // The filters it added are taken back, and the session is written whole again, so that
  // disk and memory agree whatever happened to it since.
  Session* session = connection != nullptr ? connection->client().session() : nullptr;
  if (session == nullptr) {
    return;
  }
  for (const std::string& filter : suback.added) {
    auto it = session->subscriptions().find(filter);
    if (it != session->subscriptions().end()) {
      remove_subscription(session, filter);
      session->subscriptions().erase(it);
    }
  }
  // An UNSUBSCRIBE of these filters still waiting for its own write must not put them
  // back if that fails too: on disk they never were (found by the simulation: SUBSCRIBE
  // and UNSUBSCRIBE of one filter in a full disk, the filter back after both failed).
  for (HeldUnsuback& held : _unsubacks_gated) {
    if (held.session_id != session->id) {
      continue;
    }
    std::erase_if(held.removed, [&](const auto& removed) {
      return std::find(suback.added.begin(), suback.added.end(), removed.first) !=
             suback.added.end();
    });
  }
  _journal->rewrite(*session);
}

// ---- UNSUBACKs after their write ----------------------------------------------------------

void ShardBroker::release_unsubacks(uint64_t ticket, int error) {
  while (!_unsubacks_gated.empty() && _unsubacks_gated.front().log_ticket <= ticket) {
    HeldUnsuback held = std::move(_unsubacks_gated.front());
    _unsubacks_gated.pop_front();
    ClientConnection* connection = find_client(held.connection_id);
    Client* client = connection != nullptr && connection->client().phase() ==
                                                  Client::Phase::kConnected
                         ? &connection->client()
                         : nullptr;
    if (error != 0 && held.log_ticket == ticket) {
      // The filters come back (in memory as on disk, where the failed batch never
      // counts), and the session is written whole again; they are refused. One the
      // client has subscribed to again since keeps its newer options.
      _stats.subscribe_log_failed++;
      if (Session* session = _sessions->find(held.session_id)) {
        for (const auto& [filter, options] : held.removed) {
          if (!session->subscriptions().contains(filter)) {
            add_subscription(session, filter, options);
          }
        }
        _journal->rewrite(*session);
      }
      if (client != nullptr && client->version() != mqtt::ProtocolVersion::kV5) {
        client->close_unanswered("its UNSUBSCRIBE's log write failed");
        continue;
      }
      for (size_t i = 0; i < held.packet.reasons.size(); ++i) {
        if (held.packet.reasons[i] == mqtt::ReasonCode::kSuccess) {
          held.packet.reasons[i] = mqtt::ReasonCode::kUnspecifiedError;
        }
      }
    }
    if (client != nullptr) {
      client->send_packet(held.packet);
    }  // else nobody to tell: the session's state stands either way
  }
}

}  // namespace peregrine::broker
