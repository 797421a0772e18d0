// A topic trie keyed by filter levels, matched against topic names with MQTT's wildcard
// rules: '+' one level (possibly empty), '#' the rest including the parent level itself
// [MQTT-4.7.1-2], and no leading wildcard matching a topic that starts with '$'
// [MQTT-4.7.2-1]. Entry is the per-filter value (a shard's local subscribers, or a
// routing replica's shard set); it must offer empty(). One trie per shard, touched by its
// thread only. Bounded by the filters its shard's clients subscribe.
// Publishers send to the same topics again and again, so match() remembers the entries
// recent topics matched in a small two-way set-associative cache (kCacheSlots, up to
// kCachedEntries entries a topic); adding or removing an entry empties it (a generation
// count), while an entry's own contents may change freely underneath.
// Filters without wildcards are not walked level by level: they live in an ExactFilters
// set, found by the whole topic in one lookup, and the trie holds only filters with '+' or
// '#' (a trie leaf cost ~230 bytes a filter, the exact set ~75).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/hash/hash.h"
#include "src/base/assert.h"
#include "src/broker/exact_filters.h"

namespace peregrine::broker {

struct TransparentStringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return absl::Hash<std::string_view>{}(s); }
};

// The match cache's hash of a topic: 8 bytes a step, inlined (std::hash went through
// the PLT on every PUBLISH). A collision costs only a cache miss, never a wrong match.
inline size_t topic_cache_hash(std::string_view s) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    h = (h ^ word) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
  }
  uint64_t tail = 0;
  for (size_t i = 0; i < n; ++i) {
    tail |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  }
  h = (h ^ tail) * 0xC4CEB9FE1A85EC53ull;
  return static_cast<size_t>(h ^ (h >> 29));
}

template <typename Entry>
class TopicTrie {
 public:
  // The entry for `filter`, created empty if absent.
  Entry& insert(std::string_view filter) {
    if (!has_wildcard(filter)) {
      bool created = false;
      Entry& entry = _exact.insert(filter, &created);
      if (created) {
        ++_size;
        ++_generation;
      }
      return entry;
    }
    Node* node = &_root;
    for_each_level(filter, [&](std::string_view level) { node = child_or_create(node, level); });
    if (!node->has_entry) {
      node->has_entry = true;
      ++_size;
      ++_wild_size;
      ++_generation;
    }
    return node->entry;
  }

  Entry* find(std::string_view filter) {
    if (!has_wildcard(filter)) {
      return _exact.find(filter);
    }
    Node* node = &_root;
    bool found = true;
    for_each_level(filter, [&](std::string_view level) {
      if (node != nullptr) {
        node = child(node, level);
      }
    });
    found = node != nullptr && node->has_entry;
    return found ? &node->entry : nullptr;
  }

  // Removes the entry for `filter` if it is empty(), pruning nodes left without use.
  void erase_if_empty(std::string_view filter) {
    if (!has_wildcard(filter)) {
      Entry* entry = _exact.find(filter);
      if (entry != nullptr && entry->empty()) {
        _exact.erase(filter);
        --_size;
        ++_generation;
      }
      return;
    }
    Node* node = &_root;
    for_each_level(filter, [&](std::string_view level) {
      if (node != nullptr) {
        node = child(node, level);
      }
    });
    if (node == nullptr || !node->has_entry || !node->entry.empty()) {
      return;
    }
    node->has_entry = false;
    node->entry = Entry{};
    --_size;
    --_wild_size;
    ++_generation;
    prune(node);
  }

  // Calls visit(Entry&) once for every filter matching `topic`.
  template <typename Visit>
  void match(std::string_view topic, Visit&& visit) {
    if (_size == 0) {
      return;
    }
    if (_cache == nullptr) {
      _cache = std::make_unique<std::array<CacheSlot, kCacheSlots>>();
    }
    const size_t hash = topic_cache_hash(topic);
    CacheSlot* set = &(*_cache)[(hash & (kCacheSets - 1)) * kCacheWays];
    ++_cache_clock;
    for (size_t way = 0; way < kCacheWays; ++way) {
      CacheSlot& slot = set[way];
      if (slot.generation == _generation && slot.hash == hash &&
          slot.topic.size() == topic.size() &&
          std::memcmp(slot.topic.data(), topic.data(), topic.size()) == 0) {
        ++_cache_hits;
        slot.used = _cache_clock;
        for (uint8_t i = 0; i < slot.count; ++i) {
          visit(*slot.entries[i]);
        }
        return;
      }
    }
    // Refill the way used least recently (an invalid one first: its `used` is old).
    static_assert(kCacheWays == 2);
    CacheSlot& slot = set[0].used <= set[1].used ? set[0] : set[1];
    slot.used = _cache_clock;
    // Walk the trie, noting what matched for the slot; a topic matching more than
    // kCachedEntries filters is not cached.
    uint8_t count = 0;
    bool fits = true;
    auto note = [&](Entry& entry) {
      if (count < kCachedEntries) {
        slot.entries[count++] = &entry;
      } else {
        fits = false;
      }
      visit(entry);
    };
    slot.generation = 0;  // invalid while being refilled (visit() may not change the trie)
    if (Entry* exact = _exact.find(topic)) {
      note(*exact);
    }
    if (_wild_size != 0) {
      const bool dollar = !topic.empty() && topic.front() == '$';
      match_level(&_root, topic, 0, dollar, note);
    }
    if (fits) {
      slot.hash = hash;
      slot.topic.assign(topic);
      slot.count = count;
      slot.generation = _generation;
    }
  }

