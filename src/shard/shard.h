// Shards: one thread per shard (pinned to a core if asked), each with its own Ring and
// TimerWheel. Shards talk only through the N×N SPSC mailboxes of their ShardGroup,
// batched per loop turn; a consumer is woken only when it sleeps. Everything in a Shard
// except the mailboxes' atomics, `sleeping` and `stop_requested` is touched by its own
// thread only.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "src/base/clock.h"
#include "src/io/ring.h"
#include "src/io/timer_wheel.h"
#include "src/shard/envelope.h"
#include "src/shard/shard_pulse.h"
#include "src/base/spsc_queue.h"

namespace peregrine::shard {

using base::SpscQueue;

class Shard;

// The per-shard service run by the loop (the broker's shard state). Called on the shard
// thread only.
class ShardService {
 public:
  virtual ~ShardService() = default;
  virtual void on_start(Shard& shard) = 0;
  // Returns the work the envelope stood for, in messages (1 for most; more for one that
  // carries many), which counts against kDrainPerTurn.
  virtual uint32_t on_envelope(const Envelope& envelope) = 0;
  // A loop turn begins on this shard (the thread may have run other shards' turns since
  // the last one: the seeded simulation steps every shard on one thread).
  virtual void on_turn_begin() {}
  // End of a loop turn: flush output, retry work held back.
  virtual void on_turn_end() = 0;
  // After on_turn_end(): work is left that needs no I/O, timer or mail to wake it (mail
  // the service sent itself), so the next turn must not wait.
  virtual bool wants_turn() const { return false; }
  // Shutdown was requested: stop accepting, say goodbye, close.
  virtual void on_stop_requested() = 0;
  // True once shutdown has finished and the loop may exit.
  virtual bool finished() const = 0;
  // After every shard thread has exited: release what an envelope still holds.
  virtual void discard_envelope(const Envelope& envelope) = 0;
};

// A call from the main thread to run on every shard's thread (ShardGroup::run_on_each):
// how a reload reaches the shards, which read their configuration without locks.
struct MainCall {
  std::function<void(ShardService&)> run;
  std::atomic<uint32_t> done{0};  // shards that have run it
};

// Delivery policy at a full mailbox.
enum class Delivery : uint8_t {
  kDroppable,  // QoS 0 traffic: post() fails, the caller drops and counts
  kRequired,   // control traffic: held in a producer-side overflow, in order
  kLazy,       // required, but no reason to wake a sleeping consumer (housekeeping that
               // waits for its next turn: memory handed back)
};

class ShardGroup;

class Shard {
 public:
  // Work (on_envelope()'s units) taken from one mailbox per turn.
  static constexpr uint32_t kDrainPerTurn = 1024;

  Shard(ShardGroup& group, uint16_t id, uint16_t count);

  uint16_t id() const { return _id; }
  uint16_t count() const;
  io::Ring& ring() { return *_ring; }
  io::TimerWheel& wheel() { return *_wheel; }
  // Read fresh each time (a coarse clock, a few ns): completions are dispatched after the
  // ring's wait, so a time taken at the top of the loop turn can be a whole sleep old.
  uint64_t now_ms() const;

  // Posts to shard `to` (!= id()); visible to it at the end of this loop turn.
  bool post(uint16_t to, Envelope envelope, Delivery delivery);
  // Required envelopes waiting in the producer-side overflow, over all targets. The
  // service bounds it by pausing the input that feeds it (back-pressure).
  size_t overflow_size() const { return _overflow_size; }
  // The same count, for a reader on this shard's thread that keeps a pointer to it.
  const size_t& overflow_size_counter() const { return _overflow_size; }
  // Envelopes other shards have published to this one and it has not taken yet, over
  // every inbound mailbox (a sample for the operator's gauges; this shard's thread).
  uint64_t inbound_depth() const;
  // Everything this shard ever posted to `to` has been taken by it (none waits in the
  // mailbox or the overflow).
  bool outbound_drained(uint16_t to) const;
  bool all_outbound_drained() const;
  // The share of the last whole load window (kLoadWindowMs) this shard spent outside its
  // ring's blocking wait, in thousandths: 0 for an idle shard, 1000 for one that never
  // slept. Time spent runnable but preempted counts as busy.
  static constexpr uint64_t kLoadWindowMs = 100;
  uint32_t busy_permille() const { return _busy_permille; }
  // For the service: where to say it listens (nullptr: nobody watches).
  ShardPulse* pulse() const;

