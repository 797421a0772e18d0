// max_subscribers_per_filter's counts on a filter's owner shard.
#include "src/broker/filter_counts.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace peregrine::broker {
namespace {

TEST(FilterCounts, ReservesUpToTheLimitAndFreesAPlaceWhenOneGoes) {
  FilterCounts counts;
  const uint64_t a = FilterCounts::key_of("a/+");
  const uint64_t b = FilterCounts::key_of("a/#");
  ASSERT_NE(a, b);
  EXPECT_TRUE(counts.reserve(a, 2));
  EXPECT_TRUE(counts.reserve(a, 2));
  EXPECT_FALSE(counts.reserve(a, 2));  // at the limit: nothing counted
  EXPECT_EQ(counts.count(a), 2u);
  EXPECT_TRUE(counts.reserve(b, 2));  // another filter has its own count
  counts.add(a, -1);
  EXPECT_TRUE(counts.reserve(a, 2));
  EXPECT_TRUE(counts.reserve(a, 0));  // 0: no limit
  EXPECT_EQ(counts.count(a), 3u);
}

TEST(FilterCounts, CountsWithoutAskingAndForgetsAFilterAtZero) {
  FilterCounts counts;
  const uint64_t a = FilterCounts::key_of("x");
  counts.add(a, 1);  // restored at start: counted even past the limit
  counts.add(a, 1);
  EXPECT_FALSE(counts.reserve(a, 2));
  counts.add(a, -1);
  counts.add(a, -1);
  EXPECT_EQ(counts.filters(), 0u);  // no entry stays for a filter nobody holds
  EXPECT_TRUE(counts.reserve(FilterCounts::key_of("y"), 0));
}

TEST(FilterCounts, EveryShardCountIsAnOwnerOfSomeFilters) {
  for (uint16_t shards : {1, 2, 3, 8, 64}) {
    std::vector<bool> owns(shards);
    for (int i = 0; i < 10'000; ++i) {
      std::string filter = "t/";
      filter += std::to_string(i);
      owns[FilterCounts::owner_of(FilterCounts::key_of(filter), shards)] = true;
    }
    for (uint16_t s = 0; s < shards; ++s) {
      EXPECT_TRUE(owns[s]) << "shard " << s << " of " << shards;
    }
  }
}

}  // namespace
}  // namespace peregrine::broker
