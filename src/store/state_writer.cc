#include "src/store/state_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "src/base/assert.h"

namespace peregrine::store {

namespace {

std::string errno_text(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

std::string parent_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

bool StateWriter::write_atomically(const std::string& path, const std::string& contents,
                                   std::string* error) {
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = errno_text("cannot create", temporary);
    return false;
  }
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      *error = errno_text("cannot write", temporary);
      ::close(fd);
      ::unlink(temporary.c_str());
      return false;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    *error = errno_text("cannot sync", temporary);
    ::close(fd);
    ::unlink(temporary.c_str());
    return false;
  }
  ::close(fd);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    *error = errno_text("cannot rename over", path);
    ::unlink(temporary.c_str());
    return false;
  }
  // The rename itself survives a crash once its directory is synced.
  const int dir = ::open(parent_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

StateWriter::StateWriter() : _thread([this] { run(); }) {}

StateWriter::~StateWriter() {
  stop();
  Job* job = nullptr;
  while (_jobs.try_pop(job)) {
    delete job;
  }
  while (_done.try_pop(job)) {
    delete job;
  }
}

void StateWriter::stop() {
  if (!_thread.joinable()) {
    return;
  }
  _stop.store(true, std::memory_order_release);
  _signal.fetch_add(1, std::memory_order_release);
  _signal.notify_one();
  _thread.join();
}

void StateWriter::set_wake(std::function<void()> wake) {
  _wake = std::move(wake);
  _has_wake.store(true, std::memory_order_release);
}

bool StateWriter::submit(uint64_t ticket, std::string path, std::string contents) {
  if (_outstanding >= kMaxJobs) {
    return false;
  }
  auto* job = new Job{ticket, std::move(path), std::move(contents)};
  PG_ASSERT(_jobs.try_push(job));  // room: at most kMaxJobs of twice that are out
  _jobs.publish();
  _outstanding++;
  _signal.fetch_add(1, std::memory_order_release);
  _signal.notify_one();
  return true;
}

bool StateWriter::poll(uint64_t* ticket, bool* ok, std::string* error) {
  Job* job = nullptr;
  if (!_done.try_pop(job)) {
    return false;
  }
  _outstanding--;
  *ticket = job->ticket;
  *ok = job->ok;
  *error = std::move(job->error);
  delete job;
  return true;
}

void StateWriter::run() {
  while (true) {
    const uint32_t seen = _signal.load(std::memory_order_acquire);
    Job* job = nullptr;
    while (_jobs.try_pop(job)) {
      job->ok = write_atomically(job->path, job->contents, &job->error);
      PG_ASSERT(_done.try_push(job));
      _done.publish();
      if (_has_wake.load(std::memory_order_acquire)) {
        _wake();
      }
    }
    if (_stop.load(std::memory_order_acquire)) {
      return;
    }
    _signal.wait(seen, std::memory_order_acquire);
  }
}

}  // namespace peregrine::store
