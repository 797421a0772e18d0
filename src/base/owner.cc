#include "src/base/owner.h"

namespace peregrine::base {

namespace {
thread_local int t_current_shard = kNoShardThread;
}  // namespace

int current_shard() { return t_current_shard; }
void set_current_shard(int shard) { t_current_shard = shard; }

}  // namespace peregrine::base
