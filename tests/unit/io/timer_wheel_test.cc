#include "src/io/timer_wheel.h"

#include <gtest/gtest.h>

#include <vector>

namespace peregrine::io {
namespace {

struct Recorder : Timer {
  std::vector<int>* log = nullptr;
  int name = 0;
  void on_timer() override { log->push_back(name); }
};

TEST(TimerWheel, FiresInDeadlineOrderAcrossTicks) {
  TimerWheel wheel(1000);
  std::vector<int> log;
  Recorder a, b, c;
  a.log = b.log = c.log = &log;
  a.name = 1;
  b.name = 2;
  c.name = 3;
  wheel.arm(a, 1100);
  wheel.arm(b, 1050);
  wheel.arm(c, 5000);
  wheel.advance(1060);
  EXPECT_EQ(log, std::vector<int>({2}));
  wheel.advance(1200);
  EXPECT_EQ(log, std::vector<int>({2, 1}));
  EXPECT_EQ(wheel.size(), 1u);
  wheel.advance(5100);
  EXPECT_EQ(log, std::vector<int>({2, 1, 3}));
  EXPECT_FALSE(c.armed());
}

TEST(TimerWheel, CancelAndRearm) {
  TimerWheel wheel(0);
  std::vector<int> log;
  Recorder a;
  a.log = &log;
  wheel.arm(a, 100);
  wheel.cancel(a);
  wheel.advance(200);
  EXPECT_TRUE(log.empty());
  wheel.arm(a, 300);
  wheel.arm(a, 600);  // re-arming moves it
  wheel.advance(400);
  EXPECT_TRUE(log.empty());
  wheel.advance(700);
  EXPECT_EQ(log.size(), 1u);
}

TEST(TimerWheel, DeadlineBeyondHorizonWaitsForItsTime) {
  TimerWheel wheel(0);
  std::vector<int> log;
  Recorder a;
  a.log = &log;
  const uint64_t horizon = TimerWheel::kSlots * TimerWheel::kTickMs;
  wheel.arm(a, horizon * 2 + 40);
  for (uint64_t t = 0; t < horizon * 2; t += 1000) {
    wheel.advance(t);
  }
  EXPECT_TRUE(log.empty());
  wheel.advance(horizon * 2 + 100);
  EXPECT_EQ(log.size(), 1u);
}

TEST(TimerWheel, PastDeadlineFiresOnNextAdvance) {
  TimerWheel wheel(10'000);
  std::vector<int> log;
  Recorder a;
  a.log = &log;
  wheel.arm(a, 5);
  EXPECT_GE(wheel.next_timeout_ms(10'000), 0);
  wheel.advance(10'000 + TimerWheel::kTickMs);
  EXPECT_EQ(log.size(), 1u);
  EXPECT_EQ(wheel.next_timeout_ms(10'100), -1);
}

}  // namespace
}  // namespace peregrine::io
