#include "src/broker/session_table.h"

#include <algorithm>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/base/owner.h"

namespace peregrine::broker {

namespace {
absl::string_view key(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace

SessionTable::Opened SessionTable::open(ClientLink* client, std::string_view client_id,
                                        bool clean_start, uint32_t receive_maximum) {
  PG_DASSERT_OWNER(_self);
  Opened opened{find(client_id), false, false};
  if (opened.session != nullptr && opened.session->client() != nullptr) {
    _host.stats().takeovers++;
    opened.took_over = true;
    opened.session->client()->take_over();  // detaches it from the session
    PG_ASSERT(opened.session->client() == nullptr);
  }
  if (opened.session != nullptr && clean_start) {
    end(opened.session, /*replaced=*/true);
    opened.session = nullptr;
  }
  opened.present = opened.session != nullptr;
  if (opened.session == nullptr) {
    opened.session = insert(std::make_unique<Session>(&_host, std::string(client_id)));
  }
  const uint32_t window = std::min(receive_maximum, _host.limits().max_inflight);
  opened.session->attach(client, static_cast<uint16_t>(std::min<uint32_t>(window, 65535)));
  return opened;
}

void SessionTable::connection_gone(Session* session, Message* will, uint32_t will_delay_s,
                                   bool taken_over) {
  PG_DASSERT_OWNER(_self);
  session->detach();
  if (taken_over) {
    // The session goes on with the new connection: a delayed will is never due
    // [MQTT-3.1.3-9]; an immediate one is sent now.
    if (will != nullptr && will_delay_s == 0) {
      _events.publish_will(will);
    } else if (will != nullptr) {
      will->unref();
    }
    return;
  }
  if (session->expiry_interval == 0) {
    if (will != nullptr) {
      _events.publish_will(will);
    }
    end(session);
    return;
  }
  const uint64_t now = _host.now_ms();
  if (will != nullptr) {
    if (will_delay_s == 0) {
      _events.publish_will(will);
    } else {
      session->set_will(will, now + uint64_t{will_delay_s} * 1000);
    }
  }
  if (session->expiry_interval != Session::kNeverExpires) {
    session->offline().expiry_due_ms = now + uint64_t{session->expiry_interval} * 1000;
  }
  arm_timer(session);
}

void SessionTable::arm_timer(Session* session) {
  Session::Offline* state = session->offline_if_any();
  if (state == nullptr) {
    return;
  }
  uint64_t due = 0;
  for (uint64_t candidate : {state->will_due_ms, state->expiry_due_ms}) {
    if (candidate != 0 && (due == 0 || candidate < due)) {
      due = candidate;
    }
  }
  if (due == 0) {
    _host.wheel().cancel(*state);
  } else {
    _host.wheel().arm(*state, due);
  }
}

void SessionTable::timer(Session* session) {
  PG_DASSERT_OWNER(_self);
  const uint64_t now = _host.now_ms();
  Session::Offline& state = session->offline();
  if (state.expiry_due_ms != 0 && now >= state.expiry_due_ms) {
    _host.stats().sessions_expired++;
    end(session);  // sends a will still waiting: the session ended first
    return;
  }
  if (state.will_due_ms != 0 && now >= state.will_due_ms) {
    if (Message* will = session->take_will()) {
      _events.publish_will(will);
    }
  }
  arm_timer(session);
}

void SessionTable::end(Session* session, bool replaced) {
  PG_DASSERT_OWNER(_self);
  PG_ASSERT(session->client() == nullptr);
  if (session->has_subscriptions()) {
    for (const Session::Subscription* subscription : session->subscriptions_in_order()) {
      _events.drop_subscription(session, subscription->filter.view());
    }
    session->subscriptions().clear();
  }
  if (Message* will = session->take_will()) {
    _events.publish_will(will);
  }
  if (Session::Offline* state = session->offline_if_any()) {
    _host.wheel().cancel(*state);
  }
  _events.session_ending(session);
  const uint16_t home_shard = home(session->client_id());
  if (!replaced && home_shard != _self) {
    // A rehomed session: its home forgets where it was, so a new one starts there.
    _events.ended_away(home_shard, session->away_ticket);
  }
  erase(session);
}

Session* SessionTable::insert(std::unique_ptr<Session> session) {
  PG_DASSERT_OWNER(_self);
  Session* raw = session.get();
  PG_ASSERT(find(raw->client_id()) == nullptr);
  raw->id = _next_id++;
  _by_id.insert(raw);
  _by_name.insert(std::move(session));
  return raw;
}

Session* SessionTable::restore(std::unique_ptr<Session> session, uint64_t expiry_due_ms) {
  PG_ASSERT(session->client() == nullptr);
  Session* raw = insert(std::move(session));
  if (expiry_due_ms != 0) {
    raw->offline().expiry_due_ms = expiry_due_ms;
  }
  arm_timer(raw);  // its expiry, or a will set before
  return raw;
}

Session* SessionTable::release(Session* session) {
  auto node = _by_name.extract(std::string_view(session->client_id()));
  PG_ASSERT(!node.empty());
  PG_ASSERT(node.value().get() == session);
  _by_id.erase(session);
  return node.value().release();
}

void SessionTable::erase(Session* session) {
  PG_DASSERT_OWNER(_self);
  _by_id.erase(session);
  const size_t erased = _by_name.erase(std::string_view(session->client_id()));  // destroys it
  PG_ASSERT(erased == 1);
}

uint64_t SessionTable::lend(std::string_view client_id, uint16_t shard) {
  PG_DASSERT_OWNER(_self);
  PG_ASSERT(is_home(client_id));
  PG_ASSERT(shard != _self);
  returned(client_id);  // a record left from an earlier lend goes with its ticket
  const uint64_t ticket = _next_ticket++;
  auto [it, fresh] = _away.emplace(std::string(client_id), Away{shard, ticket});
  PG_ASSERT(fresh);
  _away_by_ticket.emplace(ticket, it->first);
  return ticket;
}

std::optional<uint16_t> SessionTable::away(std::string_view client_id) const {
  auto it = _away.find(key(client_id));
  if (it == _away.end()) {
    return std::nullopt;
  }
  return it->second.shard;
}

void SessionTable::returned(std::string_view client_id) {
  auto it = _away.find(key(client_id));
  if (it != _away.end()) {
    _away_by_ticket.erase(it->second.ticket);
    _away.erase(it);
  }
}

void SessionTable::gone(uint64_t ticket) {
  PG_DASSERT_OWNER(_self);
  auto it = _away_by_ticket.find(ticket);
  if (it == _away_by_ticket.end()) {
    return;  // it came back, or a newer lend replaced the record
  }
  auto away = _away.find(it->second);
  PG_ASSERT(away != _away.end());
  PG_ASSERT(away->second.ticket == ticket);
  PG_DEBUG("session ended away client_id=%s", away->first.c_str());
  _away.erase(away);
  _away_by_ticket.erase(it);
}

}  // namespace peregrine::broker
