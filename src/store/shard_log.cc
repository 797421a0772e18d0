#include "src/store/shard_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/store/log_format.h"

namespace peregrine::store {

namespace {

std::string segment_name(uint64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "%016" PRIu64 ".log", number);
  return name;
}

// The numbers in `dir`'s names of the form PREFIX + 16 digits + SUFFIX, in order.
std::vector<uint64_t> numbered(const std::string& dir, std::string_view prefix,
                               std::string_view suffix) {
  std::vector<uint64_t> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return out;
  }
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name.size() != prefix.size() + 16 + suffix.size() || !name.starts_with(prefix) ||
        !name.ends_with(suffix)) {
      continue;
    }
    const std::string_view digits = name.substr(prefix.size(), 16);
    if (std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      out.push_back(std::strtoull(std::string(digits).c_str(), nullptr, 10));
    }
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// Segments ("0000000000000001.log").
std::vector<uint64_t> segment_numbers(const std::string& dir) { return numbered(dir, "", ".log"); }

// Snapshots ("snapshot-0000000000000007.snap"); `.tmp` ones (a snapshot a crash
// interrupted) are deleted.
std::vector<uint64_t> snapshot_numbers(const std::string& dir) {
  for (const uint64_t n : numbered(dir, "snapshot-", ".tmp")) {
    char name[40];
    std::snprintf(name, sizeof name, "/snapshot-%016" PRIu64 ".tmp", n);
    ::unlink((dir + name).c_str());
  }
  return numbered(dir, "snapshot-", ".snap");
}

bool read_whole(const std::string& path, std::string& out, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  out.clear();
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      error = path + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) {
      break;
    }
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

bool write_new_file(const std::string& path, std::string_view bytes, std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  bool ok = true;
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n <= 0) {
      ok = false;
      break;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  ok = ok && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    error = path + ": " + std::strerror(errno);
  }
  return ok;
}

}  // namespace

ShardLog::ShardLog(ShardLogOptions options, io::Ring& ring, DurableLogListener& listener)
    : _options(std::move(options)), _ring(ring), _listener(listener) {
  for (Batch& b : _batches) {
    b.log = this;
  }
  for (Batch* b : {&_snap.batch, &_snap.in_flight}) {
    b->log = this;
    b->snapshot = true;
  }
  _job.log = this;
  _header.log = this;
}

