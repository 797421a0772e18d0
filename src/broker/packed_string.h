// An owned, immutable string in one pointer: its length and bytes in one allocation of
// exactly their size. For keys held by the hundred thousand (a session's topic filters):
// a std::string is 32 bytes and, past 15 characters, a second allocation; this is 8 bytes
// and one allocation of 4 + length. Hashing and equality are transparent with
// std::string_view, so sets keyed by it are searched without building one. (Key sets,
// not absl maps: a map moves its pair<const key, value>, which needs a copy.)
// Not thread-safe (like any value); moves, never copies.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

#include "absl/hash/hash.h"
#include "src/base/assert.h"

namespace peregrine::broker {

class PackedString {
 public:
  PackedString() = default;
  explicit PackedString(std::string_view text) {
    PG_ASSERT(text.size() <= UINT32_MAX);
    _data = static_cast<char*>(std::malloc(sizeof(uint32_t) + text.size()));
    if (_data == nullptr) {
      throw std::bad_alloc();
    }
    const auto size = static_cast<uint32_t>(text.size());
    std::memcpy(_data, &size, sizeof size);
    if (size != 0) {  // an empty view's data() may be null, which memcpy may not take
      std::memcpy(_data + sizeof size, text.data(), text.size());
    }
  }
  ~PackedString() { std::free(_data); }
  PackedString(PackedString&& other) noexcept : _data(other._data) { other._data = nullptr; }
  PackedString& operator=(PackedString&& other) noexcept {
    if (this != &other) {
      std::free(_data);
      _data = other._data;
      other._data = nullptr;
    }
    return *this;
  }
  PackedString(const PackedString&) = delete;
  PackedString& operator=(const PackedString&) = delete;

  std::string_view view() const {
    if (_data == nullptr) {
      return {};
    }
    uint32_t size;
    std::memcpy(&size, _data, sizeof size);
    return {_data + sizeof size, size};
  }
  operator std::string_view() const { return view(); }  // NOLINT: used as a string

 private:
  char* _data = nullptr;
};

// Transparent hash and equality for containers keyed by PackedString.
struct PackedStringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return absl::Hash<std::string_view>{}(s); }
  size_t operator()(const PackedString& s) const { return (*this)(s.view()); }
};

struct PackedStringEq {
  using is_transparent = void;
  static std::string_view v(std::string_view s) { return s; }
  static std::string_view v(const PackedString& s) { return s.view(); }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return v(a) == v(b);
  }
};

}  // namespace peregrine::broker
