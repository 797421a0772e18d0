#include "src/broker/topic_trie.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
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

// A virtual broker's keys (src/mqtt/scope.h): its filters reach only its topics, the
// default broker's wildcards none of them, and the `$` rule holds after the scope.
TEST(TopicTrie, ScopedTopicsStayInTheirBroker) {
  const std::string a = "$\xFF" "a.ns/";
  const std::string b = "$\xFF" "b.ns/";
  auto trie = make({"#", "+/x", a + "#", a + "+", a + "x", a + "+/y", b + "#", a + "$SYS/#"});
  EXPECT_EQ(matches(trie, "x"), (V{"#"}));
  EXPECT_EQ(matches(trie, a + "x"), (V{a + "#", a + "+", a + "x"}));
  EXPECT_EQ(matches(trie, a + "q/y"), (V{a + "#", a + "+/y"}));
  EXPECT_EQ(matches(trie, b + "x"), (V{b + "#"}));
  EXPECT_EQ(matches(trie, a + "$SYS/load"), (V{a + "$SYS/#"}));
  EXPECT_EQ(matches(trie, b + "$SYS/load"), V{});
}

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

// The match cache must never answer differently from a walk of the trie as it is now:
// random filters are added, emptied and removed, entries change contents, and every few
// steps each topic is matched twice (the second from the cache) against a trie built
// afresh from the current filters.
TEST(TopicTrie, CachedMatchesFollowEveryChange) {
  const std::vector<std::string> filters = {
      "a/b/c", "a/+/c", "a/#", "#", "+/+", "+", "a/+", "/+", "+/#", "a/b/#", "$SYS/#",
      "$SYS/+", "x/y", "x/+", "+/y", "a/b/+/d", "a/b/c/d", "+/+/+/+", "a/+/+/d", "x/#"};
  const std::vector<std::string> topics = {"a/b/c", "a", "a/b", "a//c", "/x", "x/y",
                                           "$SYS/load", "a/b/c/d", "x", "q/y", "a/z/c",
                                           "a/b/q/d", "$SYS"};
  TopicTrie<Names> trie;
  std::vector<std::string> present;
  uint32_t seed = 99;
  auto next = [&](uint32_t n) {
    seed = seed * 1103515245 + 12345;
    return (seed >> 8) % n;
  };
  for (int step = 0; step < 3000; ++step) {
    const std::string& f = filters[next(filters.size())];
    const auto at = std::find(present.begin(), present.end(), f);
    switch (next(3)) {
      case 0:  // subscribe (or a second subscriber on the same filter)
        trie.insert(f).names.push_back(f);
        if (at == present.end()) {
          present.push_back(f);
        }
        break;
      case 1:  // the last subscriber leaves: the entry goes
        if (at != present.end()) {
          trie.find(f)->names.clear();
          trie.erase_if_empty(f);
          present.erase(at);
        }
        break;
      default:  // one subscriber of several leaves: the entry stays, its contents change
        if (at != present.end() && trie.find(f)->names.size() > 1) {
          trie.find(f)->names.pop_back();
        }
        break;
    }
    if (step % 7 != 0) {
      continue;
    }
    TopicTrie<Names> fresh;
    for (const std::string& p : present) {
      fresh.insert(p).names = trie.find(p)->names;
    }
    for (const std::string& t : topics) {
      const V expected = matches(fresh, t);
      ASSERT_EQ(matches(trie, t), expected) << "step " << step << " topic " << t;
      ASSERT_EQ(matches(trie, t), expected) << "step " << step << " topic " << t << " (cached)";
    }
  }
  EXPECT_GT(trie.cache_hits(), 1000u);
}

}  // namespace
}  // namespace peregrine::broker

namespace peregrine::broker {
namespace {

TEST(TopicTrie, TwoTopicsOfOneCacheSetBothStayCached) {
  // Two topics whose hashes pick the same set (the low 7 bits: 128 sets): taking turns
  // they must not evict each other.
  const std::string first = "pairs/0";
  std::string second;
  for (int i = 1; second.empty(); ++i) {
    const std::string candidate = "pairs/" + std::to_string(i);
    if ((topic_cache_hash(candidate) & 127) == (topic_cache_hash(first) & 127)) {
      second = candidate;
    }
  }
  TopicTrie<Names> trie = make({"pairs/+"});
  for (int round = 0; round < 10; ++round) {
    EXPECT_EQ(matches(trie, first), V{"pairs/+"});
    EXPECT_EQ(matches(trie, second), V{"pairs/+"});
  }
  EXPECT_EQ(trie.cache_hits(), 18u);  // all but the first match of each
}

TEST(TopicTrie, ExactAndWildcardFiltersMatchTogetherAndComeAndGo) {
  // Filters without wildcards live apart from the trie (ExactFilters): a topic finds
  // both kinds, each kind's entries erase on their own, and the match cache sees it all.
  TopicTrie<Names> trie;
  trie.insert("dev/1/t").names.push_back("dev/1/t");
  trie.insert("dev/+/t").names.push_back("dev/+/t");
  trie.insert("$SYS/x").names.push_back("$SYS/x");
  EXPECT_EQ(trie.size(), 3u);
  EXPECT_EQ(matches(trie, "dev/1/t"), (V{"dev/+/t", "dev/1/t"}));
  EXPECT_EQ(matches(trie, "dev/2/t"), (V{"dev/+/t"}));
  EXPECT_EQ(matches(trie, "$SYS/x"), (V{"$SYS/x"}));  // exact: the '$' rule is for wildcards
  trie.insert("dev/2/t").names.push_back("dev/2/t");  // after a cached match of dev/2/t
  EXPECT_EQ(matches(trie, "dev/2/t"), (V{"dev/+/t", "dev/2/t"}));
  trie.find("dev/1/t")->names.clear();
  trie.erase_if_empty("dev/1/t");
  trie.erase_if_empty("dev/+/t");  // not empty: stays
  EXPECT_EQ(trie.find("dev/1/t"), nullptr);
  EXPECT_EQ(matches(trie, "dev/1/t"), (V{"dev/+/t"}));
  trie.find("dev/+/t")->names.clear();
  trie.erase_if_empty("dev/+/t");
  EXPECT_EQ(matches(trie, "dev/1/t"), V{});
  EXPECT_EQ(matches(trie, "dev/2/t"), (V{"dev/2/t"}));
  EXPECT_EQ(trie.size(), 2u);
  // A long key and an empty level are keys like any other.
  const std::string long_topic(300, 'k');
  trie.insert(long_topic).names.push_back("long");
  trie.insert("a//b").names.push_back("a//b");
  EXPECT_EQ(matches(trie, long_topic), (V{"long"}));
  EXPECT_EQ(matches(trie, "a//b"), (V{"a//b"}));
}

}  // namespace
}  // namespace peregrine::broker
