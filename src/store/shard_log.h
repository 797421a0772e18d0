// One shard's append-only log (issue 30): what the shard made durable, as records
// (log_format.h) in segment files under state_dir/shard-N/, written through the shard's
// own ring so the shard never waits on the disk.
//
// Group commit: records appended during a loop turn go out together in one write at the
// turn's end (flush()), with one fdatasync when the policy asks for it. A batch has a
// ticket; the listener hears when a batch is on disk (or failed), and acknowledgements
// that wait on it leave then. One batch is in flight at a time; what is appended
// meanwhile forms the next one, written as soon as the first completes.
//
// Failure (a full disk, an I/O error): the batch is reported failed and dropped — never
// retried, because what waited on it was refused (PUBACK 0x97) and must not reappear
// after a restart. The next batch goes to a new segment whose header records how much of
// the old one is valid, so whatever part of the failed batch reached the file is ignored
// by every later reader. While segments cannot be made (the disk is still full), batches
// fail at once, and a new attempt is made at most once a second: the shard recovers by
// itself when space returns.
//
// A segment ends with the first batch that takes it past segment_bytes (64 MiB); then the
// next one starts.
//
// Compaction: a snapshot (`snapshot-N.snap`, the segment format) holds the live state as
// of the start of segment N and replaces every segment before N. The caller begins it
// (the log moves to a new segment N once nothing is in flight, so everything before N
// has been reported and applied), adds the live state in slices over its turns, and ends
// it; the log writes it through the ring beside the segments, syncs it, renames it from
// `.tmp` to `.snap` and deletes what it replaces. Replaying the snapshot and then the
// segments from N gives the latest state: a value the snapshot took after N began is
// one that a record in N or later sets again. A failed snapshot write abandons it.
//
// Start-up (open()) reads the newest snapshot, then every segment from its number, hands
// each good record to the caller, ignores what a later header declares invalid,
// truncates a torn tail, moves damage out of the way (the rest of a segment after a bad
// record goes to a `.damaged` file beside it, logged), and begins a new segment. It runs
// before the shard serves anything, and its reading blocks (the one place that does).
//
// After open() nothing blocks the shard: a new segment is made through the ring in steps
// (open, header written and synced, the directory synced, the old segment closed:
// io::FileJob and io::FileWrite, one at a time), while batches wait and appends go on;
// a snapshot's file is made, renamed into place and what it replaces removed the same
// way. The log knows its segments and snapshots by number, so it never lists its
// directory after open().
//
// Single-threaded: the shard's thread, after open().
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "include/peregrine/durable_log.h"
#include "src/io/ring.h"
#include "src/store/log_format.h"

namespace peregrine::store {

enum class FsyncPolicy : uint8_t {
  kAlways,    // each batch synced before it counts as written: no loss on power failure
  kInterval,  // written batches count (no loss on kill -9); synced every interval
  kNever,     // the kernel syncs when it will
};

struct ShardLogOptions {
  std::string dir;     // state_dir/shard-N, made 0700 if missing
  uint16_t shard = 0;
  FsyncPolicy fsync = FsyncPolicy::kInterval;
  uint32_t fsync_interval_ms = 1000;
  uint64_t segment_bytes = 64u << 20;  // a segment ends at the first batch past this
  // A snapshot is wanted once the segments since the last one pass both this and twice
  // the last snapshot's size.
  uint64_t compact_min_bytes = 256u << 20;
};

// What open() found, for the start-up log line and tests.
struct LogRecovery {
  size_t segments = 0;
  size_t records = 0;
  size_t snapshot_records = 0;  // of them, from the snapshot
  size_t torn = 0;       // segments whose torn tail was cut off
  size_t damaged = 0;    // segments whose rest after a bad record was moved aside
  std::vector<std::string> notes;  // one line per repair, for the log
  // Where the log stands: its last segment's (or snapshot's) number, the bytes in
  // segments since the snapshot, and the snapshot's size.
  uint64_t last_number = 0;
  uint64_t bytes_since_snapshot = 0;
  uint64_t last_snapshot_bytes = 0;
};

// What ShardLog::open() does before it starts a segment: replays `dir`'s snapshot and
// segments (of shard `shard`) through `replay`, repairing as it goes. Also for moving
// logs to another shard count (redistribute.h).
bool read_shard_log(const std::string& dir, uint16_t shard,
                    const DurableLogFactory::Replay& replay, LogRecovery& recovery,
                    std::string& error);

class ShardLog final : public DurableLog {
 public:
  static constexpr uint64_t kRetryMs = 1000;

