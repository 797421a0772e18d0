#include "src/broker/address_counts.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "absl/hash/hash.h"
#include "src/base/assert.h"

namespace peregrine::broker {

uint64_t AddressCounts::key_of(const net::PeerAddress& peer) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  uint64_t bits = 0;
  bool v6 = false;
  if (peer.family == AF_INET ||
      (peer.family == AF_INET6 && std::memcmp(peer.addr, kMapped, sizeof kMapped) == 0)) {
    uint32_t v4 = 0;
    std::memcpy(&v4, peer.family == AF_INET ? peer.addr : peer.addr + 12, sizeof v4);
    bits = v4;
  } else if (peer.family == AF_INET6) {
    std::memcpy(&bits, peer.addr, sizeof bits);  // the /64
    v6 = true;
  } else {
    return 0;
  }
  // absl's hash is salted per process: which addresses share a bucket cannot be chosen
  // from outside. 0 is kept for "unknown".
  const uint64_t h = absl::HashOf(v6, bits);
  return h == 0 ? 1 : h;
}

bool AddressCounts::take(uint64_t key) {
  if (key == 0) {
    return true;
  }
  auto& a = _connected[0][index(key, 0)];
  auto& b = _connected[1][index(key, 1)];
  const uint32_t before = std::min(a.fetch_add(1, std::memory_order_relaxed),
                                   b.fetch_add(1, std::memory_order_relaxed));
  const uint32_t limit = _connected_limit.load(std::memory_order_relaxed);
  if (limit != 0 && before >= limit) {
    a.fetch_sub(1, std::memory_order_relaxed);
    b.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void AddressCounts::give_back(uint64_t key) {
  if (key == 0) {
    return;
  }
  auto& a = _connected[0][index(key, 0)];
  auto& b = _connected[1][index(key, 1)];
  PG_ASSERT(a.load(std::memory_order_relaxed) > 0 && b.load(std::memory_order_relaxed) > 0);
  a.fetch_sub(1, std::memory_order_relaxed);
  b.fetch_sub(1, std::memory_order_relaxed);
}

bool AddressCounts::admit_new(uint64_t key, uint64_t now_s) {
  const uint32_t limit = _new_limit.load(std::memory_order_relaxed);
  if (key == 0 || limit == 0) {
    return true;
  }
  const uint64_t second = (now_s & 0xFFFFFFFFu) << 32;
  uint32_t counted = UINT32_MAX;
  for (int row = 0; row < 2; ++row) {
    std::atomic<uint64_t>& bucket = _new[row][index(key, row)];
    uint64_t seen = bucket.load(std::memory_order_relaxed);
    uint64_t next;
    do {
      const bool same = (seen & ~uint64_t{0xFFFFFFFFu}) == second;
      const uint32_t count = same ? static_cast<uint32_t>(seen) : 0;
      next = second | (count == UINT32_MAX ? count : count + 1);
    } while (!bucket.compare_exchange_weak(seen, next, std::memory_order_relaxed));
    counted = std::min(counted, static_cast<uint32_t>(next));
  }
  return counted <= limit;
}

}  // namespace peregrine::broker
