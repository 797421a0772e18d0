#include "bench/load/source_addresses.h"

#include <gtest/gtest.h>

namespace peregrine::bench {
namespace {

TEST(SourceAddresses, EachAddressTakesAQuarterOfThePortRange) {
  // Linux's default range, 32768-60999: 28,232 ports.
  EXPECT_EQ(connections_per_source(32768, 60999), 7058u);
  EXPECT_EQ(source_addresses_for(7058, 7058), 1u);
  EXPECT_EQ(source_addresses_for(7059, 7058), 2u);
  EXPECT_EQ(source_addresses_for(10'000, 7058), 2u);
  EXPECT_EQ(source_addresses_for(19'000, 7058), 3u);
  EXPECT_EQ(source_addresses_for(100'000, 7058), 15u);
}

TEST(SourceAddresses, ANarrowOrBrokenRangeStillSpreads) {
  EXPECT_EQ(connections_per_source(60000, 60999), 250u);
  EXPECT_EQ(source_addresses_for(10'000, 250), 40u);
  EXPECT_EQ(connections_per_source(60000, 60002), 1u);  // three ports: one each
  EXPECT_EQ(connections_per_source(61000, 60000), 1u);  // inverted
  EXPECT_EQ(source_addresses_for(0, 7058), 1u);
  EXPECT_EQ(source_addresses_for(1, 7058), 1u);
  // 127.0.0.1 .. 127.0.0.254 at most.
  EXPECT_EQ(source_addresses_for(10'000'000, 1), kMaxSourceAddresses);
}

}  // namespace
}  // namespace peregrine::bench
