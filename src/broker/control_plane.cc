#include "src/broker/control_plane.h"

#include <picojson.h>

#include <algorithm>
#include <ctime>

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

// RFC 3339 in UTC, as Cloudflare's created_on ("2022-05-11T23:19:24Z").
std::string utc_time(int64_t seconds) {
  const time_t t = static_cast<time_t>(seconds);
  tm parts{};
  gmtime_r(&t, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
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
                           const ControlSettings& settings)
    : _self(self),
      _shards(shards),
      _outbox(outbox),
      _events(events),
      _store(self == kLeader ? settings.store : nullptr),
      _issuer(settings.issuer),
      _max_revocations(settings.max_revocations),
      _configured_keys(settings.configured_keys),
      _configured_tenants(settings.configured_tenants),
      _made_tenants(settings.made_tenants),
      _refuse_unmatched(settings.refuse_unmatched),
      _max_namespaces(settings.max_namespaces),
      _max_brokers_per_namespace(settings.max_brokers_per_namespace) {
  if (!rebuild_brokers()) {
    _brokers = std::make_unique<VirtualBrokers>();  // main checked the config's set
  }
  if (self == kLeader && !_brokers->empty()) {
    PG_INFO("virtual brokers: %zu in %zu namespaces; unmatched connections %s",
            _brokers->size(), _brokers->namespaces().size(),
            _refuse_unmatched ? "refused" : "go to the default broker");
  }
  for (const std::string& id : settings.revoked) {
    if (_revoked.insert(id).second) {
      _order.push_back(id);
    }
  }
  for (const BrokerKey& key : settings.broker_keys) {
    _keys.push_back(self == kLeader ? key : key.public_half());
  }
}

bool ControlPlane::has_broker_key(std::string_view kid) const {
  return std::any_of(_keys.begin(), _keys.end(), [&](const BrokerKey& k) { return k.kid == kid; });
}

std::vector<BrokerKey> ControlPlane::public_keys() const {
  std::vector<BrokerKey> out;
  out.reserve(_keys.size());
  for (const BrokerKey& key : _keys) {
    out.push_back(key.public_half());
  }
  return out;
}

void ControlPlane::reconfigure(const ControlSettings& next) {
  _issuer = next.issuer;
  _configured_keys = next.configured_keys;
  _configured_tenants = next.configured_tenants;
  _refuse_unmatched = next.refuse_unmatched;
  _max_namespaces = next.max_namespaces;
  _max_brokers_per_namespace = next.max_brokers_per_namespace;
  rebuild_brokers();
}

ControlPlane::~ControlPlane() {
  for (auto& [ticket, op] : _saving) {
    delete op;  // made here (leader-made ops) or lent by a shard that is stopping too
  }
}

std::string ControlPlane::list_json() const { return json_list(_order); }

std::string ControlPlane::key_json(const BrokerKey& key, bool with_public) const {
  picojson::object o;
  o["kid"] = picojson::value(key.kid);
  o["alg"] = picojson::value("EdDSA");
  o["source"] = picojson::value("broker");
  o["created_on"] = picojson::value(utc_time(key.created_s));
  if (with_public) {
    picojson::value jwk;
    picojson::parse(jwk, _issuer->public_jwk(key));
    o["public_key"] = jwk;
  }
  return picojson::value(o).serialize();
}

std::string ControlPlane::keys_json() const {
  picojson::array keys;
  for (const BrokerKey& key : _keys) {
    picojson::value v;
    picojson::parse(v, key_json(key, false));
    keys.push_back(v);
  }
  for (const auto& [kid, alg] : _configured_keys) {
    picojson::object o;
    o["kid"] = picojson::value(kid);
    o["alg"] = picojson::value(alg);
    o["source"] = picojson::value("config");
    keys.emplace_back(o);
  }
  return picojson::value(keys).serialize();
}

std::string ControlPlane::public_keys_json() const {
  picojson::array keys;
  for (const BrokerKey& key : _keys) {
    picojson::value jwk;
    picojson::parse(jwk, _issuer->public_jwk(key));
    keys.push_back(jwk);
  }
  picojson::object jwks;
  jwks["keys"] = picojson::value(keys);
  return picojson::value(jwks).serialize();
}

void ControlPlane::call(uint64_t waiter, const http::AdminCall& call) {
  using Op = http::AdminCall::Op;
  switch (call.op) {
    case Op::kListRevocations:
      _answers.push_back({waiter, 200, http::admin_success(list_json())});
      return;
    case Op::kListKeys:
      _answers.push_back({waiter, 200, http::admin_success(keys_json())});
      return;
    case Op::kPublicKeys:
      _answers.push_back({waiter, 200, http::admin_success(public_keys_json())});
      return;
    default:
      break;
  }
  if (http::is_tenant_read(call.op)) {
    return answer_tenant_read(waiter, call);
  }
  if (_issuer == nullptr &&
      (call.op == Op::kCreateKey || call.op == Op::kDeleteKey || call.op == Op::kIssue)) {
    _answers.push_back({waiter, 501, http::admin_error(10030, "this broker makes no keys")});
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
  using Op = http::AdminCall::Op;
  switch (op->call.op) {
    case Op::kRevoke:
    case Op::kUnrevoke: return lead_revocations(op);
    case Op::kCreateKey: return create_key(op);
    case Op::kDeleteKey: return delete_key(op);
    case Op::kIssue: return issue(op);
    case Op::kCreateNamespace:
    case Op::kDeleteNamespace:
    case Op::kCreateBroker:
    case Op::kUpdateBroker:
    case Op::kDeleteBroker: return lead_tenants(op);
    case Op::kListRevocations:
    case Op::kListKeys:
    case Op::kPublicKeys:
    case Op::kListNamespaces:
    case Op::kDescribeNamespace:
    case Op::kListBrokers:
    case Op::kDescribeBroker: break;
  }
  PG_ASSERT_MSG(false, "a read reached the leader");
}

void ControlPlane::lead_revocations(AdminOp* op) {
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
  broadcast(op, revoke ? ControlChange::Kind::kRevoke : ControlChange::Kind::kUnrevoke,
            std::move(changing), {});
}

void ControlPlane::create_key(AdminOp* op) {
  if (_keys.size() >= kMaxBrokerKeys) {
    op->status = 409;
    op->body = http::admin_error(10031, "the broker has " + std::to_string(kMaxBrokerKeys) +
                                            " keys, its most: delete one first");
    return finish(op);
  }
  BrokerKey key;
  std::string error;
  if (!_issuer->generate_key(_events.wall_clock_ms() / 1000, key, error)) {
    op->status = 500;
    op->body = http::admin_error(10032, "no key made: " + error);
    return finish(op);
  }
  op->body = http::admin_success(key_json(key, true));
  op->made = std::move(key);
  // Saved before any shard uses it: a key that would be forgotten at restart never
  // signs a token.
  save(op);
}

void ControlPlane::delete_key(AdminOp* op) {
  const std::string& kid = op->call.key_id;
  const auto it = std::find_if(_keys.begin(), _keys.end(),
                               [&](const BrokerKey& k) { return k.kid == kid; });
  if (it == _keys.end()) {
    const bool configured =
        std::any_of(_configured_keys.begin(), _configured_keys.end(),
                    [&](const auto& k) { return k.first == kid; });
    op->status = configured ? 409 : 404;
    op->body = configured ? http::admin_error(10033, "a key from the config file: remove it there")
                          : http::admin_error(10034, "no broker key has that kid");
    return finish(op);
  }
  op->body = http::admin_success(key_json(*it, false));
  _keys.erase(it);
  broadcast(op, ControlChange::Kind::kKeys, {}, kid);
}

void ControlPlane::issue(AdminOp* op) {
  const CredentialRequest& request = op->call.credentials;
  const BrokerKey* key = nullptr;
  for (const BrokerKey& k : _keys) {
    if (request.kid.empty() ? (key == nullptr || k.created_s >= key->created_s)
                            : k.kid == request.kid) {
      key = &k;
    }
  }
  if (key == nullptr) {
    op->status = request.kid.empty() ? 409 : 404;
    op->body = request.kid.empty()
                   ? http::admin_error(10035, "no signing key yet: create one (POST "
                                              "/admin/keys, or peregrine-ctl keys create)")
                   : http::admin_error(10034, "no broker key has that kid");
    return finish(op);
  }
  // At most CredentialRequest::kMaxTokens signatures (~12 µs each with Ed25519) in this
  // turn: bounded, and measured in bench/RESULTS.md.
  const int64_t now_ms = _events.wall_clock_ms();
  picojson::object tokens;
  for (uint32_t i = 0; i < request.number; i++) {
    std::string client_id =
        i < request.client_ids.size() ? request.client_ids[i] : _issuer->make_client_id(now_ms);
    std::string token = _issuer->issue(*key, client_id, request, now_ms / 1000);
    if (token.empty()) {
      op->status = 500;
      op->body = http::admin_error(10036, "signing failed");
      return finish(op);
    }
    tokens[client_id] = picojson::value(std::move(token));
  }
  op->body = http::admin_success(picojson::value(tokens).serialize());
  finish(op);
}

void ControlPlane::broadcast(AdminOp* op, ControlChange::Kind kind,
                             std::vector<std::string> token_ids, std::string removed) {
  ControlChange change{kind, std::move(token_ids), {}, {}, {}, {}, 0, op};
  if (kind == ControlChange::Kind::kKeys) {
    change.keys = public_keys();
    change.removed_key = std::move(removed);
  }
  if (kind == ControlChange::Kind::kTenants) {
    change.tenants = _made_tenants;
    change.removed_scope = std::move(removed);
  }
  apply(change);
  if (_shards == 1) {
    return op->made ? finish(op) : save(op);
  }
  change.acks_left = static_cast<uint32_t>(_shards - 1);
  _outbox.post_to_others(mail::ControlChangeMail{new ControlChange(std::move(change))});
}

void ControlPlane::apply(const ControlChange& change) {
  switch (change.kind) {
    case ControlChange::Kind::kRevoke:
      for (const std::string& id : change.token_ids) {
        if (_revoked.insert(id).second) {
          _order.push_back(id);
          _events.disconnect_token_holders(id);
        }
      }
      return;
    case ControlChange::Kind::kUnrevoke:
      for (const std::string& id : change.token_ids) {
        if (_revoked.erase(id) != 0) {
          std::erase(_order, id);
        }
      }
      return;
    case ControlChange::Kind::kKeys:
      if (_self != kLeader) {
        _keys = change.keys;  // the leader changed its own (with private halves) already
      }
      _events.broker_keys_changed(change.keys, change.removed_key);
      return;
    case ControlChange::Kind::kTenants:
      if (_self != kLeader) {
        _made_tenants = change.tenants;  // the leader changed its own already
      }
      rebuild_brokers();
      if (!change.removed_scope.empty()) {
        _events.broker_removed(change.removed_scope);
      }
      return;
  }
}

void ControlPlane::on_change(ControlChange* change, uint16_t from) {
  apply(*change);
  _outbox.post(from, mail::ControlAck{change});
}

void ControlPlane::on_ack(ControlChange* change) {
  PG_ASSERT(_self == kLeader && change->acks_left > 0);
  if (--change->acks_left > 0) {
    return;
  }
  AdminOp* op = change->op;
  delete change;
  // Every shard applied it: a new key was saved already; anything else must now survive
  // a restart.
  if (op->made) {
    return finish(op);
  }
  save(op);
}

void ControlPlane::save(AdminOp* op) {
  if (_store == nullptr) {
    return saved(op, true, {}, 0);
  }
  const uint64_t ticket = _next_ticket++;
  bool taken = false;
  if (op->call.op == http::AdminCall::Op::kRevoke ||
      op->call.op == http::AdminCall::Op::kUnrevoke) {
    taken = _store->save_revocations(_order, ticket);
  } else if (http::is_tenant_op(op->call.op)) {
    taken = _store->save_tenants(encode_tenants(_made_tenants), ticket);
  } else {
    std::vector<BrokerKey> keys = _keys;
    if (op->made) {
      keys.push_back(*op->made);
    }
    taken = _store->save_broker_keys(_issuer->encode_key_file(keys), ticket);
  }
  if (!taken) {
    return saved(op, false, "the state writer is busy", 503);
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
    saved(op, ok, error, 500);
  }
}

void ControlPlane::saved(AdminOp* op, bool ok, const std::string& error, int failure_status) {
  if (op->made) {
    if (!ok) {
      PG_ERROR("a signing key was made but not saved (so not used): %s", error.c_str());
      op->status = failure_status;
      op->body = http::admin_error(10037, "no key made: it could not be saved: " + error);
      return finish(op);
    }
    PG_INFO("signing key %s made", op->made->kid.c_str());
    _keys.push_back(*op->made);
    return broadcast(op, ControlChange::Kind::kKeys, {}, {});
  }
  if (!ok) {
    PG_ERROR("a control-plane change applied but not saved: %s", error.c_str());
    op->status = failure_status;
    op->body = http::admin_error(10013, "applied on every shard, but not saved: " + error);
  }
  finish(op);
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
