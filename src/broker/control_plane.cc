#include "src/broker/control_plane.h"

#include <picojson.h>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/broker/outbox.h"
#include "src/broker/shard_mail.h"

namespace peregrine::broker {

namespace {

std::string json_list(const std::vector<std::string>& items) {
  picojson::array array;
  array.reserve(items.size());
  for (const std::string& item : items) {
    array.emplace_back(item);
  }
  return picojson::value(array).serialize();
}

// Mail never handled (the shards stopped first): freed after the threads are joined.
void release_change(ControlChange* change) {
  if (--change->acks_left == 0) {
    delete change->op;
    delete change;
  }
}

}  // namespace

void mail::AdminForward::discard() const { delete op; }
void mail::AdminDone::discard() const { delete op; }
void mail::ControlChangeMail::discard() const { release_change(change); }
void mail::ControlAck::discard() const { release_change(change); }

ControlPlane::ControlPlane(uint16_t self, uint16_t shards, Outbox& outbox, ControlEvents& events,
                           ControlStore* store, uint32_t max_revocations,
                           const std::vector<std::string>& revoked)
    : _self(self),
      _shards(shards),
      _outbox(outbox),
      _events(events),
      _store(self == kLeader ? store : nullptr),
      _max_revocations(max_revocations) {
  for (const std::string& id : revoked) {
    if (_revoked.insert(id).second) {
      _order.push_back(id);
    }
  }
}

ControlPlane::~ControlPlane() {
  for (auto& [ticket, op] : _saving) {
    delete op;  // made here (leader-made ops) or lent by a shard that is stopping too
  }
}

std::string ControlPlane::list_json() const { return json_list(_order); }

void ControlPlane::call(uint64_t waiter, const http::AdminCall& call) {
  if (call.op == http::AdminCall::Op::kListRevocations) {
    _answers.push_back({waiter, 200, http::admin_success(list_json())});
    return;
  }
  if (_pending >= kMaxPendingOps) {
    _answers.push_back({waiter, 503, http::admin_error(10010, "too many admin calls in flight")});
    return;
  }
  auto* op = new AdminOp{call, _self, waiter};
  _pending++;
  if (_self == kLeader) {
    lead(op);
  } else {
    _outbox.post(kLeader, mail::AdminForward{op});
  }
}

void ControlPlane::on_forward(AdminOp* op) {
  PG_ASSERT(_self == kLeader);
  lead(op);
}

void ControlPlane::lead(AdminOp* op) {
  const bool revoke = op->call.op == http::AdminCall::Op::kRevoke;
  // Only ids that change travel; an id named twice counts once.
  std::vector<std::string> changing;
  std::unordered_set<std::string> seen;
  for (const std::string& id : op->call.token_ids) {
    if (seen.insert(id).second && _revoked.contains(id) != revoke) {
      changing.push_back(id);
    }
  }
  if (revoke && _revoked.size() + changing.size() > _max_revocations) {
    op->status = 409;
    op->body = http::admin_error(
        10011, "the revocation list is full (" + std::to_string(_max_revocations) +
                   " tokens): unrevoke some, or raise auth.max_revocations");
    return finish(op);
  }
  op->body = http::admin_success(json_list(changing));
  if (changing.empty()) {
    return finish(op);  // nothing changes: nothing to broadcast or save
  }
  apply(revoke, changing);
  if (_shards == 1) {
    return save(op);
  }
  auto* change = new ControlChange{revoke, std::move(changing),
                                   static_cast<uint32_t>(_shards - 1), op};
  _outbox.post_to_others(mail::ControlChangeMail{change});
}

void ControlPlane::apply(bool revoke, const std::vector<std::string>& token_ids) {
  for (const std::string& id : token_ids) {
    if (revoke) {
      if (_revoked.insert(id).second) {
        _order.push_back(id);
        _events.disconnect_token_holders(id);
      }
    } else if (_revoked.erase(id) != 0) {
      std::erase(_order, id);
    }
  }
}

void ControlPlane::on_change(ControlChange* change, uint16_t from) {
  apply(change->revoke, change->token_ids);
  _outbox.post(from, mail::ControlAck{change});
}

void ControlPlane::on_ack(ControlChange* change) {
  PG_ASSERT(_self == kLeader && change->acks_left > 0);
  if (--change->acks_left > 0) {
    return;
  }
  AdminOp* op = change->op;
  delete change;
  save(op);  // every shard applied it: now it must survive a restart
}

void ControlPlane::save(AdminOp* op) {
  if (_store == nullptr) {
    return finish(op);
  }
  const uint64_t ticket = _next_ticket++;
  if (!_store->save_revocations(_order, ticket)) {
    op->status = 503;
    op->body = http::admin_error(10012, "applied, but not saved: the state writer is busy");
    return finish(op);
  }
  _saving.emplace(ticket, op);
}

void ControlPlane::on_turn_begin() {
  if (_store == nullptr || _saving.empty()) {
    return;
  }
  uint64_t ticket = 0;
  bool ok = false;
  std::string error;
  while (_store->poll_saved(&ticket, &ok, &error)) {
    const auto it = _saving.find(ticket);
    if (it == _saving.end()) {
      continue;
    }
    AdminOp* op = it->second;
    _saving.erase(it);
    if (!ok) {
      PG_ERROR("revocations applied but not saved: %s", error.c_str());
      op->status = 500;
      op->body = http::admin_error(10013, "applied on every shard, but not saved: " + error);
    }
    finish(op);
  }
}

void ControlPlane::finish(AdminOp* op) {
  if (op->origin == _self) {
    return answer(op);
  }
  _outbox.post(op->origin, mail::AdminDone{op});
}

void ControlPlane::on_done(AdminOp* op) {
  PG_ASSERT(op->origin == _self);
  answer(op);
}

void ControlPlane::answer(AdminOp* op) {
  PG_ASSERT(_pending > 0);
  _pending--;
  _answers.push_back({op->waiter, op->status, std::move(op->body)});
  delete op;
}

void ControlPlane::flush_answers() {
  std::vector<Answer> due;
  due.swap(_answers);
  for (Answer& a : due) {
    _events.answer_admin(a.waiter, a.status, std::move(a.body));
  }
}

}  // namespace peregrine::broker
