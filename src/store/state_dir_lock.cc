#include "src/store/state_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace peregrine::store {

StateDirLock::~StateDirLock() {
  if (_fd >= 0) {
    ::close(_fd);  // releases the lock
  }
}

bool StateDirLock::acquire(const std::string& state_dir, std::string& error) {
  const std::string path = state_dir + "/lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string("?");
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) {
      holder.pop_back();
    }
    error = state_dir + " is in use by another peregrine (pid " + holder +
            "): one process per state_dir (give this one its own --state-dir)";
    ::close(fd);
    return false;
  }
  const std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
    error = path + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  _fd = fd;
  return true;
}

}  // namespace peregrine::store