  ShardLog(ShardLogOptions options, io::Ring& ring, DurableLogListener& listener);
  ~ShardLog() override;
  ShardLog(const ShardLog&) = delete;
  ShardLog& operator=(const ShardLog&) = delete;

  // Replays every good record in order through `replay` (type, body), repairs, and
  // begins a new segment (batches appended meanwhile wait for it; busy() until made).
  // False with `error` when the directory or a file cannot be used at all (damage is
  // repaired, not an error).
  using Replay = std::function<void(uint8_t type, std::span<const uint8_t> body)>;
  bool open(const Replay& replay, LogRecovery& recovery, std::string& error);

  // Adds a record to the batch this turn is filling; returns that batch's ticket.
  uint64_t append(uint8_t type, std::span<const uint8_t> body) override;
  // The turn's end: starts the filled batch's write if none is in flight, and a sync
  // when the interval policy's time has come (`now_ms`: the shard's clock).
  void flush(uint64_t now_ms) override;
  uint64_t next_flush_ms() const override;

  // The last batch written (0: none yet); failed ones are reported, not counted here.
  uint64_t written_through() const { return _written_through; }
  bool busy() const override {
    return _in_flight != nullptr || !_batches[_fill].bytes.empty() || _snap.writing ||
           _job.busy || _header.busy;
  }
  uint64_t bytes_written() const override { return _bytes_written; }

  bool wants_snapshot() const override;
  bool begin_snapshot() override;
  bool snapshot_ready() const override { return _snap.running && _snap.rotated; }
  void append_snapshot(uint8_t type, std::span<const uint8_t> body) override;
  void end_snapshot() override;
  bool snapshot_running() const override { return _snap.running; }
  uint64_t snapshots() const override { return _snapshots; }
  uint64_t failures() const { return _failures; }

 private:
  struct Batch final : io::FileWrite {
    void on_file_written(int64_t result) override {
      if (snapshot) {
        log->snapshot_written(*this, result);
      } else {
        log->written(*this, result);
      }
    }
    ShardLog* log = nullptr;
    std::string bytes;
    iovec vec{};
    uint64_t ticket = 0;
    bool snapshot = false;
  };
  // The snapshot being made, if any.
  struct Snapshot {
    bool running = false;
    bool rotated = false;   // segment `number` has begun and the file is open
    bool ending = false;    // the caller added everything
    bool syncing = false;   // the last write (the sync) is in flight
    bool finishing = false;  // written: being renamed into place, or abandoned
    bool finish_due = false;   // to rename into place once the one step slot is free
    bool abandon_due = false;  // to close and remove, likewise
    bool file_made = false;    // its `.tmp` file exists
    bool renamed = false;      // it is a `.snap` now
    int dir_fd = -1;
    uint64_t number = 0;
    int fd = -1;
    uint64_t end = 0;
    Batch batch;             // records added and not yet written
    Batch in_flight;         // the one being written
    bool writing = false;
    const char* abandon_why = nullptr;  // being abandoned: why (logged at its end)
    int abandon_error = 0;
  };
  // One file-system call or header write of the log's own in flight at a time: the
  // steps of making a segment, and of a snapshot's start and end. `then` takes the
  // result (a descriptor, 0, or -errno).
  using Then = void (ShardLog::*)(int result);
  struct JobStep final : io::FileJob {
    void on_file_job_done(int result) override {
      busy = false;
      (log->*then)(result);
      log->next_step();
    }
    ShardLog* log = nullptr;
    Then then = nullptr;
    bool busy = false;
  };
  struct HeaderStep final : io::FileWrite {
    void on_file_written(int64_t result) override {
      busy = false;
      (log->*then)(result < 0 ? static_cast<int>(result) : 0);
      log->next_step();
    }
    ShardLog* log = nullptr;
    Then then = nullptr;
    bool busy = false;
    std::string bytes;
    iovec vec{};
  };
  void run(io::FileJob& job, Then then);
  // Whatever waited for the one step slot goes now, in this order: a snapshot's end (or
  // its abandonment), a snapshot's segment, the batch.
  void next_step();
  bool steps_busy() const { return _job.busy || _header.busy; }
  bool snapshot_rotation_due() const {
    return _snap.running && !_snap.rotated && !_snap.finishing && !_rot.active;
  }
  void write_header(int fd, std::string bytes, Then then);
  // Making the next segment (for the next batch, or for a snapshot to begin at).
  struct Rotation {
    bool active = false;
    bool for_snapshot = false;
    uint64_t number = 0;
    int fd = -1;      // the new segment
    int dir_fd = -1;  // its directory, to sync the new name
    int error = 0;    // why it failed (kept while the half-made file goes)
    std::string path;
  };
  void begin_rotation(bool for_snapshot);
  void segment_opened(int result);
  void segment_header_written(int result);
  void segment_dir_opened(int result);
  void segment_dir_synced(int result);
  void segment_dir_closed(int result);
  void segment_old_closed(int result);
  void segment_discarded(int result);
  void segment_unlinked(int result);
  void segment_made(int error);  // 0: made
  void snapshot_opened(int result);
  void write_snapshot();
  void snapshot_written(Batch& batch, int64_t result);
  void finish_steps();
  void snapshot_closed(int result);
  void snapshot_renamed(int result);
  void snapshot_dir_opened(int result);
  void snapshot_dir_synced(int result);
  void snapshot_dir_closed(int result);
  void remove_replaced(int result);
  void abandon_snapshot(const char* why, int error);  // its steps when the slot is free
  void abandon_steps();
  void abandon_closed(int result);
  void abandon_unlinked(int result);
  void abandoned();
  std::string snapshot_path(uint64_t number, bool done) const;
  void written(Batch& batch, int64_t result);
  void fail_at_once(Batch& batch, int error);
  void start(uint64_t now_ms);

