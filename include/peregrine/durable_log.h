// One shard's durable log as the broker sees it (issue 30): the broker appends records
// (its own encoding, src/broker/durable_records.h) and learns when each batch is on disk,
// so acknowledgements that promise durability leave only then. Implemented outside the
// broker (src/store: segment files in state_dir/shard-N/, written through the shard's
// ring); made per shard on that shard's thread, and used by it alone.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace peregrine {

namespace io {
class Ring;
}  // namespace io

class DurableLogListener {
 public:
  virtual ~DurableLogListener() = default;
  // Batch `ticket` is on disk as the fsync policy counts it (error 0), or it failed
  // (error = -errno) and was dropped: it will not be replayed. Each batch is reported
  // once, in ticket order, from the shard's ring (never from within append or flush).
  virtual void on_log_written(uint64_t ticket, int error) = 0;
};

class DurableLog {
 public:
  virtual ~DurableLog() = default;
  // Adds a record to the batch this turn fills; returns the batch's ticket.
  virtual uint64_t append(uint8_t type, std::span<const uint8_t> body) = 0;
  // The turn's end: the filled batch goes out (and a sync when the policy's time came).
  virtual void flush(uint64_t now_ms) = 0;
  // When flush() must run next even if nothing is appended (an interval sync); 0: never.
  virtual uint64_t next_flush_ms() const = 0;
  // A write is in flight or records wait: the shard must not end yet.
  virtual bool busy() const = 0;

  // Bytes that reached the files so far, segments and snapshots: what the disk is asked
  // to take for the traffic (the operator's figure of write amplification).
  virtual uint64_t bytes_written() const = 0;
  virtual uint64_t snapshots() const = 0;  // completed since start

  // Compaction: a snapshot of the live state replaces every segment written before it,
  // so the log stays bounded by the live state, not by the traffic.
  // The segments since the last snapshot have outgrown their bound.
  virtual bool wants_snapshot() const = 0;
  // Starts one: records appended from now on go to a new segment. False when one runs,
  // or it cannot start now (tried again later).
  virtual bool begin_snapshot() = 0;
  // The new segment has begun: every record before it is reported (and so applied to the
  // live state): the caller may now add the live state, in slices, turn after turn.
  virtual bool snapshot_ready() const = 0;
  virtual void append_snapshot(uint8_t type, std::span<const uint8_t> body) = 0;
  // All of it is added: once written and synced, it replaces the older segments.
  virtual void end_snapshot() = 0;
  // Begun and not yet finished or abandoned (a write failed: the caller stops adding).
  virtual bool snapshot_running() const = 0;
};

class DurableLogFactory {
 public:
  virtual ~DurableLogFactory() = default;
  using Replay = std::function<void(uint8_t type, std::span<const uint8_t> body)>;
  // Opens shard `shard`'s log on its own thread, first replaying every record it holds, in
  // order, through `replay` (blocking: at start, before the shard serves). nullptr with
  // `error` when the log cannot be used at all (damage is repaired and logged instead).
  virtual std::unique_ptr<DurableLog> open(uint16_t shard, io::Ring& ring,
                                           DurableLogListener& listener, const Replay& replay,
                                           std::string& error) const = 0;
};

}  // namespace peregrine
