#include "src/broker/outbox.h"

namespace peregrine::broker {

Outbox::Outbox(shard::Shard& shard, BrokerStats& stats)
    : _shard(shard),
      _stats(stats),
      _self(shard.id()),
      _count(shard.count()),
      _open_batches(shard.count(), nullptr),
      _batches_out(shard.count(), 0) {}

Outbox::~Outbox() {
  for (PublishBatch* batch : _open_batches) {
    if (batch != nullptr) {
      PublishBatch::destroy(batch);
    }
  }
  for (const shard::Envelope& envelope : _self_mail) {
    mail::discard(envelope);
  }
}

bool Outbox::append_to_batch(uint16_t to, uint64_t origin, std::string_view topic,
                             std::span<const uint8_t> payload) {
  PG_DASSERT(to != _self);
  PublishBatch*& open = _open_batches[to];
  if (open != nullptr && !open->fits(topic.size(), payload.size())) {
    seal(to);
  }
  if (open == nullptr) {
    if (_batches_out[to] >= kMaxBatchesOut) {
      _stats.unbatched_behind++;
      return false;  // `to` is behind: a Message, bounded by the mailbox, carries this one
    }
    open = PublishBatch::create();
    _batches_out[to]++;
  }
  open->append(origin, topic, payload);
  _stats.published_batched++;
  return true;
}

void Outbox::seal(uint16_t to) {
  PublishBatch* batch = _open_batches[to];
  if (batch == nullptr) {
    return;
  }
  _open_batches[to] = nullptr;
  const mail::PublishBatchMail sealed{batch};
  if (!_shard.post(to, sealed.envelope(), sealed.delivery())) {
    _stats.mailbox_dropped += batch->count();
    sealed.discard();
    _batches_out[to]--;
  }
}

void Outbox::seal_all() {
  for (uint16_t to = 0; to < _count; ++to) {
    seal(to);
  }
}

void Outbox::batch_back(PublishBatch* batch, uint16_t from) {
  PG_DASSERT(_batches_out[from] > 0);
  PublishBatch::destroy(batch);
  _batches_out[from]--;
}

}  // namespace peregrine::broker