  // One loop turn, for a ShardGroup started with start_stepped(): mailboxes, timers, the
  // service's turn end, mailboxes out, the ring polled without waiting. Returns true once
  // the service has finished shutting down.
  bool step();

 private:
  friend class ShardGroup;
  void run();
  // Creates the ring and the wheel on the calling thread; false (and the group's
  // failure) if the ring could not be made.
  bool prepare();
  // The loop's body; returns the ring's poll timeout it wants (0: do not wait), or -2
  // once shutdown has finished.
  int turn();
  static constexpr int kFinished = -2;
  bool drain_inbound();
  void publish_outbound();
  bool inbound_pending() const;
  void account_load();

  ShardGroup& _group;
  const uint16_t _id;
  std::unique_ptr<io::Ring> _ring;
  std::unique_ptr<io::TimerWheel> _wheel;
  ShardService* _service = nullptr;
  uint64_t _now_ms = 0;
  uint64_t _load_window_start_ms = 0;
  uint64_t _waited_at_window_ns = 0;  // the ring's waited_ns() when the window began
  uint32_t _busy_permille = 0;
  uint64_t _next_beat_ms = 0;  // ShardPulse: when this shard beats next
  std::atomic<MainCall*> _main_call{nullptr};  // from ShardGroup::run_on_each
  uint64_t _beats = 0;
  std::vector<std::deque<Envelope>> _overflow;  // per target: required envelopes held back
  size_t _overflow_size = 0;
  std::vector<uint8_t> _wake_wanted;  // per target: posted this turn something not kLazy
  std::atomic<bool> _sleeping{false};
  std::atomic<bool> _stop_requested{false};
  bool _stopping = false;  // on_stop_requested() was called
  std::thread _thread;
};

struct ShardGroupOptions {
  uint16_t shards = 1;
  io::Backend backend = io::Backend::kUring;
  io::RingOptions ring;
  bool pin_threads = false;  // shard i to the i-th allowed CPU; see Options::pin_shards
  uint32_t mailbox_capacity = 4096;  // envelopes per ordered pair of shards (power of 2)
  // The seeded simulation's: a clock instead of the system's, and a ring per shard
  // instead of the backend's. Unset in the broker.
  const base::Clock* clock = nullptr;
  std::function<std::unique_ptr<io::Ring>(uint16_t shard)> make_ring;
  // The simulation's mail latency: when it returns true for a shard at the end of a
  // turn, what that shard posted stays staged until a later turn.
  std::function<bool(uint16_t shard)> hold_outbound;
  // Where shards beat and say they listen (nullptr: nobody watches). Outlives the group.
  ShardPulse* pulse = nullptr;
};

// Owns every shard, the mailbox grid and the threads.
class ShardGroup {
 public:
  explicit ShardGroup(const ShardGroupOptions& options);
  ~ShardGroup();

  uint16_t size() const { return static_cast<uint16_t>(_shards.size()); }
  Shard& shard(uint16_t id) { return *_shards[id]; }
  SpscQueue<Envelope>& mailbox(uint16_t from, uint16_t to) {
    return *_mailboxes[size_t{from} * size() + to];
  }

  // Starts one thread per shard running `services[i]`; false (and `why`) if a shard's
  // ring could not be created.
  bool start(const std::vector<ShardService*>& services, std::string* why);
  // The seeded simulation's start: no threads; every shard is prepared and started on
  // the calling thread, which then runs their turns with Shard::step() in the order it
  // chooses.
  bool start_stepped(const std::vector<ShardService*>& services, std::string* why);
  // Asks every shard to shut down (any thread, async-signal-unsafe).
  void request_stop();
  // Main thread, threads started: `call` runs on every shard's thread at the start of its
  // next turn (waking it), one shard after another's own pace; returns once all have run
  // it (true), or after `timeout_ms` (false: a shard is stuck, and may still run it
  // later — the call is then left alive, never freed). One call at a time.
  bool run_on_each(std::function<void(ShardService&)> call, uint64_t timeout_ms);
  // Joins the threads, then lets each service discard envelopes still in mailboxes.
  void join();

 private:
  friend class Shard;
  ShardGroupOptions _options;
  std::vector<std::unique_ptr<Shard>> _shards;
  std::vector<std::unique_ptr<SpscQueue<Envelope>>> _mailboxes;
  bool _stepped = false;
  std::atomic<int> _ready{0};
  std::atomic<int> _failed{0};
  std::string _failure;
};

}  // namespace peregrine::shard
