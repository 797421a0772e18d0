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

}  // namespace
}  // namespace peregrine::shard