  ShardLogOptions _options;
  io::Ring& _ring;
  DurableLogListener& _listener;
  int _fd = -1;
  uint64_t _segment_number = 0;
  uint64_t _end = 0;          // where the next batch is written in the segment
  Batch _batches[2];
  int _fill = 0;              // the batch appends go to (never the one in flight)
  Batch* _in_flight = nullptr;
  uint64_t _next_ticket = 1;
  uint64_t _written_through = 0;
  uint64_t _unsynced_since_ms = 0;  // interval policy: when unsynced bytes first went out
  bool _unsynced = false;
  bool _broken = false;             // a write failed: the next batch needs a new segment
  uint64_t _retry_at_ms = 0;        // no new segment attempt before then
  int _open_errno = 0;              // why the last new segment could not be made
  uint64_t _now_for_next = 0;  // the clock of the last flush (a batch started from a completion)
  uint64_t _bytes_written = 0;
  uint64_t _failures = 0;
  Snapshot _snap;
  JobStep _job;
  HeaderStep _header;
  Rotation _rot;
  std::vector<uint64_t> _segments;   // on disk, ascending (the current one last)
  std::vector<uint64_t> _snapshot_files;  // `.snap` files on disk, ascending
  std::vector<std::string> _replaced;     // a finished snapshot's to remove, in order
  uint64_t _bytes_since_snapshot = 0;  // in segments since the last snapshot
  uint64_t _last_snapshot_bytes = 0;
  uint64_t _snapshots = 0;
};

// Makes each shard's ShardLog in state_dir/shard-N, logging what open() repaired.
class ShardLogFactory final : public DurableLogFactory {
 public:
  ShardLogFactory(std::string state_dir, FsyncPolicy fsync, uint32_t fsync_interval_ms,
                  uint64_t compact_bytes)
      : _state_dir(std::move(state_dir)),
        _fsync(fsync),
        _interval_ms(fsync_interval_ms),
        _compact_bytes(compact_bytes) {}
  std::unique_ptr<DurableLog> open(uint16_t shard, io::Ring& ring, DurableLogListener& listener,
                                   const Replay& replay, std::string& error) const override;

 private:
  std::string _state_dir;
  FsyncPolicy _fsync;
  uint32_t _interval_ms;
  uint64_t _compact_bytes;
};

}  // namespace peregrine::store
