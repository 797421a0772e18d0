// The control plane on one shard: the revocation list (revoked token ids, by jti), the
// broker's own signing keys (token_issuer.h), the virtual brokers (virtual_brokers.h: the
// config file's and those made through the API), and the admin API calls that read or
// change them. Every shard holds a replica (of the keys, their public halves); shard 0
// is the one writer and the only holder of private keys (DESIGN §6: changed on one
// shard, broadcast to every shard as typed mail, applied before the API answers):
//
//   origin shard            shard 0 (leader)                every other shard
//   AdminForward(op) ─────▶ applies, checks the bound
//                           ControlChangeMail ────────────▶ applies (disconnects holders
//                                                            of revoked tokens, or of
//                                                            tokens of a deleted key)
//                           ◀──────────────────────────── ControlAck
//                           all acked: saves (ControlStore, off-shard)
//   ◀──────────── AdminDone(op) once saved
//   answers the HTTP request
//
// A new key is saved first and broadcast after (a key whose save failed never signs a
// token); a revocation or a key deletion is broadcast first and saved after (it must
// take effect at once). Credentials are issued on shard 0, which holds the private keys;
// reads (revocations, keys, public keys) are answered from the origin's replica.
//
// An AdminOp is made on its origin shard and dies there; a ControlChange is made on
// shard 0 and dies there with its last ack. Bounds: at most `max_revocations` revoked
// ids (beyond: the call is refused, 409), at most kMaxBrokerKeys keys (409); a shard has
// at most kMaxPendingOps calls in flight (beyond: 503). Single-threaded: every call on
// the shard's own thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "include/peregrine/control_store.h"
#include "include/peregrine/token_issuer.h"
#include "src/broker/virtual_brokers.h"
#include "src/http/admin_call.h"

namespace peregrine::broker {

class Outbox;

// How the control plane starts on every shard (BrokerConfig::control).
struct ControlSettings {
  std::vector<std::string> revoked;  // revoked token ids at start
  uint32_t max_revocations = 10'000;
  ControlStore* store = nullptr;     // where shard 0 saves changes; nullptr: memory only
  TokenIssuer* issuer = nullptr;     // shard 0's; nullptr: no keys, no credentials
  std::vector<BrokerKey> broker_keys;  // at start, private halves included
  // [[auth.jwt.keys]] as the key list shows them: kid and algorithm (never the material).
  std::vector<std::pair<std::string, std::string>> configured_keys;
  // Virtual brokers: the config file's, those the admin API made (brokers.json at
  // start), what becomes of connections naming none, and the API's bounds.
  TenantSet configured_tenants;
  TenantSet made_tenants;
  bool refuse_unmatched = false;
  uint32_t max_namespaces = 1000;
  uint32_t max_brokers_per_namespace = 1000;
};

// A change on its way to every shard (shard_mail.h): revocations, or the key set.
struct ControlChange {
  enum class Kind : uint8_t { kRevoke, kUnrevoke, kKeys, kTenants };
  Kind kind = Kind::kRevoke;
  std::vector<std::string> token_ids;  // kRevoke, kUnrevoke: only those that change
  std::vector<BrokerKey> keys;         // kKeys: the whole new set, public halves only
  std::string removed_key;             // kKeys: the kid deleted ("": one was added)
  TenantSet tenants;                   // kTenants: the API's whole new set
  std::string removed_scope;           // kTenants: a deleted broker's scope ("": none)
  uint32_t acks_left = 0;
  struct AdminOp* op = nullptr;        // the call it answers, back to its origin
};

// One admin call in flight, made and freed on its origin shard.
struct AdminOp {
  http::AdminCall call;
  uint16_t origin = 0;
  uint64_t waiter = 0;  // the origin's connection waiting for the answer
  int status = 200;
  std::string body;     // the JSON answer
  std::optional<BrokerKey> made;  // kCreateKey on the leader: saved, not yet in use
};

// What the control plane needs of its shard.
class ControlEvents {
 public:
  virtual ~ControlEvents() = default;
  // The answer for the connection `waiter` made a call on (dropped if it is gone).
  virtual void answer_admin(uint64_t waiter, int status, std::string body) = 0;
  // Live connections on this shard that used `token_id` are closed (v5: 0x98).
  virtual void disconnect_token_holders(std::string_view token_id) = 0;
  // The broker's keys are now `keys` (public halves): the shard's authenticator uses
  // them, and live connections whose token `removed_key` signed are closed (v5: 0x98).
  virtual void broker_keys_changed(const std::vector<BrokerKey>& keys,
                                   std::string_view removed_key) = 0;
  // The virtual broker of `scope` was deleted: its live connections are closed (v5:
  // 0x98) and its sessions and retained messages go.
  virtual void broker_removed(std::string_view scope) = 0;
  // The wall clock, in milliseconds since the epoch (a key's birth, a token's iat).
  virtual int64_t wall_clock_ms() const = 0;
};

class ControlPlane {
 public:
  static constexpr uint16_t kLeader = 0;
  static constexpr size_t kMaxPendingOps = 64;
  static constexpr size_t kMaxBrokerKeys = 16;

