// Shard's loop: a service with work left that nothing will wake (mail it sent itself)
// gets its next turn without waiting.
#include "src/shard/shard.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>

namespace peregrine::shard {
namespace {

// Wants 200 more turns and has no timer, mail or I/O that would bring them.
class SelfFedService final : public ShardService {
 public:
  void on_start(Shard&) override {}
  uint32_t on_envelope(const Envelope&) override { return 1; }
  void on_turn_end() override {
    if (_left > 0 && --_left == 0) {
      done.set_value();
    }
  }
  bool wants_turn() const override { return _left > 0; }
  void on_stop_requested() override { _stopping = true; }
  bool finished() const override { return _stopping; }
  void discard_envelope(const Envelope&) override {}

  std::promise<void> done;

 private:
  int _left = 200;
  bool _stopping = false;
};

TEST(ShardLoop, AServiceThatWantsAnotherTurnGetsItWithoutAWakeUp) {
  for (io::Backend backend : {io::Backend::kEpoll, io::Backend::kUring}) {
    ShardGroupOptions options;
    options.backend = backend;
    ShardGroup group(options);
    SelfFedService service;
    std::future<void> done = service.done.get_future();
    std::string why;
    if (!group.start({&service}, &why)) {
      ASSERT_EQ(backend, io::Backend::kUring) << why;  // no io_uring here: epoll ran
      continue;
    }
    // Without the check the loop sleeps with no timeout after the first turn: the bound
    // is only how long a failure takes to show.
    EXPECT_EQ(done.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    group.request_stop();
    group.join();
  }
}

// Shard 0 posts `kMails` required envelopes to shard 1 in its first turn: far more than
// the mailbox holds, so most wait in shard 0's overflow and reach the mailbox turns
// later, after shard 1 drained the first few and went to sleep (it has nothing else to
// do). Each must wake it.
class FloodingService final : public ShardService {
 public:
  static constexpr int kMails = 200;
  void on_start(Shard& shard) override {
    _shard = &shard;
    if (shard.id() == 0) {
      for (int i = 0; i < kMails; ++i) {
        _shard->post(1, Envelope{1, 0, 0, 0, nullptr}, Delivery::kRequired);
      }
    }
  }
  uint32_t on_envelope(const Envelope&) override {
    if (++received == kMails) {
      done.set_value();
    }
    return 1;
  }
  void on_turn_end() override {}
  bool wants_turn() const override { return false; }
  void on_stop_requested() override { _stopping = true; }
  bool finished() const override { return _stopping; }
  void discard_envelope(const Envelope&) override {}

  int received = 0;
  std::promise<void> done;

 private:
  Shard* _shard = nullptr;
  bool _stopping = false;
};

TEST(ShardLoop, MailThatWaitedInTheOverflowWakesItsSleepingReceiver) {
  for (io::Backend backend : {io::Backend::kEpoll, io::Backend::kUring}) {
    ShardGroupOptions options;
    options.shards = 2;
    options.backend = backend;
    options.mailbox_capacity = 2;
    ShardGroup group(options);
    FloodingService sender;
    FloodingService receiver;
    std::future<void> done = receiver.done.get_future();
    std::string why;
    if (!group.start({&sender, &receiver}, &why)) {
      ASSERT_EQ(backend, io::Backend::kUring) << why;
      continue;
    }
    // Without the wake the receiver sleeps with the rest published and unread.
    EXPECT_EQ(done.wait_for(std::chrono::seconds(20)), std::future_status::ready)
        << receiver.received << " of " << FloodingService::kMails;
    group.request_stop();
    group.join();
  }
}

}  // namespace
}  // namespace peregrine::shard
