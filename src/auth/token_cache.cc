#include "src/auth/token_cache.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>

namespace peregrine::auth {

TokenCache::Digest TokenCache::digest(std::string_view token) {
  Digest d{};
  wc_Sha256Hash(reinterpret_cast<const byte*>(token.data()), static_cast<word32>(token.size()),
                d.data());
  return d;
}

bool TokenCache::lasting(TokenRefusal refusal) {
  switch (refusal) {
    case TokenRefusal::kNone:  // until exp, checked by find()
    case TokenRefusal::kTooLarge:
    case TokenRefusal::kMalformed:
    case TokenRefusal::kHeader:
    case TokenRefusal::kAlgorithm:
    case TokenRefusal::kSignature:
    case TokenRefusal::kClaims:
    case TokenRefusal::kIssuer:
    case TokenRefusal::kAudience:
      return true;
    case TokenRefusal::kUnknownKey:  // a key may be added
    case TokenRefusal::kExpired:     // cheap to find again, and needs no memory
    case TokenRefusal::kNotYetValid:  // time will change it
      return false;
  }
  return false;
}

const TokenCache::Entry* TokenCache::find(const Digest& key, int64_t now_s) {
  const auto it = _entries.find(key);
  if (it == _entries.end()) {
    return nullptr;
  }
  Entry& entry = it->second;
  if (entry.refusal == TokenRefusal::kNone && entry.claims.expires_at &&
      now_s >= *entry.claims.expires_at) {
    // Expired for good: replays of it stay cheap until it is evicted in its turn.
    entry.refusal = TokenRefusal::kExpired;
    entry.claims = TokenClaims{};
  }
  return &entry;
}

void TokenCache::remember(const Digest& key, TokenRefusal refusal, const TokenClaims& claims) {
  if (_capacity == 0 || !lasting(refusal)) {
    return;
  }
  auto [it, fresh] = _entries.try_emplace(key);
  it->second.refusal = refusal;
  it->second.claims = refusal == TokenRefusal::kNone ? claims : TokenClaims{};
  if (!fresh) {
    return;
  }
  _order.push_back(key);
  if (_order.size() > _capacity) {
    _entries.erase(_order.front());
    _order.pop_front();
  }
}

}  // namespace peregrine::auth
