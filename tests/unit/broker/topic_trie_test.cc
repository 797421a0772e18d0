#include "src/broker/topic_trie.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace peregrine::broker {
namespace {

struct Names {
  std::vector<std::string> names;
  bool empty() const { return names.empty(); }
};

std::vector<std::string> matches(TopicTrie<Names>& trie, std::string_view topic) {
  std::vector<std::string> out;
  trie.match(topic, [&](Names& n) { out.insert(out.end(), n.names.begin(), n.names.end()); });
  std::sort(out.begin(), out.end());
  return out;
}

TopicTrie<Names> make(const std::vector<std::string>& filters) {
  TopicTrie<Names> trie;
  for (const auto& f : filters) {
    trie.insert(f).names.push_back(f);
  }
  return trie;
}

using V = std::vector<std::string>;

TEST(TopicTrie, WildcardRulesOfSection47) {
  auto trie = make({"a/b/c", "a/+/c", "a/#", "#", "+/+", "+", "a/+", "/+", "+/#", "a/b/#"});
  EXPECT_EQ(matches(trie, "a/b/c"), (V{"#", "+/#", "a/#", "a/+/c", "a/b/#", "a/b/c"}));
  EXPECT_EQ(matches(trie, "a"), (V{"#", "+", "+/#", "a/#"}));  // a/# matches a
  EXPECT_EQ(matches(trie, "a/b"), (V{"#", "+/#", "+/+", "a/#", "a/+", "a/b/#"}));
  EXPECT_EQ(matches(trie, "a//c"), (V{"#", "+/#", "a/#", "a/+/c"}));  // + matches empty
  EXPECT_EQ(matches(trie, "/x"), (V{"#", "+/#", "+/+", "/+"}));
  EXPECT_EQ(matches(trie, "a/b/c/d"), (V{"#", "+/#", "a/#", "a/b/#"}));
  EXPECT_EQ(matches(trie, "b/b/c"), (V{"#", "+/#"}));
}

TEST(TopicTrie, DollarTopicsNotMatchedByLeadingWildcard) {
  auto trie = make({"#", "+/x", "+", "$SYS/#", "$SYS/+", "$foo/x", "+/+"});
  EXPECT_EQ(matches(trie, "$SYS/x"), (V{"$SYS/#", "$SYS/+"}));
  EXPECT_EQ(matches(trie, "$foo/x"), (V{"$foo/x"}));
  EXPECT_EQ(matches(trie, "$foo"), V{});
  EXPECT_EQ(matches(trie, "foo/x"), (V{"#", "+/+", "+/x"}));
}

TEST(TopicTrie, EraseIfEmptyPrunesAndKeepsOthers) {
  auto trie = make({"a/b", "a/b/c", "a/#"});
  EXPECT_EQ(trie.size(), 3u);
  trie.find("a/b/c")->names.clear();
  trie.erase_if_empty("a/b/c");
  EXPECT_EQ(trie.size(), 2u);
  EXPECT_EQ(trie.find("a/b/c"), nullptr);
  EXPECT_EQ(matches(trie, "a/b"), (V{"a/#", "a/b"}));
  trie.erase_if_empty("a/b");  // not empty: kept
  EXPECT_NE(trie.find("a/b"), nullptr);
  trie.find("a/#")->names.clear();
  trie.erase_if_empty("a/#");
  EXPECT_EQ(matches(trie, "a/b/c"), V{});
  EXPECT_EQ(matches(trie, "a/b"), (V{"a/b"}));
}

TEST(TopicTrie, ManyFiltersMatchOnlyTheirTopic) {
  TopicTrie<Names> trie;
  for (int i = 0; i < 10'000; ++i) {
    const std::string f = "dev/" + std::to_string(i) + "/temp";
    trie.insert(f).names.push_back(f);
  }
  EXPECT_EQ(matches(trie, "dev/4242/temp"), (V{"dev/4242/temp"}));
  EXPECT_EQ(matches(trie, "dev/10000/temp"), V{});
}

}  // namespace
}  // namespace peregrine::broker
