#include "src/shard/shard.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "src/base/assert.h"
#include "src/base/clock.h"
#include "src/base/log.h"
#include "src/base/owner.h"

namespace peregrine::shard {

namespace {

// The first three cache lines of an envelope's object: a message's header, topic and the
// start of its payload.
inline void prefetch_object(const void* object) {
  if (object != nullptr) {
    const char* p = static_cast<const char*>(object);
    __builtin_prefetch(p);
    __builtin_prefetch(p + 64);
    __builtin_prefetch(p + 128);
  }
}

void pin_to_cpu(uint16_t shard_id) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    return;
  }
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) {
      cpus.push_back(cpu);
    }
  }
  if (cpus.empty()) {
    return;
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpus[shard_id % cpus.size()], &one);
  pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

}  // namespace

Shard::Shard(ShardGroup& group, uint16_t id, uint16_t count)
    : _group(group), _id(id), _overflow(count), _wake_wanted(count, 0) {}

uint16_t Shard::count() const { return _group.size(); }

bool Shard::post(uint16_t to, Envelope envelope, Delivery delivery) {
  PG_DASSERT(to != _id);
  PG_DASSERT(to < count());
  envelope.from = _id;
  auto& overflow = _overflow[to];
  if (delivery != Delivery::kLazy) {
    _wake_wanted[to] = 1;
  }
  if (delivery != Delivery::kDroppable && !overflow.empty()) {
    overflow.push_back(envelope);  // keep control traffic in order behind what waits
    ++_overflow_size;
    return true;
  }
  if (_group.mailbox(_id, to).try_push(envelope)) {
    return true;
  }
  if (delivery == Delivery::kDroppable) {
    return false;
  }
  overflow.push_back(envelope);
  ++_overflow_size;
  return true;
}

uint64_t Shard::inbound_depth() const {
  uint64_t depth = 0;
  for (uint16_t from = 0; from < count(); ++from) {
    if (from != _id) {
      depth += _group.mailbox(from, _id).depth_for_consumer();
    }
  }
  return depth;
}

bool Shard::outbound_drained(uint16_t to) const {
  return _overflow[to].empty() && _group.mailbox(_id, to).drained_for_producer();
}

bool Shard::all_outbound_drained() const {
  for (uint16_t to = 0; to < count(); ++to) {
    if (to != _id && !outbound_drained(to)) {
      return false;
    }
  }
  return true;
}

bool Shard::inbound_pending() const {
  for (uint16_t from = 0; from < count(); ++from) {
    if (from != _id && !_group.mailbox(from, _id).empty_for_consumer()) {
      return true;
    }
  }
  return false;
}

void Shard::account_load() {
  const uint64_t elapsed_ms = _now_ms - _load_window_start_ms;
  if (elapsed_ms < kLoadWindowMs) {
    return;
  }
  const uint64_t waited = _ring->waited_ns();
  const uint64_t idle_permille = (waited - _waited_at_window_ns) / (elapsed_ms * 1000);
  _busy_permille = static_cast<uint32_t>(1000 - std::min<uint64_t>(idle_permille, 1000));
  _waited_at_window_ns = waited;
  _load_window_start_ms = _now_ms;
}

bool Shard::drain_inbound() {
  // An envelope's object was written by the other core: its first touch here is a
  // cross-core cache miss. Envelopes are taken a batch at a time so the objects of the
  // next few can be prefetched while one is handled, overlapping those misses.
  constexpr uint32_t kBatch = 32;
  constexpr uint32_t kAhead = 4;
  Envelope batch[kBatch];
  bool any = false;
  for (uint16_t from = 0; from < count(); ++from) {
    if (from == _id) {
      continue;
    }
    auto& queue = _group.mailbox(from, _id);
    uint32_t taken = 0;
    uint32_t weight = 1;  // the work of the last envelope: sizes the next pop
    while (taken < kDrainPerTurn) {
      const uint32_t left = kDrainPerTurn - taken;
      const uint32_t n = queue.pop_some(batch, std::clamp(left / weight, 1u, kBatch));
      if (n == 0) {
        break;
      }
      any = true;
      for (uint32_t i = 0; i < n && i < kAhead; ++i) {
        prefetch_object(batch[i].ptr);
      }
      for (uint32_t i = 0; i < n; ++i) {
        if (i + kAhead < n) {
          prefetch_object(batch[i + kAhead].ptr);
        }
        weight = std::max(1u, _service->on_envelope(batch[i]));
        taken += weight;
      }
    }
  }
  return any;
}

