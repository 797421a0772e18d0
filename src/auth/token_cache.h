// One shard's memory of tokens it has checked: a verified token's claims until its exp,
// and a refusal that time cannot change (bad signature, unknown key, malformed), so that
// a client reconnecting with the same token, or a storm replaying one bad token, costs
// a SHA-256 of the token instead of a signature check.
//
// Keyed by SHA-256 of the whole token (never the token itself: no credential is kept).
// Bounded: `capacity` entries, the oldest insertion evicted first. Single-threaded.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <string_view>
#include <unordered_map>

#include "src/auth/jwt.h"

namespace peregrine::auth {

class TokenCache {
 public:
  using Digest = std::array<uint8_t, 32>;
  struct Entry {
    TokenRefusal refusal = TokenRefusal::kNone;
    TokenClaims claims;  // when refusal is kNone
  };

  explicit TokenCache(size_t capacity) : _capacity(capacity) {}

  static Digest digest(std::string_view token);
  // The entry for `key`, or nullptr; a verified entry whose exp has come (without the
  // leeway: a cached verdict errs early) now says expired.
  const Entry* find(const Digest& key, int64_t now_s);
  // Remembers a verdict worth remembering (see above); others are ignored.
  void remember(const Digest& key, TokenRefusal refusal, const TokenClaims& claims);

  size_t size() const { return _entries.size(); }
  void clear() {
    _entries.clear();
    _order.clear();
  }
  static bool lasting(TokenRefusal refusal);

  struct DigestHash {
    size_t operator()(const Digest& d) const {
      size_t h;
      static_assert(sizeof h <= sizeof(Digest));
      __builtin_memcpy(&h, d.data(), sizeof h);  // already uniform
      return h;
    }
  };

 private:
  size_t _capacity;
  std::unordered_map<Digest, Entry, DigestHash> _entries;
  std::deque<Digest> _order;  // insertion order, for eviction; same size as _entries
};

}  // namespace peregrine::auth