  size_t size() const { return _size; }
  static bool has_wildcard(std::string_view filter) {
    return filter.find_first_of("+#") != std::string_view::npos;
  }
  bool empty_trie() const { return _size == 0; }
  uint64_t cache_hits() const { return _cache_hits; }

 private:
  // Two-way set associative: two topics a set, so two busy topics that share a set (200
  // topics in 256 direct-mapped slots collide often) do not evict each other every time.
  static constexpr size_t kCacheWays = 2;
  static constexpr size_t kCacheSets = 128;
  static constexpr size_t kCacheSlots = kCacheSets * kCacheWays;
  static constexpr uint8_t kCachedEntries = 4;
  struct CacheSlot {
    uint64_t generation = 0;  // 0: empty (the trie's generation starts at 1)
    uint64_t used = 0;        // _cache_clock at its last hit or fill
    size_t hash = 0;
    std::string topic;
    uint8_t count = 0;
    std::array<Entry*, kCachedEntries> entries{};
  };

  struct Node {
    Node* parent = nullptr;
    std::string key;
    std::unordered_map<std::string, std::unique_ptr<Node>, TransparentStringHash,
                       std::equal_to<>>
        literal;
    std::unique_ptr<Node> plus;
    std::unique_ptr<Node> hash;
    bool has_entry = false;
    Entry entry{};
    bool unused() const { return !has_entry && literal.empty() && !plus && !hash; }
  };

  template <typename F>
  static void for_each_level(std::string_view filter, F&& f) {
    size_t start = 0;
    while (true) {
      const size_t slash = filter.find('/', start);
      if (slash == std::string_view::npos) {
        f(filter.substr(start));
        return;
      }
      f(filter.substr(start, slash - start));
      start = slash + 1;
    }
  }

  static Node* child(Node* node, std::string_view level) {
    if (level == "+") {
      return node->plus.get();
    }
    if (level == "#") {
      return node->hash.get();
    }
    auto it = node->literal.find(level);
    return it == node->literal.end() ? nullptr : it->second.get();
  }

  static Node* child_or_create(Node* node, std::string_view level) {
    std::unique_ptr<Node>* slot = nullptr;
    if (level == "+") {
      slot = &node->plus;
    } else if (level == "#") {
      slot = &node->hash;
    } else {
      slot = &node->literal[std::string(level)];
    }
    if (!*slot) {
      *slot = std::make_unique<Node>();
      (*slot)->parent = node;
      (*slot)->key = std::string(level);
    }
    return slot->get();
  }

  void prune(Node* node) {
    while (node != &_root && node->unused()) {
      Node* parent = node->parent;
      if (parent->plus.get() == node) {
        parent->plus.reset();
      } else if (parent->hash.get() == node) {
        parent->hash.reset();
      } else {
        parent->literal.erase(node->key);
      }
      node = parent;
    }
  }

  // `pos` is the start of the current level in `topic`; `dollar`: the level starts with
  // '$' and is the first a client wrote — level 0, or the one after a virtual broker's
  // scope (src/mqtt/scope.h), which is itself matched only literally.
  template <typename Visit>
  void match_level(Node* node, std::string_view topic, size_t pos, bool dollar, Visit& visit) {
    const size_t slash = topic.find('/', pos);
    const std::string_view level =
        topic.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    const bool last = slash == std::string_view::npos;
    if (!dollar && node->hash && node->hash->has_entry) {
      visit(node->hash->entry);
    }
    auto step = [&](Node* next) {
      if (next == nullptr) {
        return;
      }
      if (last) {
        if (next->has_entry) {
          visit(next->entry);
        }
        // "a/#" also matches "a" [MQTT-4.7.1-2].
        if (next->hash && next->hash->has_entry) {
          visit(next->hash->entry);
        }
      } else {
        // After a scope level, the `$` rule again (one test, on `$` topics only).
        const bool scope = dollar && pos == 0 && level.size() > 1 && level[1] == '\xFF';
        match_level(next, topic, slash + 1, scope && topic.substr(slash + 1).starts_with('$'),
                    visit);
      }
    };
    if (!node->literal.empty()) {
      auto it = node->literal.find(level);
      if (it != node->literal.end()) {
        step(it->second.get());
      }
    }
    if (!dollar) {
      step(node->plus.get());
    }
  }

  Node _root;               // filters with a wildcard
  ExactFilters<Entry> _exact;  // the others
  size_t _size = 0;          // both
  size_t _wild_size = 0;     // the trie's
  uint64_t _generation = 1;
  uint64_t _cache_hits = 0;
  uint64_t _cache_clock = 0;
  std::unique_ptr<std::array<CacheSlot, kCacheSlots>> _cache;  // on the first match
};

}  // namespace peregrine::broker
