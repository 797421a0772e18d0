// The control plane on one shard: the revocation list (revoked token ids, by jti) and the
// admin API calls that change or read it. Every shard holds a replica; shard 0 is the
// one writer (DESIGN §6: changed on one shard, broadcast to every shard as typed mail,
// applied before the API answers):
//
//   origin shard            shard 0 (leader)                every other shard
//   AdminForward(op) ─────▶ applies, checks the bound
//                           ControlChangeMail ────────────▶ applies, disconnects holders
//                           ◀──────────────────────────── ControlAck
//                           all acked: saves the whole list (ControlStore, off-shard)
//   ◀──────────── AdminDone(op) once saved
//   answers the HTTP request
//
// An AdminOp is made on its origin shard and dies there; a ControlChange is made on
// shard 0 and dies there with its last ack. Reads (the list) are answered from the
// origin's replica. Bounds: the list holds at most `max_revocations` ids (beyond: the
// call is refused, 409); a shard has at most kMaxPendingOps calls in flight (beyond:
// 503). Single-threaded: every call on the shard's own thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "include/peregrine/control_store.h"
#include "src/http/admin_call.h"

namespace peregrine::broker {

class Outbox;

// A change of the revocation list, on its way to every shard (shard_mail.h).
struct ControlChange {
  bool revoke = true;                  // false: unrevoke
  std::vector<std::string> token_ids;  // only those that change
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
};

// What the control plane needs of its shard.
class ControlEvents {
 public:
  virtual ~ControlEvents() = default;
  // The answer for the connection `waiter` made a call on (dropped if it is gone).
  virtual void answer_admin(uint64_t waiter, int status, std::string body) = 0;
  // Live connections on this shard that used `token_id` are closed (v5: 0x98).
  virtual void disconnect_token_holders(std::string_view token_id) = 0;
};

class ControlPlane {
 public:
  static constexpr uint16_t kLeader = 0;
  static constexpr size_t kMaxPendingOps = 64;

  ControlPlane(uint16_t self, uint16_t shards, Outbox& outbox, ControlEvents& events,
               ControlStore* store, uint32_t max_revocations,
               const std::vector<std::string>& revoked);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  bool revoked(std::string_view token_id) const {
    return !_revoked.empty() && _revoked.contains(std::string(token_id));
  }
  size_t revoked_count() const { return _revoked.size(); }

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
  void apply(bool revoke, const std::vector<std::string>& token_ids);
  void save(AdminOp* op);
  void finish(AdminOp* op);
  void answer(AdminOp* op);
  std::string list_json() const;

  uint16_t _self;
  uint16_t _shards;
  Outbox& _outbox;
  ControlEvents& _events;
  ControlStore* _store;  // leader only; nullptr: nothing is saved
  uint32_t _max_revocations;
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