void Shard::publish_outbound() {
  for (uint16_t to = 0; to < count(); ++to) {
    if (to == _id) {
      continue;
    }
    auto& queue = _group.mailbox(_id, to);
    auto& overflow = _overflow[to];
    bool from_overflow = false;
    while (!overflow.empty() && queue.try_push(overflow.front())) {
      overflow.pop_front();
      --_overflow_size;
      from_overflow = true;
    }
    // What left the overflow now was posted turns ago, when its wake was spent on what
    // fitted then: the consumer may have drained that and gone to sleep since.
    const bool wake = _wake_wanted[to] != 0 || from_overflow;
    if (!queue.publish() || !wake) {
      continue;  // lazy envelopes alone: seen when the consumer next looks
    }
    _wake_wanted[to] = 0;
    // Pairs with the consumer's fence between setting `sleeping` and re-checking queues.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    Shard& peer = _group.shard(to);
    if (peer._sleeping.load(std::memory_order_relaxed) &&
        peer._sleeping.exchange(false, std::memory_order_relaxed)) {
      _ring->wake_peer(*peer._ring);
    }
  }
}

uint64_t Shard::now_ms() const {
  const base::Clock* clock = _group._options.clock;
  return clock == nullptr ? base::monotonic_ms() : clock->now_ms();
}

bool Shard::prepare() {
  std::string why;
  if (_group._options.make_ring) {
    _ring = _group._options.make_ring(_id);
  } else {
    _ring = io::Ring::create(_group._options.backend, _group._options.ring, &why);
  }
  if (_ring == nullptr) {
    _group._failure = why;
    _group._failed.fetch_add(1);
    return false;
  }
  _now_ms = now_ms();
  _load_window_start_ms = _now_ms;
  _wheel = std::make_unique<io::TimerWheel>(_now_ms);
  return true;
}

