#include "src/broker/topic_aliases.h"

#include <gtest/gtest.h>

namespace peregrine::broker {
namespace {

TEST(OutboundAliases, AssignsThenReusesWithoutTopic) {
  OutboundAliases aliases(2);
  auto first = aliases.use("a/b");
  EXPECT_EQ(first.alias, 1);
  EXPECT_TRUE(first.send_topic);
  auto again = aliases.use("a/b");
  EXPECT_EQ(again.alias, 1);
  EXPECT_FALSE(again.send_topic);
  EXPECT_EQ(aliases.use("c").alias, 2);
}

TEST(OutboundAliases, EvictsLeastRecentlyUsedAndResendsTopic) {
  OutboundAliases aliases(2);
  aliases.use("x");  // alias 1
  aliases.use("y");  // alias 2
  aliases.use("x");  // x is now the more recent
  auto z = aliases.use("z");
  EXPECT_EQ(z.alias, 2);  // y's alias, reassigned
  EXPECT_TRUE(z.send_topic);
  auto y = aliases.use("y");
  EXPECT_TRUE(y.send_topic);  // y lost its alias: it must travel with its topic again
  EXPECT_EQ(y.alias, 1);      // x was least recent now
}

TEST(OutboundAliases, DisabledSendsTopicAlways) {
  OutboundAliases aliases(0);
  EXPECT_FALSE(aliases.enabled());
  EXPECT_EQ(aliases.use("a").alias, 0);
  EXPECT_TRUE(aliases.use("a").send_topic);
}

TEST(InboundAliases, ValidRangeAndLookup) {
  InboundAliases aliases(3);
  EXPECT_FALSE(aliases.valid(0));
  EXPECT_FALSE(aliases.valid(4));
  EXPECT_TRUE(aliases.valid(3));
  EXPECT_EQ(aliases.get(2), nullptr);
  aliases.set(2, "t/1");
  ASSERT_NE(aliases.get(2), nullptr);
  EXPECT_EQ(*aliases.get(2), "t/1");
  aliases.set(2, "t/2");  // a client may remap an alias
  EXPECT_EQ(*aliases.get(2), "t/2");
}

}  // namespace
}  // namespace peregrine::broker
