#include "src/broker/lazy_deque.h"

#include <algorithm>

#include <gtest/gtest.h>

namespace peregrine::broker {
namespace {

TEST(LazyDeque, IteratingAnEmptyOneAllocatesNothing) {
  LazyDeque<int> items;
  int seen = 0;
  for (int item : items) {
    seen += item;
  }
  EXPECT_EQ(seen, 0);
  EXPECT_TRUE(items.begin() == items.end());
  EXPECT_TRUE(std::find(items.begin(), items.end(), 7) == items.end());
  EXPECT_FALSE(items.has_storage());
}

TEST(LazyDeque, HoldsItemsInOrderAndTrimsOnlyWhenDrained) {
  LazyDeque<int> items;
  items.push_back(1);
  items.push_back(2);
  items.push_back(3);
  EXPECT_TRUE(items.has_storage());
  EXPECT_EQ(items.size(), 3u);
  items.erase(std::find(items.begin(), items.end(), 2));
  EXPECT_EQ(items.front(), 1);
  EXPECT_EQ(items.back(), 3);
  items.pop_front();
  items.trim();
  EXPECT_TRUE(items.has_storage());  // one left
  items.pop_front();
  items.trim();
  EXPECT_FALSE(items.has_storage());
  EXPECT_TRUE(items.empty());
  EXPECT_TRUE(items.begin() == items.end());
}

}  // namespace
}  // namespace peregrine::broker
