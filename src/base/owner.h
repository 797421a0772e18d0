// Which shard the calling thread runs, for ownership checks (Redpanda's `oncore`). A shard
// thread sets it once at start; the seeded simulation sets it before it runs each shard's
// work on its one thread. A thread that never set it (main, a unit test) is no shard, and
// checks made there pass: they guard shard threads against touching each other's objects.
#pragma once

#include <cstdint>

#include "src/base/assert.h"

namespace peregrine::base {

inline constexpr int kNoShardThread = -1;

// The calling thread's shard, or kNoShardThread.
int current_shard();
void set_current_shard(int shard);

// Whether an object owned by `owner` may be touched from here.
inline bool on_owner(int owner) {
  const int here = current_shard();
  return here == kNoShardThread || here == owner;
}

}  // namespace peregrine::base

// Debug and sanitizer builds: the object owned by shard `owner` is touched on its thread.
#define PG_DASSERT_OWNER(owner) PG_DASSERT(::peregrine::base::on_owner(static_cast<int>(owner)))
