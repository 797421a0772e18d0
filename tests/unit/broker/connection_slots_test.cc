// max_connections: the total and each listener's bound, exact under concurrent takers.
#include "src/broker/connection_slots.h"

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <thread>
#include <vector>

namespace peregrine::broker {
namespace {

TEST(ConnectionSlots, TheTotalAndEachListenerAreBounded) {
  ConnectionSlots slots;
  slots.set_limits(3, {1, 0});
  EXPECT_TRUE(slots.take(0));
  EXPECT_FALSE(slots.take(0));  // listener 0 holds its one
  EXPECT_TRUE(slots.take(1));
  EXPECT_TRUE(slots.take(ConnectionSlots::kNoListener));
  EXPECT_EQ(slots.connected(), 3u);
  EXPECT_FALSE(slots.take(1));  // the total is reached
  EXPECT_EQ(slots.connected(), 3u);  // a refusal takes nothing
  slots.give_back(0);
  EXPECT_FALSE(slots.take(ConnectionSlots::kNoListener) && slots.take(0));
  EXPECT_EQ(slots.connected(), 3u);
}

// A reload moves the bounds: lowering one refuses new clients until the count is under
// it (nobody is disconnected); raising it admits them at once.
TEST(ConnectionSlots, AReloadMovesTheBounds) {
  ConnectionSlots slots;
  slots.set_limits(0, {0});
  ASSERT_TRUE(slots.take(0));
  ASSERT_TRUE(slots.take(0));
  slots.set_listener_limit(0, 1);
  EXPECT_FALSE(slots.take(0));
  EXPECT_EQ(slots.connected(), 2u);
  slots.give_back(0);
  EXPECT_FALSE(slots.take(0));  // one left, at the bound of one
  slots.give_back(0);
  EXPECT_TRUE(slots.take(0));
  slots.set_total_limit(1);
  EXPECT_FALSE(slots.take(ConnectionSlots::kNoListener));
  slots.set_total_limit(0);
  EXPECT_TRUE(slots.take(ConnectionSlots::kNoListener));
}

TEST(ConnectionSlots, NoBoundStillCounts) {
  ConnectionSlots slots;
  slots.set_limits(0, {});
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(slots.take(2));
  }
  EXPECT_EQ(slots.connected(), 1000u);
  slots.give_back(2);
  EXPECT_EQ(slots.connected(), 999u);
}

TEST(ConnectionSlots, ConcurrentTakersNeverPassTheBound) {
  ConnectionSlots slots;
  slots.set_limits(500, {});
  std::vector<std::thread> threads;
  std::atomic<int> taken{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        if (slots.take(0)) {
          taken++;
          if (i % 3 == 0) {
            slots.give_back(0);
            taken--;
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(taken.load(), 500);
  EXPECT_EQ(slots.connected(), 500u);
}


net::PeerAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  net::PeerAddress p;
  p.family = AF_INET;
  p.addr[0] = a;
  p.addr[1] = b;
  p.addr[2] = c;
  p.addr[3] = d;
  return p;
}

TEST(AddressCounts, EachAddressIsBoundedAndGivesBack) {
  AddressCounts counts;
  counts.set_limits(2, 0);
  const uint64_t a = AddressCounts::key_of(v4(10, 0, 0, 1));
  const uint64_t b = AddressCounts::key_of(v4(10, 0, 0, 2));
  ASSERT_NE(a, b);
  EXPECT_TRUE(counts.take(a));
  EXPECT_TRUE(counts.take(a));
  EXPECT_FALSE(counts.take(a));  // a holds its two
  EXPECT_TRUE(counts.take(b));   // another address is not affected
  counts.give_back(a);
  EXPECT_TRUE(counts.take(a));
  EXPECT_FALSE(counts.take(a));
  EXPECT_TRUE(counts.take(0));  // an unknown address is never limited
}

TEST(AddressCounts, AnIPv6HostIsItsSlash64AndAMappedIPv4AddressIsItsIPv4One) {
  net::PeerAddress one;
  one.family = AF_INET6;
  one.addr[0] = 0x20;
  one.addr[1] = 0x01;
  one.addr[15] = 1;
  net::PeerAddress other = one;
  other.addr[15] = 2;  // the same /64
  net::PeerAddress next = one;
  next.addr[7] = 1;  // another /64
  EXPECT_EQ(AddressCounts::key_of(one), AddressCounts::key_of(other));
  EXPECT_NE(AddressCounts::key_of(one), AddressCounts::key_of(next));
  net::PeerAddress mapped;
  mapped.family = AF_INET6;
  mapped.addr[10] = mapped.addr[11] = 0xff;
  mapped.addr[12] = 10;
  mapped.addr[15] = 1;
  EXPECT_EQ(AddressCounts::key_of(mapped), AddressCounts::key_of(v4(10, 0, 0, 1)));
  EXPECT_EQ(AddressCounts::key_of(net::PeerAddress{}), 0u);
}

TEST(AddressCounts, NewConnectionsPerSecondAreBoundedAndTheNextSecondStartsAfresh) {
  AddressCounts counts;
  counts.set_limits(0, 3);
  const uint64_t a = AddressCounts::key_of(v4(192, 0, 2, 7));
  EXPECT_TRUE(counts.admit_new(a, 100));
  EXPECT_TRUE(counts.admit_new(a, 100));
  EXPECT_TRUE(counts.admit_new(a, 100));
  EXPECT_FALSE(counts.admit_new(a, 100));
  EXPECT_TRUE(counts.admit_new(AddressCounts::key_of(v4(192, 0, 2, 8)), 100));
  EXPECT_TRUE(counts.admit_new(a, 101));
}

// 4 threads taking and giving back for one address, and for many others that share its
// buckets by chance: the address never holds more than its bound.
TEST(AddressCounts, ConcurrentTakersFromOneAddressNeverPassTheBound) {
  AddressCounts counts;
  counts.set_limits(50, 0);
  const uint64_t a = AddressCounts::key_of(v4(10, 1, 1, 1));
  std::vector<std::thread> threads;
  std::atomic<int> held{0};
  std::atomic<int> peak{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20'000; ++i) {
        if (counts.take(a)) {
          const int now = ++held;
          int seen = peak.load();
          while (now > seen && !peak.compare_exchange_weak(seen, now)) {
          }
          if ((i + t) % 2 == 0) {
            --held;
            counts.give_back(a);
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(held.load(), 50);
  EXPECT_LE(peak.load(), 50);
}

}  // namespace
}  // namespace peregrine::broker
