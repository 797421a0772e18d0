#include "src/broker/retained_store.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "src/broker/topic_trie.h"
#include "src/mqtt/codec.h"
#include "src/mqtt/scope.h"

namespace peregrine::broker {
namespace {

Message* make(const std::string& topic, const std::string& payload, uint64_t now = 0,
              std::optional<uint32_t> expiry = std::nullopt) {
  mqtt::Publish p;
  p.topic = topic;
  p.payload = mqtt::as_bytes(payload);
  p.retain = true;
  p.properties.message_expiry_interval = expiry;
  return Message::create(p, 1, now);
}

std::vector<std::string> topics(std::vector<Message*>& found) {
  std::vector<std::string> out;
  for (Message* m : found) {
    out.emplace_back(m->topic());
    m->unref();
  }
  found.clear();
  return out;
}

std::string payload_of(RetainedStore& store, std::string_view topic) {
  Message* m = store.lookup(topic, 0);
  if (m == nullptr) {
    return "(none)";
  }
  std::string out(m->payload().begin(), m->payload().end());
  m->unref();
  return out;
}

TEST(RetainedStore, AStoreWhoseWriteFailedIsTakenBack) {
  RetainedStore store(10, 1000);
  store.store(make("t", "old"));
  // A replace handed back, then undone: the old one again.
  Message* applied = make("t", "new");
  applied->ref();  // the caller's, as the router keeps one
  Message* previous = nullptr;
  ASSERT_EQ(store.store(applied, &previous), RetainedStore::StoreResult::kStored);
  ASSERT_NE(previous, nullptr);
  EXPECT_EQ(payload_of(store, "t"), "new");
  store.undo("t", applied, previous);
  EXPECT_EQ(payload_of(store, "t"), "old");
  EXPECT_EQ(store.bytes(), 4u);  // "t" + "old"
  applied->unref();

  // A delete undone: back again.
  Message* clear = make("t", "");
  clear->ref();
  ASSERT_EQ(store.store(clear, &previous), RetainedStore::StoreResult::kDeleted);
  EXPECT_EQ(payload_of(store, "t"), "(none)");
  store.undo("t", nullptr, previous);
  EXPECT_EQ(payload_of(store, "t"), "old");
  clear->unref();

  // A new topic undone: gone; and an undo that a later store overtook changes nothing.
  Message* fresh = make("n", "1");
  fresh->ref();
  ASSERT_EQ(store.store(fresh, &previous), RetainedStore::StoreResult::kStored);
  EXPECT_EQ(previous, nullptr);
  store.undo("n", fresh, nullptr);
  EXPECT_EQ(payload_of(store, "n"), "(none)");
  fresh->unref();
  Message* first = make("t", "first");
  first->ref();
  store.store(first, &previous);
  store.store(make("t", "second"));
  store.undo("t", first, previous);  // "second" stands
  EXPECT_EQ(payload_of(store, "t"), "second");
  first->unref();
  EXPECT_EQ(store.size(), 1u);
}

TEST(RetainedStore, ReplaceDeleteAndLimits) {
  RetainedStore store(2, 1000);
  EXPECT_EQ(store.store(make("a", "1")), RetainedStore::StoreResult::kStored);
  EXPECT_EQ(store.store(make("a", "2")), RetainedStore::StoreResult::kStored);
  EXPECT_EQ(store.size(), 1u);
  Message* got = store.lookup("a", 0);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(mqtt::as_string_view(got->payload()), "2");
  got->unref();
  EXPECT_EQ(store.store(make("b", "x")), RetainedStore::StoreResult::kStored);
  EXPECT_EQ(store.store(make("c", "x")), RetainedStore::StoreResult::kRefused);  // count
  EXPECT_EQ(store.store(make("a", "")), RetainedStore::StoreResult::kDeleted);
  EXPECT_EQ(store.lookup("a", 0), nullptr);
  EXPECT_EQ(store.store(make("c", "x")), RetainedStore::StoreResult::kStored);
  EXPECT_EQ(store.bytes(), 4u);
}

TEST(RetainedStore, ScanResumesAfterCursorInSlices) {
  RetainedStore store(1000, 1 << 20);
  for (int i = 0; i < 10; ++i) {
    store.store(make("s/" + std::to_string(i), "p"));
  }
  store.store(make("other", "p"));
  std::string cursor;
  std::vector<Message*> found;
  std::vector<std::string> all;
  int slices = 0;
  bool done = false;
  while (!done) {
    done = store.scan("s/#", cursor, 4, 100, 0, found);
    auto part = topics(found);
    all.insert(all.end(), part.begin(), part.end());
    ++slices;
  }
  EXPECT_EQ(all.size(), 10u);
  EXPECT_GE(slices, 3);
}

TEST(RetainedStore, ExpiredMessagesAreDroppedOnTheWay) {
  RetainedStore store(10, 1000);
  store.store(make("e", "p", 0, 1));
  store.store(make("f", "p", 0));
  Message* alive = store.lookup("e", 500);
  ASSERT_NE(alive, nullptr);
  alive->unref();
  EXPECT_EQ(store.lookup("e", 1500), nullptr);
  EXPECT_EQ(store.size(), 1u);
}

struct Hit {
  bool hit = false;
  bool empty() const { return !hit; }
};

// topic_matches() must agree with the trie's matching on every pair.
TEST(TopicMatches, AgreesWithTheTrie) {
  const std::vector<std::string> base_filters = {"#", "+", "a", "a/#", "a/+", "+/b", "a/b/c",
                                            "+/+/+", "a/+/c", "/#", "+/#", "$SYS/#",
                                            "$SYS/+", "a//c", "/", "+/"};
  const std::vector<std::string> base_topics = {"a", "a/b", "a/b/c", "a//c", "/", "/a", "b",
                                               "$SYS/x", "$SYS", "a/b/c/d", "x/b", ""};
  // The same in two virtual brokers' scopes (src/mqtt/scope.h): each matches only its
  // own broker's topics, with the `$` rule after the scope; the default broker's none.
  std::vector<std::string> filters = base_filters;
  std::vector<std::string> topic_list = base_topics;
  for (const std::string& scope : {mqtt::make_scope("a.ns"), mqtt::make_scope("b.ns")}) {
    for (const auto& f : base_filters) {
      filters.push_back(mqtt::scoped(scope, f));
    }
    for (const auto& t : base_topics) {
      if (!t.empty()) {
        topic_list.push_back(mqtt::scoped(scope, t));
      }
    }
  }
  for (const auto& filter : filters) {
    TopicTrie<Hit> trie;
    trie.insert(filter).hit = true;
    for (const auto& topic : topic_list) {
      if (topic.empty()) {
        continue;
      }
      bool trie_hit = false;
      trie.match(topic, [&](Hit&) { trie_hit = true; });
      EXPECT_EQ(mqtt::topic_matches(filter, topic), trie_hit) << filter << " vs " << topic;
    }
  }
}

TEST(TopicMatches, ScopesKeepVirtualBrokersApart) {
  const std::string a = mqtt::make_scope("a.ns");
  const std::string b = mqtt::make_scope("b.ns");
  EXPECT_TRUE(mqtt::topic_matches(a + "#", a + "x/y"));
  EXPECT_FALSE(mqtt::topic_matches(a + "#", b + "x/y"));
  EXPECT_FALSE(mqtt::topic_matches("#", a + "x/y"));
  EXPECT_FALSE(mqtt::topic_matches("+/x/y", a + "x/y"));
  EXPECT_FALSE(mqtt::topic_matches(a + "#", "x/y"));
  EXPECT_FALSE(mqtt::topic_matches(a + "#", a + "$SYS/x"));  // `$` rule after the scope
  EXPECT_TRUE(mqtt::topic_matches(a + "$SYS/#", a + "$SYS/x"));
  EXPECT_FALSE(mqtt::topic_matches("$SYS/#", a + "$SYS/x"));
}

// A scan reads only its broker's topics, and the default broker's skips every scoped one.
TEST(RetainedStore, ScansStayInTheirBroker) {
  RetainedStore store(100, 1 << 20);
  const std::string a = mqtt::make_scope("a.ns");
  const std::string b = mqtt::make_scope("b.ns");
  for (const std::string& topic : {std::string("t/1"), a + "t/1", a + "t/2", b + "t/1", std::string("z")}) {
    mqtt::Publish p;
    p.topic = topic;
    p.payload = mqtt::as_bytes(std::string_view("v"));
    p.retain = true;
    ASSERT_EQ(store.store(Message::create(p, 0, 0), nullptr), RetainedStore::StoreResult::kStored);
  }
  const auto scan = [&](std::string_view filter) {
    std::string cursor;
    std::vector<Message*> out;
    std::vector<std::string> topics;
    while (!store.scan(filter, cursor, 2, 100, 0, out)) {
    }
    for (Message* m : out) {
      topics.emplace_back(m->routing_topic());
      m->unref();
    }
    return topics;
  };
  EXPECT_EQ(scan("#"), (std::vector<std::string>{"t/1", "z"}));
  EXPECT_EQ(scan(a + "#"), (std::vector<std::string>{a + "t/1", a + "t/2"}));
  EXPECT_EQ(scan(b + "t/+"), (std::vector<std::string>{b + "t/1"}));
}

}  // namespace
}  // namespace peregrine::broker
