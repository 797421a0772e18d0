// Start-up check of the shard logs' directories (main thread, before any shard runs):
// state_dir/shard-0 … shard-(N-1) exist (0700) and take new files, and the logs there
// were written with this shard count (logs of another count are moved first:
// redistribute.h). `state_dir/layout.json` ({"version":1,"shards":N}) records the count.
#pragma once

#include <cstdint>
#include <string>

namespace peregrine::store {

bool prepare_shard_dirs(const std::string& state_dir, uint16_t shards, std::string& error);

// layout.json, read (0: none, or unreadable) and written (atomically, 0600).
uint16_t recorded_shard_count(const std::string& state_dir);
bool record_shard_count(const std::string& state_dir, uint16_t shards, std::string& error);

}  // namespace peregrine::store