ShardLog::~ShardLog() {
  // A write or job still in flight names a member of ours: the shard drains its log
  // before it goes (ShardBroker waits for busy() to clear); asserted here. What is left
  // is closed here, blocking: the shard has stopped.
  PG_ASSERT(_in_flight == nullptr && !_snap.writing && !_job.busy && !_header.busy);
  if (_snap.fd >= 0) {
    ::close(_snap.fd);
  }
  if (_snap.running && !_snap.finishing) {
    ::unlink(snapshot_path(_snap.number, false).c_str());  // never finished: not kept
  }
  for (const int fd : {_fd, _rot.fd, _rot.dir_fd}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

void ShardLog::run(io::FileJob& job, Then then) {
  PG_ASSERT(!_job.busy && !_header.busy);
  PG_ASSERT(&job == &_job);
  _job.then = then;
  _job.busy = true;
  _ring.run_file_job(&_job);
}

void ShardLog::write_header(int fd, std::string bytes, Then then) {
  PG_ASSERT(!_job.busy && !_header.busy);
  _header.bytes = std::move(bytes);
  _header.vec = {_header.bytes.data(), _header.bytes.size()};
  _header.fd = fd;
  _header.iov = &_header.vec;
  _header.iovcnt = 1;
  _header.offset = 0;
  _header.sync = true;
  _header.then = then;
  _header.busy = true;
  _ring.write_file(&_header);
}

namespace {

SegmentScan replay_file(const std::string& bytes, uint16_t shard,
                        const DurableLogFactory::Replay& replay) {
  return scan_segment(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
                      shard, [&](uint8_t type, std::span<const uint8_t> body) {
                        replay(type, body);
                        return true;
                      });
}

std::string snapshot_file(const std::string& dir, uint64_t number, bool done) {
  char name[40];
  std::snprintf(name, sizeof name, "/snapshot-%016" PRIu64 "%s", number, done ? ".snap" : ".tmp");
  return dir + name;
}

}  // namespace

bool ShardLog::open(const Replay& replay, LogRecovery& recovery, std::string& error) {
  if (::mkdir(_options.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    error = _options.dir + ": " + std::strerror(errno);
    return false;
  }
  if (!read_shard_log(_options.dir, _options.shard, replay, recovery, error)) {
    return false;
  }
  _last_snapshot_bytes = recovery.last_snapshot_bytes;
  _bytes_since_snapshot = recovery.bytes_since_snapshot;
  _segment_number = recovery.last_number;
  // What compaction will remove, known from here on without listing the directory.
  _segments = segment_numbers(_options.dir);
  _snapshot_files = snapshot_numbers(_options.dir);
  _end = 0;  // the last old segment is complete as it is: nothing of it to cut
  _broken = true;  // no segment of this run yet: the first batch waits for it
  begin_rotation(false);
  return true;
}

bool read_shard_log(const std::string& dir, uint16_t shard,
                    const DurableLogFactory::Replay& replay, LogRecovery& recovery,
                    std::string& error) {
  // The newest snapshot, then the segments from its number on; what it replaced (a crash
  // came between its rename and their deletion) and older snapshots go now.
  const std::vector<uint64_t> snapshots = snapshot_numbers(dir);
  std::vector<uint64_t> numbers = segment_numbers(dir);
  if (!snapshots.empty()) {
    const uint64_t newest = snapshots.back();
    for (size_t i = 0; i + 1 < snapshots.size(); i++) {
      ::unlink(snapshot_file(dir, snapshots[i], true).c_str());
    }
    std::string snap;
    const std::string path = snapshot_file(dir, newest, true);
    if (!read_whole(path, snap, error)) {
      return false;
    }
    const SegmentScan scan = replay_file(snap, shard, replay);
    recovery.records += scan.records;
    recovery.snapshot_records = scan.records;
    if (scan.end != SegmentScan::End::kClean) {
      // Synced before its rename, so this is damage after the fact: what it holds up to
      // the damage is all there is.
      recovery.damaged++;
      recovery.notes.push_back(path + ": damaged at " + std::to_string(scan.good_bytes) +
                               (scan.why.empty() ? "" : ": " + scan.why));
    }
    recovery.last_snapshot_bytes = snap.size();
    std::vector<uint64_t> kept;
    for (const uint64_t number : numbers) {
      if (number < newest) {
        ::unlink((dir + "/" + segment_name(number)).c_str());
      } else {
        kept.push_back(number);
      }
    }
    numbers.swap(kept);
  }
  std::vector<std::string> paths;
  for (const uint64_t number : numbers) {
    paths.push_back(dir + "/" + segment_name(number));
  }
  // Each header after the first says how much of the one before is valid.
  std::string next;
  std::string bytes;
  if (!paths.empty() && !read_whole(paths[0], next, error)) {
    return false;
  }
  for (size_t i = 0; i < paths.size(); i++) {
    const std::string& path = paths[i];
    bytes.swap(next);
    next.clear();
    if (i + 1 < paths.size() && !read_whole(paths[i + 1], next, error)) {
      return false;
    }
    std::string why;
    const auto next_bytes = std::span(reinterpret_cast<const uint8_t*>(next.data()), next.size());
    if (i + 1 < paths.size() && valid_segment_header(next_bytes, shard, why)) {
      const uint64_t valid = previous_valid_length(next_bytes);
      if (valid >= kSegmentHeaderBytes && valid < bytes.size()) {
        recovery.notes.push_back(path + ": " + std::to_string(bytes.size() - valid) +
                                 " bytes of a failed write after " + std::to_string(valid) +
                                 " dropped");
        bytes.resize(valid);
        if (::truncate(path.c_str(), static_cast<off_t>(valid)) != 0) {
          error = path + ": " + std::strerror(errno);
          return false;
        }
      }
    }
    recovery.segments++;
    recovery.bytes_since_snapshot += bytes.size();
    const SegmentScan scan = replay_file(bytes, shard, replay);
    recovery.records += scan.records;
    if (scan.records == 0 && scan.end == SegmentScan::End::kClean) {
      // Nothing in it (a start with no writes after): its header's statement about the
      // segment before was applied above, so it is not needed any more.
      ::unlink(path.c_str());
      recovery.segments--;
      continue;
    }
    switch (scan.end) {
      case SegmentScan::End::kClean:
        break;
      case SegmentScan::End::kTorn:
        recovery.torn++;
        recovery.notes.push_back(path + ": torn tail of " +
                                 std::to_string(bytes.size() - scan.good_bytes) +
                                 " bytes cut at " + std::to_string(scan.good_bytes));
        if (::truncate(path.c_str(), static_cast<off_t>(scan.good_bytes)) != 0) {
          error = path + ": " + std::strerror(errno);
          return false;
        }
        break;
      case SegmentScan::End::kCorrupt:
      case SegmentScan::End::kBadHeader: {
        // Kept for whoever investigates, out of the log's way.
        recovery.damaged++;
        const std::string aside = path + ".damaged";
        recovery.notes.push_back(path + ": " + scan.why + "; the " +
                                 std::to_string(bytes.size() - scan.good_bytes) +
                                 " bytes from " + std::to_string(scan.good_bytes) +
                                 " moved to " + aside);
        if (!write_new_file(aside, std::string_view(bytes).substr(scan.good_bytes), error) ||
            ::truncate(path.c_str(), static_cast<off_t>(scan.good_bytes)) != 0) {
          if (error.empty()) {
            error = path + ": " + std::strerror(errno);
          }
          return false;
        }
        break;
      }
    }
  }
  recovery.last_number =
      numbers.empty() ? (snapshots.empty() ? 0 : snapshots.back()) : numbers.back();
  return true;
}

// ---- making a segment -------------------------------------------------------------

void ShardLog::begin_rotation(bool for_snapshot) {
  PG_ASSERT(!_rot.active && _in_flight == nullptr);
  _rot = {};
  _rot.active = true;
  _rot.for_snapshot = for_snapshot;
  _rot.number = _segment_number + 1;
  _rot.path = _options.dir + "/" + segment_name(_rot.number);
  run(_job.open(_rot.path, O_WRONLY | O_CREAT | O_TRUNC, 0600), &ShardLog::segment_opened);
}

void ShardLog::segment_opened(int result) {
  if (result < 0) {
    return segment_made(-result);
  }
  _rot.fd = result;
  // Its header says how much of the current segment is valid; synced with it.
  write_header(_rot.fd, segment_header(_options.shard, _end),
               &ShardLog::segment_header_written);
}

void ShardLog::segment_header_written(int result) {
  if (result < 0) {
    // No half-made segment for a reader to trip on: closed and removed first.
    _rot.error = -result;
    return run(_job.close(_rot.fd), &ShardLog::segment_discarded);
  }
  // The new name must survive a crash too.
  run(_job.open(_options.dir, O_RDONLY | O_DIRECTORY, 0), &ShardLog::segment_dir_opened);
}

void ShardLog::segment_dir_opened(int result) {
  if (result < 0) {
    return segment_dir_closed(0);  // as before: the segment stands, its name unsynced
  }
  _rot.dir_fd = result;
  run(_job.fsync(_rot.dir_fd), &ShardLog::segment_dir_synced);
}

void ShardLog::segment_dir_synced(int) {
  run(_job.close(_rot.dir_fd), &ShardLog::segment_dir_closed);
}

void ShardLog::segment_dir_closed(int) {
  _rot.dir_fd = -1;
  const int old = _fd;
  _fd = _rot.fd;
  _rot.fd = -1;
  _segment_number = _rot.number;
  _segments.push_back(_rot.number);
  _end = _header.bytes.size();
  if (old >= 0) {
    return run(_job.close(old), &ShardLog::segment_old_closed);
  }
  segment_made(0);
}

void ShardLog::segment_old_closed(int) { segment_made(0); }

void ShardLog::segment_discarded(int) {
  _rot.fd = -1;
  run(_job.unlink(_rot.path), &ShardLog::segment_unlinked);
}

void ShardLog::segment_unlinked(int) { segment_made(_rot.error); }

void ShardLog::segment_made(int error) {
  const bool for_snapshot = _rot.for_snapshot;
  _rot.active = false;
  if (error == 0) {
    _broken = false;
    _unsynced = false;  // the new file is synced; the old one's data stands
    _open_errno = 0;
  } else {
    PG_DEBUG("log %s: no new segment: %s", _options.dir.c_str(), std::strerror(error));
    _open_errno = error;
    _broken = true;
    _retry_at_ms = _now_for_next + kRetryMs;
  }
  if (for_snapshot) {
    if (error != 0) {
      abandon_snapshot("no new segment", error);
    } else {
      _snap.number = _segment_number;
      run(_job.open(snapshot_path(_snap.number, false), O_WRONLY | O_CREAT | O_TRUNC, 0600),
          &ShardLog::snapshot_opened);
      return;  // batches go once the snapshot's file is open (the one job at a time)
    }
  }
}

void ShardLog::next_step() {
  if (steps_busy()) {
    return;
  }
  if (_snap.finish_due) {
    _snap.finish_due = false;
    return finish_steps();
  }
  if (_snap.abandon_due) {
    _snap.abandon_due = false;
    return abandon_steps();
  }
  if (_in_flight != nullptr || _rot.active) {
    return;
  }
  if (snapshot_rotation_due()) {
    return begin_rotation(true);  // everything before the new segment is applied now
  }
  if (!_batches[_fill].bytes.empty()) {
    start(_now_for_next);  // written now, or refused at once
  }
}

uint64_t ShardLog::append(uint8_t type, std::span<const uint8_t> body) {
  Batch& batch = _batches[_fill];
  if (batch.bytes.empty()) {
    batch.ticket = _next_ticket++;
  }
  append_record(batch.bytes, type, body);
  return batch.ticket;
}

void ShardLog::flush(uint64_t now_ms) {
  _now_for_next = now_ms;
  write_snapshot();
  if (_in_flight != nullptr) {
    return;  // the filled batch follows when this one completes
  }
  if (snapshot_rotation_due() && !steps_busy()) {
    return begin_rotation(true);
  }
  start(now_ms);
}

uint64_t ShardLog::next_flush_ms() const {
  return _options.fsync == FsyncPolicy::kInterval && _unsynced
             ? _unsynced_since_ms + _options.fsync_interval_ms
             : 0;
}

void ShardLog::start(uint64_t now_ms) {
  PG_ASSERT(_in_flight == nullptr);
  if (_rot.active) {
    return;  // the batch waits for the segment being made
  }
  Batch& batch = _batches[_fill];
  const bool interval_due = _options.fsync == FsyncPolicy::kInterval && _unsynced &&
                            now_ms >= _unsynced_since_ms + _options.fsync_interval_ms;
  if (batch.bytes.empty() && !interval_due) {
    return;
  }
  const bool full = _end >= _options.segment_bytes;
  // A full segment with unsynced data (interval policy) takes one more batch, synced, so
  // nothing is left unsynced in a file this log no longer writes.
  const bool last_in_full = full && !_broken && _unsynced;
  if (!batch.bytes.empty() && (_broken || (full && !last_in_full))) {
    if (now_ms < _retry_at_ms) {
      fail_at_once(batch, _open_errno != 0 ? -_open_errno : -ENOSPC);
      return;
    }
    if (!steps_busy()) {
      begin_rotation(false);
    }  // else a snapshot's step first: its end starts the segment (next_step())
    return;
  }
  if (_fd < 0) {
    return;  // no segment yet, and nothing to write: an interval sync has nothing to sync
  }
  batch.fd = _fd;
  batch.vec = {batch.bytes.data(), batch.bytes.size()};
  batch.iov = &batch.vec;
  batch.iovcnt = batch.bytes.empty() ? 0 : 1;  // a sync alone
  batch.offset = _end;
  batch.sync = _options.fsync == FsyncPolicy::kAlways || interval_due || last_in_full;
  if (batch.sync) {
    _unsynced = false;
  } else if (!batch.bytes.empty() && !_unsynced) {
    _unsynced = true;
    _unsynced_since_ms = now_ms;
  }
  _in_flight = &batch;
  _fill ^= 1;
  _ring.write_file(&batch);
}

void ShardLog::fail_at_once(Batch& batch, int error) {
  // No segment to write into: refused without I/O, as if the write had failed.
  _failures++;
  const uint64_t ticket = batch.ticket;
  batch.bytes.clear();
  _listener.on_log_written(ticket, error);
}

void ShardLog::written(Batch& batch, int64_t result) {
  PG_ASSERT(&batch == _in_flight);
  _in_flight = nullptr;
  const bool had_records = !batch.bytes.empty();
  if (result >= 0) {
    _end += batch.bytes.size();
    _bytes_written += batch.bytes.size();
    _bytes_since_snapshot += batch.bytes.size();
    if (had_records) {
      _written_through = batch.ticket;
    }
  } else {
    _failures++;
    _broken = true;  // whatever reached this segment of it must be ignored: a new one
    _retry_at_ms = 0;
  }
  batch.bytes.clear();
  if (had_records) {
    _listener.on_log_written(batch.ticket, result >= 0 ? 0 : static_cast<int>(result));
  }
  // A snapshot that waited for this write begins its segment; else what was appended
  // meanwhile goes now, not at the next turn's end.
  next_step();
}

// ---- compaction ----------------------------------------------------------------------

std::string ShardLog::snapshot_path(uint64_t number, bool done) const {
  return snapshot_file(_options.dir, number, done);
}

bool ShardLog::wants_snapshot() const {
  return !_snap.running &&
         _bytes_since_snapshot > std::max(_options.compact_min_bytes, 2 * _last_snapshot_bytes);
}

bool ShardLog::begin_snapshot() {
  if (_snap.running || _fd < 0) {
    return false;
  }
  PG_ASSERT(_snap.fd < 0 && _snap.dir_fd < 0 && !_snap.writing);
  _snap.running = true;
  _snap.rotated = _snap.ending = _snap.syncing = _snap.finishing = false;
  _snap.finish_due = _snap.abandon_due = _snap.file_made = _snap.renamed = false;
  _snap.number = 0;
  _snap.end = 0;
  _snap.batch.bytes.clear();
  _snap.abandon_why = nullptr;
  _snap.abandon_error = 0;
  if (_in_flight == nullptr && !steps_busy() && !_rot.active) {
    begin_rotation(true);  // else once the write in flight (or the step) is done
  }
  return true;
}

void ShardLog::snapshot_opened(int result) {
  if (result < 0) {
    return abandon_snapshot("cannot make its file", -result);
  }
  _snap.fd = result;
  _snap.file_made = true;
  _snap.end = 0;
  _snap.batch.bytes = segment_header(_options.shard);  // written with the first records
  _snap.rotated = true;
  _bytes_since_snapshot = 0;
}

void ShardLog::append_snapshot(uint8_t type, std::span<const uint8_t> body) {
  PG_ASSERT(snapshot_ready() && !_snap.ending);
  append_record(_snap.batch.bytes, type, body);
}

void ShardLog::end_snapshot() {
  PG_ASSERT(snapshot_ready());
  _snap.ending = true;
  write_snapshot();
}

void ShardLog::write_snapshot() {
  if (!_snap.running || !_snap.rotated || _snap.writing || _snap.finishing) {
    return;
  }
  Batch& batch = _snap.in_flight;
  if (!_snap.batch.bytes.empty()) {
    batch.bytes.swap(_snap.batch.bytes);
    _snap.batch.bytes.clear();
    batch.sync = false;
  } else if (_snap.ending) {
    batch.bytes.clear();
    batch.sync = true;  // the last write: everything in it reaches the disk first
    _snap.syncing = true;
  } else {
    return;
  }
  batch.fd = _snap.fd;
  batch.vec = {batch.bytes.data(), batch.bytes.size()};
  batch.iov = &batch.vec;
  batch.iovcnt = batch.bytes.empty() ? 0 : 1;
  batch.offset = _snap.end;
  _snap.writing = true;
  _ring.write_file(&batch);
}

void ShardLog::snapshot_written(Batch& batch, int64_t result) {
  PG_ASSERT(&batch == &_snap.in_flight && _snap.writing);
  _snap.writing = false;
  if (result < 0) {
    return abandon_snapshot("a write failed", static_cast<int>(-result));
  }
  if (_snap.syncing) {
    // Synced: closed, renamed into place, the rename synced, what it replaces removed —
    // through the step slot, once it is free.
    _snap.finishing = true;
    _snap.finish_due = true;
    return next_step();
  }
  _snap.end += batch.bytes.size();
  _bytes_written += batch.bytes.size();
  batch.bytes.clear();
  write_snapshot();  // more added meanwhile, or the final sync
}

void ShardLog::finish_steps() {
  run(_job.close(_snap.fd), &ShardLog::snapshot_closed);
}

void ShardLog::snapshot_closed(int) {
  _snap.fd = -1;
  run(_job.rename(snapshot_path(_snap.number, false), snapshot_path(_snap.number, true)),
      &ShardLog::snapshot_renamed);
}

void ShardLog::snapshot_renamed(int result) {
  if (result < 0) {
    return abandon_snapshot("cannot rename it", -result);
  }
  _snap.renamed = true;
  run(_job.open(_options.dir, O_RDONLY | O_DIRECTORY, 0), &ShardLog::snapshot_dir_opened);
}

void ShardLog::snapshot_dir_opened(int result) {
  if (result < 0) {
    return snapshot_dir_closed(0);  // as before: the rename stands, unsynced
  }
  _snap.dir_fd = result;
  run(_job.fsync(_snap.dir_fd), &ShardLog::snapshot_dir_synced);  // durable before
}                                                                  // what it replaces goes

void ShardLog::snapshot_dir_synced(int) {
  run(_job.close(_snap.dir_fd), &ShardLog::snapshot_dir_closed);
}

void ShardLog::snapshot_dir_closed(int) {
  _snap.dir_fd = -1;
  // What it replaces: the segments before its number and the older snapshots.
  _replaced.clear();
  std::erase_if(_segments, [&](uint64_t number) {
    if (number >= _snap.number) {
      return false;
    }
    _replaced.push_back(_options.dir + "/" + segment_name(number));
    return true;
  });
  std::erase_if(_snapshot_files, [&](uint64_t number) {
    if (number >= _snap.number) {
      return false;
    }
    _replaced.push_back(snapshot_path(number, true));
    return true;
  });
  _snapshot_files.push_back(_snap.number);
  remove_replaced(0);
}

void ShardLog::remove_replaced(int) {
  if (!_replaced.empty()) {
    std::string path = std::move(_replaced.back());
    _replaced.pop_back();
    return run(_job.unlink(std::move(path)), &ShardLog::remove_replaced);
  }
  _last_snapshot_bytes = _snap.end;
  _snapshots++;
  _snap.running = false;
  _snap.finishing = false;
  PG_INFO("log %s: snapshot %" PRIu64 " of %" PRIu64 " bytes replaces the segments before it",
          _options.dir.c_str(), _snap.number, _snap.end);
}

void ShardLog::abandon_snapshot(const char* why, int error) {
  _snap.rotated = false;  // nothing more is added to it
  _snap.finishing = true;
  _snap.batch.bytes.clear();
  _snap.abandon_why = why;
  _snap.abandon_error = error;
  _snap.abandon_due = true;
  next_step();
}

void ShardLog::abandon_steps() {
  if (_snap.fd >= 0) {
    return run(_job.close(_snap.fd), &ShardLog::abandon_closed);
  }
  abandon_closed(0);
}

void ShardLog::abandon_closed(int) {
  _snap.fd = -1;
  if (_snap.file_made && !_snap.renamed) {
    return run(_job.unlink(snapshot_path(_snap.number, false)), &ShardLog::abandon_unlinked);
  }
  abandoned();
}

void ShardLog::abandon_unlinked(int) { abandoned(); }

void ShardLog::abandoned() {
  if (_snap.abandon_error != 0) {
    PG_WARN("log %s: snapshot abandoned: %s: %s", _options.dir.c_str(), _snap.abandon_why,
            std::strerror(_snap.abandon_error));
  }
  _snap.running = false;
  _snap.finishing = false;
  _snap.rotated = false;
  _snap.batch.bytes.clear();
}

std::unique_ptr<DurableLog> ShardLogFactory::open(uint16_t shard, io::Ring& ring,
                                                  DurableLogListener& listener,
                                                  const Replay& replay, std::string& error) const {
  ShardLogOptions options;
  options.dir = _state_dir + "/shard-" + std::to_string(shard);
  options.shard = shard;
  options.fsync = _fsync;
  options.fsync_interval_ms = _interval_ms;
  options.compact_min_bytes = _compact_bytes;
  auto log = std::make_unique<ShardLog>(options, ring, listener);
  LogRecovery recovery;
  if (!log->open(replay, recovery, error)) {
    return nullptr;
  }
  for (const std::string& note : recovery.notes) {
    PG_WARN("log repaired: %s", note.c_str());
  }
  PG_INFO("log %s: %zu records replayed from %zu segments%s", options.dir.c_str(),
          recovery.records, recovery.segments,
          recovery.torn + recovery.damaged != 0 ? " (repaired: see above)" : "");
  return log;
}

}  // namespace peregrine::store
