// Where a shard's broker posts mail (shard_mail.h): to another shard through the mailbox,
// or to itself for its next turn. It owns the plain QoS 0 batches open towards each shard
// (publish_batch.h) and seals the one for a shard before any other mail goes there, so a
// publisher's batched and unbatched messages arrive in order. Lives on its shard's thread.
// Bounds: at most kMaxBatchesOut batches out per target (past that: messages go alone,
// counted in unbatched_behind); mail to itself at most kMaxSelfMail a turn is handled
// (the rest waits for the next turn, in order; what queues there is bounded by what
// the shard's own work makes: migrations and retained scans).
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string_view>
#include <vector>

#include "src/base/owner.h"
#include "src/broker/broker_stats.h"
#include "src/broker/publish_batch.h"
#include "src/broker/shard_mail.h"
#include "src/shard/shard.h"

namespace peregrine::broker {

class Outbox {
 public:
  // A block costs its 64 KiB however few records it holds, so a shard that falls behind
  // is sent at most kMaxBatchesOut (4 MiB) of them; past that its messages travel alone,
  // as Messages in the mailbox, whose capacity bounds them.
  static constexpr uint32_t kMaxBatchesOut = 64;

  Outbox(shard::Shard& shard, BrokerStats& stats);
  ~Outbox();  // after the shard threads are joined: frees open batches and self mail
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  uint16_t self() const { return _self; }
  uint16_t count() const { return _count; }

  // Posts `mail` to shard `to` (to itself: handled in a later turn, in order). False when
  // a droppable mail met a full mailbox: the caller still owns it, drops and counts it.
  template <typename Mail>
  bool post(uint16_t to, const Mail& mail) {
    PG_DASSERT_OWNER(_self);
    if (to == _self) {
      shard::Envelope envelope = mail.envelope();
      envelope.from = _self;
      _self_mail.push_back(envelope);
      return true;
    }
    seal(to);  // what was batched before this mail arrives before it
    return _shard.post(to, mail.envelope(), mail.delivery());
  }
  // Posts `mail` to every other shard.
  template <typename Mail>
  void post_to_others(const Mail& mail) {
    for (uint16_t to = 0; to < _count; ++to) {
      if (to != _self) {
        post(to, mail);
      }
    }
  }

  // A plain QoS 0 PUBLISH into the batch open towards `to`; false, having done nothing,
  // when `to` holds kMaxBatchesOut of this shard's batches.
  bool append_to_batch(uint16_t to, uint64_t origin, std::string_view topic,
                       std::span<const uint8_t> payload);
  // Posts the batch open towards `to`, if any (droppable, like the QoS 0 it carries).
  void seal(uint16_t to);
  void seal_all();
  // A batch of this shard's came back read.
  void batch_back(PublishBatch* batch, uint16_t from);
  uint32_t batches_out(uint16_t to) const { return _batches_out[to]; }
  // Every mail to `to` has been taken by it (none waits in the mailbox or the overflow).
  bool drained(uint16_t to) const { return _shard.outbound_drained(to); }

  // The mail this shard posted itself, oldest first: `handle(envelope)` for what was
  // queued before this call, at most kMaxSelfMail of it.
  static constexpr size_t kMaxSelfMail = 1024;
  bool has_self_mail() const { return !_self_mail.empty(); }
  template <typename Handle>
  void take_self_mail(Handle&& handle) {
    for (size_t n = std::min(_self_mail.size(), kMaxSelfMail); n > 0; --n) {
      const shard::Envelope envelope = _self_mail.front();
      _self_mail.pop_front();
      handle(envelope);
    }
  }

 private:
  shard::Shard& _shard;
  BrokerStats& _stats;
  const uint16_t _self;
  const uint16_t _count;
  // By shard: plain QoS 0 records bound there this turn, sealed when full, before any
  // other mail to that shard and at the turn's end; nullptr: none.
  std::vector<PublishBatch*> _open_batches;
  std::vector<uint32_t> _batches_out;  // by shard: made for it and not yet back
  std::deque<shard::Envelope> _self_mail;
};

}  // namespace peregrine::broker
