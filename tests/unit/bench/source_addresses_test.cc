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

TEST(SourceAddresses, ANarrowOrBrokenRangeStillSpreadsSensibly) {
  EXPECT_EQ(connections_per_source(60000, 60999), kMinConnectionsPerSource);
  EXPECT_EQ(connections_per_source(61000, 60000), kMinConnectionsPerSource);
  EXPECT_EQ(source_addresses_for(0, kMinConnectionsPerSource), 1u);
  EXPECT_EQ(source_addresses_for(1, kMinConnectionsPerSource), 1u);
  // 127.0.0.1 .. 127.0.0.254 at most.
  EXPECT_EQ(source_addresses_for(10'000'000, kMinConnectionsPerSource), kMaxSourceAddresses);
}

}  // namespace
}  // namespace peregrine::bench
