#include "src/broker/session_table.h"

#include "src/base/assert.h"
#include "src/base/owner.h"

namespace peregrine::broker {

namespace {
absl::string_view key(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace

Session* SessionTable::insert(std::unique_ptr<Session> session) {
  PG_DASSERT_OWNER(_self);
  Session* raw = session.get();
  PG_ASSERT(find(raw->client_id()) == nullptr);
  raw->id = _next_id++;
  _by_id.insert(raw);
  _by_name.insert(std::move(session));
  return raw;
}

Session* SessionTable::release(Session* session) {
  auto node = _by_name.extract(std::string_view(session->client_id()));
  PG_ASSERT(!node.empty() && node.value().get() == session);
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
  PG_ASSERT(is_home(client_id) && shard != _self);
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
  PG_ASSERT(away != _away.end() && away->second.ticket == ticket);
  _away.erase(away);
  _away_by_ticket.erase(it);
}

}  // namespace peregrine::broker
