#include "tests/sim/sim_disk.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace peregrine::sim {

namespace {

std::string path_of(int fd) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[4096];
  const ssize_t n = ::readlink(link, target, sizeof target - 1);
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : std::string();
}

}  // namespace

int64_t SimDisk::execute(const io::FileWrite& write) {
  if (_full) {
    return -ENOSPC;
  }
  size_t expected = 0;
  for (int i = 0; i < write.iovcnt; i++) {
    expected += write.iov[i].iov_len;
  }
  const std::string path = path_of(write.fd);
  auto it = _files.find(path);
  if (it == _files.end()) {
    struct stat st {};
    const uint64_t size = ::fstat(write.fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    it = _files.emplace(path, FileState{size, size}).first;
  }
  const ssize_t n = ::pwritev(write.fd, write.iov, write.iovcnt, static_cast<off_t>(write.offset));
  int64_t result = n < 0 ? -errno : static_cast<size_t>(n) != expected ? -ENOSPC : n;
  if (n > 0) {
    it->second.written = std::max<uint64_t>(it->second.written, write.offset + static_cast<uint64_t>(n));
  }
  if (result >= 0 && write.sync) {
    if (::fdatasync(write.fd) != 0) {
      result = -errno;
    } else {
      it->second.synced = it->second.written;
    }
  }
  return result;
}

int SimDisk::execute(const io::FileJob& job) {
  const int result = job.run_blocking();
  if (job.op == io::FileJob::Op::kFsync && result == 0) {
    const auto it = _files.find(path_of(job.fd));
    if (it != _files.end()) {
      it->second.synced = it->second.written;
    }
  }
  return result;
}

uint64_t SimDisk::power_failure(SimRandom& random) {
  uint64_t lost = 0;
  for (const auto& [path, file] : _files) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      continue;  // deleted since (a segment a snapshot replaced)
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    uint64_t keep = file.synced;
    if (file.written > file.synced) {
      keep += random.below(file.written - file.synced + 1);  // torn: some of the tail made it
    }
    if (keep < size) {
      lost += size - keep;
      if (::truncate(path.c_str(), static_cast<off_t>(keep)) != 0) {
        continue;
      }
    }
  }
  _files.clear();
  return lost;
}

}  // namespace peregrine::sim
