// A set of elements (pointers) found by a key each one holds, on abseil's open-addressed
// flat_hash_set: an entry costs the element and a control byte, where a
// std::unordered_map from the key costs a node and a bucket (about 15 against 40-50
// bytes). The shard's indexes of connections and sessions use it, since an idle
// connection pays for an entry in each.
#pragma once

#include <absl/container/flat_hash_set.h>
#include <absl/hash/hash.h>

#include <cstddef>

namespace peregrine::broker {

// `KeyOf(element)` is the key an element is found by; lookups take the key or an element.
template <typename Element, typename Key, Key (*KeyOf)(const Element&)>
struct KeyedSetTraits {
  static Key key(const Key& key) { return key; }
  static Key key(const Element& element) { return KeyOf(element); }
  struct Hash {
    using is_transparent = void;
    template <typename T>
    size_t operator()(const T& v) const { return absl::Hash<Key>{}(key(v)); }
  };
  struct Eq {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const { return key(a) == key(b); }
  };
};

template <typename Element, typename Key, Key (*KeyOf)(const Element&)>
using KeyedSet = absl::flat_hash_set<Element,
                                     typename KeyedSetTraits<Element, Key, KeyOf>::Hash,
                                     typename KeyedSetTraits<Element, Key, KeyOf>::Eq>;

}  // namespace peregrine::broker