void Shard::run() {
  base::set_log_shard(_id);
  base::set_current_shard(_id);
  // Named for top -H, perf and the watchdog test, which stalls one shard by its name.
  char name[16];
  std::snprintf(name, sizeof name, "shard%u", static_cast<unsigned>(_id));
  pthread_setname_np(pthread_self(), name);
  if (_group._options.pin_threads) {
    pin_to_cpu(_id);
  }
  const bool prepared = prepare();
  _group._ready.fetch_add(1);
  if (!prepared) {
    return;
  }
  // Every shard's ring must exist before any shard may wake a peer.
  while (_group._ready.load() < _group.size()) {
    std::this_thread::yield();
  }
  if (_group._failed.load() != 0) {
    return;
  }
  _service->on_start(*this);
  while (true) {
    int timeout = turn();
    if (timeout == kFinished) {
      break;
    }
    if (timeout != 0) {
      _sleeping.store(true, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (inbound_pending() || _stop_requested.load(std::memory_order_relaxed) != _stopping) {
        timeout = 0;
      }
    }
    _ring->poll(timeout);
    _sleeping.store(false, std::memory_order_relaxed);
  }
  _service->on_turn_end();
  _ring->poll(0);
  // The ring outlives the thread: request_stop() may still be waking it. join() frees it.
}

ShardPulse* Shard::pulse() const { return _group._options.pulse; }

int Shard::turn() {
  _service->on_turn_begin();
  // A plain load each turn; the read-modify-write only when main has left a call.
  if (_main_call.load(std::memory_order_relaxed) != nullptr) {
    if (MainCall* call = _main_call.exchange(nullptr, std::memory_order_acq_rel)) {
      call->run(*_service);
      call->done.fetch_add(1, std::memory_order_release);
    }
  }
  _now_ms = now_ms();
  account_load();
  const bool drained = drain_inbound();
  _wheel->advance(_now_ms);
  if (!_stopping && _stop_requested.load(std::memory_order_acquire)) {
    _stopping = true;
    _service->on_stop_requested();
  }
  _service->on_turn_end();
  ShardPulse* pulse = _group._options.pulse;
  if (pulse != nullptr && pulse->beat_ms != 0 && _now_ms >= _next_beat_ms) {
    // Once per beat_ms, not per turn: one plain store to this shard's own line.
    pulse->beats[_id].count.store(++_beats, std::memory_order_relaxed);
    _next_beat_ms = _now_ms + pulse->beat_ms;
  }
  if (!_group._options.hold_outbound || !_group._options.hold_outbound(_id)) {
    publish_outbound();
  }
  if (_stopping && _service->finished()) {
    return kFinished;
  }
  int timeout = drained || _service->wants_turn() ? 0 : _wheel->next_timeout_ms(_now_ms);
  if (_stopping && (timeout < 0 || timeout > 50)) {
    timeout = 50;
  }
  if (_overflow_size > 0 && timeout != 0) {
    timeout = 1;  // consumers do not wake producers: look again soon
  }
  if (pulse != nullptr && pulse->beat_ms != 0) {
    // An idle shard still beats: it wakes for it.
    const uint64_t until_beat = _next_beat_ms > _now_ms ? _next_beat_ms - _now_ms : 0;
    if (timeout < 0 || static_cast<uint64_t>(timeout) > until_beat) {
      timeout = static_cast<int>(until_beat);
    }
  }
  return timeout;
}

bool Shard::step() {
  PG_DASSERT(_group._stepped);
  base::set_log_shard(_id);
  base::set_current_shard(_id);
  if (turn() == kFinished) {
    _service->on_turn_end();
    _ring->poll(0);
    return true;
  }
  _ring->poll(0);
  return false;
}

ShardGroup::ShardGroup(const ShardGroupOptions& options) : _options(options) {
  PG_ASSERT(options.shards >= 1);
  for (uint16_t i = 0; i < options.shards; ++i) {
    _shards.push_back(std::make_unique<Shard>(*this, i, options.shards));
  }
  for (size_t i = 0; i < size_t{options.shards} * options.shards; ++i) {
    _mailboxes.push_back(std::make_unique<SpscQueue<Envelope>>(options.mailbox_capacity));
  }
}

ShardGroup::~ShardGroup() { join(); }

bool ShardGroup::start_stepped(const std::vector<ShardService*>& services, std::string* why) {
  PG_ASSERT(services.size() == _shards.size());
  _stepped = true;
  for (size_t i = 0; i < _shards.size(); ++i) {
    _shards[i]->_service = services[i];
    if (!_shards[i]->prepare()) {
      *why = _failure;
      return false;
    }
  }
  for (auto& shard : _shards) {
    base::set_current_shard(shard->_id);
    shard->_service->on_start(*shard);
  }
  base::set_current_shard(base::kNoShardThread);
  return true;
}

bool ShardGroup::start(const std::vector<ShardService*>& services, std::string* why) {
  PG_ASSERT(services.size() == _shards.size());
  for (size_t i = 0; i < _shards.size(); ++i) {
    _shards[i]->_service = services[i];
  }
  for (auto& shard : _shards) {
    shard->_thread = std::thread([s = shard.get()] { s->run(); });
  }
  while (_ready.load() < size()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (_failed.load() != 0) {
    *why = _failure;
    join();
    return false;
  }
  return true;
}

void ShardGroup::request_stop() {
  for (auto& shard : _shards) {
    shard->_stop_requested.store(true, std::memory_order_release);
    if (shard->_ring != nullptr) {
      shard->_ring->wake();
    }
  }
}

bool ShardGroup::run_on_each(std::function<void(ShardService&)> run, uint64_t timeout_ms) {
  auto call = std::make_unique<MainCall>();
  call->run = std::move(run);
  for (auto& shard : _shards) {
    PG_ASSERT(shard->_main_call.load(std::memory_order_acquire) == nullptr);
    shard->_main_call.store(call.get(), std::memory_order_release);
    shard->_ring->wake();
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (call->done.load(std::memory_order_acquire) < size()) {
    if (std::chrono::steady_clock::now() > deadline) {
      call.release();  // a stuck shard may still run it: it must stay valid
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void ShardGroup::join() {
  bool joined_any = false;
  for (auto& shard : _shards) {
    if (shard->_thread.joinable()) {
      shard->_thread.join();
      joined_any = true;
    }
  }
  if (!joined_any && !_stepped) {
    return;
  }
  _stepped = false;
  base::set_current_shard(base::kNoShardThread);
  Envelope envelope;
  for (uint16_t from = 0; from < size(); ++from) {
    for (uint16_t to = 0; to < size(); ++to) {
      auto& queue = mailbox(from, to);
      queue.publish();
      while (queue.try_pop(envelope)) {
        _shards[to]->_service->discard_envelope(envelope);
      }
      for (const Envelope& held : _shards[from]->_overflow[to]) {
        _shards[to]->_service->discard_envelope(held);
      }
      _shards[from]->_overflow[to].clear();
    }
  }
  for (auto& shard : _shards) {
    shard->_wheel.reset();
    shard->_ring.reset();
  }
}

}  // namespace peregrine::shard
