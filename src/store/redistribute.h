// Moving the shard logs to another shard count (start-up, main thread, before any shard
// runs). Each record belongs to the shard its key hashes to (a retained topic's owner, a
// session's home; a stored message to every shard, which drops it unless referred to),
// so logs written with N shards hold records in the wrong places for M. This reads every
// old shard's log (repairing as a start would) and writes each record, in replay order,
// to the new shards `owner` names, into state_dir/redistribute/shard-K; once all of them
// are synced it marks the work done (redistribute/done), then swaps the directories and
// records the new count in layout.json.
//
// A crash at any point leaves a state the next start completes or undoes
// (finish_interrupted_redistribution): without the done mark the old logs are intact and
// the work is discarded; with it, the swap is finished (each step can be repeated).
// Per-key order holds: all of a key's records come from its one old shard, in order.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

namespace peregrine::store {

struct Redistribution {
  size_t records = 0;  // moved
  size_t dropped = 0;  // the owner gave none (expired, unreadable)
};

// The new shards a record goes to, as a mask (bit k: shard k; a message that sessions on
// any shard may refer to goes to all of them); nullopt drops it. `error` set: stop, keep
// the old logs.
using RecordOwner = std::function<std::optional<uint64_t>(uint8_t type,
                                                          std::span<const uint8_t> body,
                                                          std::string& error)>;

bool redistribute(const std::string& state_dir, uint16_t from, uint16_t to,
                  const RecordOwner& owner, Redistribution& report, std::string& error);

// Completes or discards a redistribution a crash interrupted; true when there was none.
bool finish_interrupted_redistribution(const std::string& state_dir, std::string& error);

}  // namespace peregrine::store