  ControlPlane(uint16_t self, uint16_t shards, Outbox& outbox, ControlEvents& events,
               const ControlSettings& settings);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  bool revoked(std::string_view token_id) const {
    return !_revoked.empty() && _revoked.contains(std::string(token_id));
  }
  size_t revoked_count() const { return _revoked.size(); }
  // Whether `kid` is one of the broker's keys (a connection whose token a deleted key
  // signed must not outlive it, even if it was travelling when the key went).
  bool has_broker_key(std::string_view kid) const;
  // The authenticator learns the keys there are at start (the shard calls it then).
  std::vector<BrokerKey> public_keys() const;

  // SIGHUP: `next`'s issuer (the configured iss and aud) signs from now on, and its
  // configured keys are the ones listed; its configured virtual brokers replace the old
  // ones; revocations, the broker's keys and the API's brokers stay.
  void reconfigure(const ControlSettings& next);
  // Which virtual broker a connection belongs to: this shard's replica.
  const VirtualBrokers& brokers() const { return *_brokers; }

  // An admin call from a connection on this shard; answered through ControlEvents, never
  // from within this call.
  void call(uint64_t waiter, const http::AdminCall& call);

  // Mail (shard_mail.h).
  void on_forward(AdminOp* op);            // leader
  void on_change(ControlChange* change, uint16_t from);  // followers
  void on_ack(ControlChange* change);      // leader
  void on_done(AdminOp* op);               // origin
  // Each turn: saves the store has finished (leader), answers due now.
  void on_turn_begin();
  bool has_answers() const { return !_answers.empty(); }
  void flush_answers();

 private:
  void lead(AdminOp* op);
  // Virtual brokers (control_plane_brokers.cc): reads answered here, changes led.
  void answer_tenant_read(uint64_t waiter, const http::AdminCall& call);
  void lead_tenants(AdminOp* op);
  // This shard's directory again from the config's set and the API's (false: kept).
  bool rebuild_brokers();
  std::string namespace_json(const NamespaceSpec& ns) const;
  std::string broker_json(const VirtualBrokerSpec& broker) const;
  void lead_revocations(AdminOp* op);
  void create_key(AdminOp* op);
  void delete_key(AdminOp* op);
  void issue(AdminOp* op);
  // `removed`: the kid deleted (kKeys) or the deleted broker's scope (kTenants); "": none.
  void broadcast(AdminOp* op, ControlChange::Kind kind, std::vector<std::string> token_ids,
                 std::string removed);
  void apply(const ControlChange& change);
  void save(AdminOp* op);
  void saved(AdminOp* op, bool ok, const std::string& error, int failure_status);
  void finish(AdminOp* op);
  void answer(AdminOp* op);
  std::string list_json() const;
  std::string keys_json() const;
  std::string public_keys_json() const;
  std::string key_json(const BrokerKey& key, bool with_public) const;

  uint16_t _self;
  uint16_t _shards;
  Outbox& _outbox;
  ControlEvents& _events;
  ControlStore* _store;  // leader only; nullptr: nothing is saved
  // Signs on the leader only; its const calls (public_jwk, encode_key_file) are pure and
  // every shard may make them.
  TokenIssuer* _issuer;
  uint32_t _max_revocations;
  std::vector<BrokerKey> _keys;  // oldest first; private halves on the leader only
  std::vector<std::pair<std::string, std::string>> _configured_keys;
  TenantSet _configured_tenants;  // the config file's
  TenantSet _made_tenants;        // the API's: the same on every shard
  bool _refuse_unmatched = false;
  uint32_t _max_namespaces;
  uint32_t _max_brokers_per_namespace;
  std::unique_ptr<VirtualBrokers> _brokers;  // of both; never null
  std::unordered_set<std::string> _revoked;
  std::vector<std::string> _order;  // _revoked in the order revoked (what lists show)
  size_t _pending = 0;              // ops of this origin in flight
  uint64_t _next_ticket = 1;
  std::unordered_map<uint64_t, AdminOp*> _saving;  // leader: ticket → op
  // Answers due (made during mail or a call), given out at the turn's start or end so a
  // bridge is never re-entered.
  struct Answer {
    uint64_t waiter;
    int status;
    std::string body;
  };
  std::vector<Answer> _answers;
};

}  // namespace peregrine::broker
