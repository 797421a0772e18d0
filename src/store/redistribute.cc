#include "src/store/redistribute.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "src/store/log_format.h"
#include "src/store/shard_layout.h"
#include "src/store/shard_log.h"
#include "src/store/state_writer.h"

namespace peregrine::store {

namespace {

namespace fs = std::filesystem;

constexpr size_t kFlushBytes = 1 << 20;

std::string shard_dir(const std::string& root, uint16_t shard) {
  return root + "/shard-" + std::to_string(shard);
}

void sync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// One new shard's segment being written.
struct Output {
  int fd = -1;
  std::string path;
  std::string pending;
  ~Output() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
  bool flush(std::string& error) {
    std::string_view rest = pending;
    while (!rest.empty()) {
      const ssize_t n = ::write(fd, rest.data(), rest.size());
      if (n <= 0) {
        error = path + ": " + std::strerror(n < 0 ? errno : ENOSPC);
        return false;
      }
      rest.remove_prefix(static_cast<size_t>(n));
    }
    pending.clear();
    return true;
  }
};

// With the work marked done: old shard directories out, new ones in, the count recorded.
// Every step may be repeated after a crash.
bool swap_in(const std::string& state_dir, uint16_t to, std::string& error) {
  const std::string work = state_dir + "/redistribute";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(state_dir, ec)) {
    const std::string name = entry.path().filename();
    if (name.starts_with("shard-") &&
        std::strtoul(name.c_str() + 6, nullptr, 10) >= to) {
      fs::remove_all(entry.path(), ec);
    }
  }
  for (uint16_t k = 0; k < to; k++) {
    const std::string from = shard_dir(work, k);
    if (!fs::exists(from)) {
      continue;  // moved before the crash
    }
    fs::remove_all(shard_dir(state_dir, k), ec);
    if (::rename(from.c_str(), shard_dir(state_dir, k).c_str()) != 0) {
      error = from + ": " + std::strerror(errno);
      return false;
    }
  }
  sync_path(state_dir);
  if (!record_shard_count(state_dir, to, error)) {
    return false;
  }
  fs::remove_all(work, ec);
  sync_path(state_dir);
  return true;
}

uint64_t mask_of(uint16_t shards) { return shards >= 64 ? ~uint64_t{0} : (uint64_t{1} << shards) - 1; }

}  // namespace

bool redistribute(const std::string& state_dir, uint16_t from, uint16_t to,
                  const RecordOwner& owner, Redistribution& report, std::string& error) {
  const std::string work = state_dir + "/redistribute";
  std::error_code ec;
  fs::remove_all(work, ec);
  if (::mkdir(work.c_str(), 0700) != 0) {
    error = work + ": " + std::strerror(errno);
    return false;
  }
  std::vector<std::unique_ptr<Output>> outputs;
  for (uint16_t k = 0; k < to; k++) {
    const std::string dir = shard_dir(work, k);
    if (::mkdir(dir.c_str(), 0700) != 0) {
      error = dir + ": " + std::strerror(errno);
      return false;
    }
    auto out = std::make_unique<Output>();
    out->path = dir + "/0000000000000001.log";
    out->fd = ::open(out->path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out->fd < 0) {
      error = out->path + ": " + std::strerror(errno);
      return false;
    }
    out->pending = segment_header(k);
    outputs.push_back(std::move(out));
  }
  for (uint16_t s = 0; s < from; s++) {
    const std::string dir = shard_dir(state_dir, s);
    if (!fs::exists(dir)) {
      continue;
    }
    LogRecovery recovery;
    std::string stop;
    const bool read = read_shard_log(
        dir, s,
        [&](uint8_t type, std::span<const uint8_t> body) {
          if (!stop.empty()) {
            return;
          }
          const std::optional<uint64_t> targets = owner(type, body, stop);
          if (!targets || (*targets & mask_of(to)) == 0) {
            report.dropped += stop.empty() ? 1 : 0;
            return;
          }
          report.records++;
          for (uint16_t k = 0; k < to; k++) {
            if ((*targets >> k & 1) == 0) {
              continue;
            }
            Output& out = *outputs[k];
            append_record(out.pending, type, body);
            if (out.pending.size() >= kFlushBytes && !out.flush(stop)) {
              return;
            }
          }
        },
        recovery, error);
    if (!read) {
      return false;
    }
    if (!stop.empty()) {
      error = dir + ": " + stop;
      return false;
    }
  }
  for (auto& out : outputs) {
    if (!out->flush(error) || ::fsync(out->fd) != 0) {
      if (error.empty()) {
        error = out->path + ": " + std::strerror(errno);
      }
      return false;
    }
  }
  for (uint16_t k = 0; k < to; k++) {
    sync_path(shard_dir(work, k));
  }
  // Done: from here the new logs are the truth, whatever happens next.
  if (!StateWriter::write_atomically(work + "/done", std::to_string(to) + "\n", &error)) {
    return false;
  }
  sync_path(work);
  return swap_in(state_dir, to, error);
}

bool finish_interrupted_redistribution(const std::string& state_dir, std::string& error) {
  const std::string work = state_dir + "/redistribute";
  if (!fs::exists(work)) {
    return true;
  }
  std::ifstream done(work + "/done");
  unsigned to = 0;
  if (done >> to && to >= 1 && to <= 65535) {
    return swap_in(state_dir, static_cast<uint16_t>(to), error);
  }
  std::error_code ec;
  fs::remove_all(work, ec);  // not complete: the old logs are intact
  return true;
}

}  // namespace peregrine::store
