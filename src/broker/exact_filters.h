// The entries of filters without wildcards, found by a whole topic in one hash lookup.
// Most filters at scale name one topic (a device's own), and a trie spends a node per
// level on them (a hash map, a key string and links: ~230 bytes for a leaf); here each
// is one allocation holding its Entry and its bytes, and one pointer in a flat hash set.
// An Entry's address is stable until it is erased (callers keep Entry* across a match).
// One per TopicTrie, so one per shard and use; touched by its shard's thread only.
// Bounded by the filters its shard holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "src/base/assert.h"

namespace peregrine::broker {

template <typename Entry>
class ExactFilters {
 public:
  ExactFilters() = default;
  ExactFilters(const ExactFilters&) = delete;
  ExactFilters& operator=(const ExactFilters&) = delete;
  ExactFilters(ExactFilters&& other) noexcept : _nodes(std::move(other._nodes)) {
    other._nodes.clear();
  }
  ExactFilters& operator=(ExactFilters&&) = delete;
  ~ExactFilters() {
    for (Node* node : _nodes) {
      destroy(node);
    }
  }

  // The entry for `filter`, created empty if absent; `created` says which.
  Entry& insert(std::string_view filter, bool* created) {
    auto it = _nodes.find(filter);
    if (it != _nodes.end()) {
      *created = false;
      return (*it)->entry;
    }
    Node* node = make(filter);
    _nodes.insert(node);
    *created = true;
    return node->entry;
  }
  Entry* find(std::string_view filter) {
    auto it = _nodes.find(filter);
    return it == _nodes.end() ? nullptr : &(*it)->entry;
  }
  // Erases the entry for `filter`, if any; true if it was there.
  bool erase(std::string_view filter) {
    auto it = _nodes.find(filter);
    if (it == _nodes.end()) {
      return false;
    }
    Node* node = *it;
    _nodes.erase(it);
    destroy(node);
    return true;
  }
  size_t size() const { return _nodes.size(); }

 private:
  // The entry, then the key's length (4 bytes) and bytes right after it, in one
  // allocation of exactly that size (no padding between: a 17-byte key costs a 64-byte
  // block, not 80).
  struct Node {
    Entry entry{};
    std::string_view key() const {
      uint32_t size;
      std::memcpy(&size, reinterpret_cast<const char*>(this + 1), sizeof size);
      return {reinterpret_cast<const char*>(this + 1) + sizeof size, size};
    }
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return absl::Hash<std::string_view>{}(s); }
    size_t operator()(const Node* n) const { return (*this)(n->key()); }
  };
  struct Eq {
    using is_transparent = void;
    static std::string_view k(std::string_view s) { return s; }
    static std::string_view k(const Node* n) { return n->key(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return k(a) == k(b);
    }
  };

  static Node* make(std::string_view filter) {
    PG_ASSERT(filter.size() <= UINT32_MAX);
    const auto size = static_cast<uint32_t>(filter.size());
    void* memory = ::operator new(sizeof(Node) + sizeof size + filter.size());
    Node* node = new (memory) Node();
    char* tail = reinterpret_cast<char*>(node + 1);
    std::memcpy(tail, &size, sizeof size);
    if (size != 0) {  // an empty view's data() may be null
      std::memcpy(tail + sizeof size, filter.data(), filter.size());
    }
    return node;
  }
  static void destroy(Node* node) {
    node->~Node();
    ::operator delete(node);
  }

  absl::flat_hash_set<Node*, Hash, Eq> _nodes;
};

}  // namespace peregrine::broker
