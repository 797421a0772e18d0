// For tests: a full disk, stood in for by RLIMIT_FSIZE on this process while the object
// lives (the signal a write past it would raise is ignored, so the write fails with EFBIG
// or comes up short instead). Restores both on destruction.
#pragma once

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>

namespace peregrine::testing {

class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGXFSZ, &ignore, &_saved_signal);
    ::getrlimit(RLIMIT_FSIZE, &_saved);
    rlimit small = _saved;
    small.rlim_cur = bytes;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  }
  ~FileSizeLimit() { lift(); }
  // Space returns.
  void lift() {
    if (!_lifted) {
      ::setrlimit(RLIMIT_FSIZE, &_saved);
      ::sigaction(SIGXFSZ, &_saved_signal, nullptr);
      _lifted = true;
    }
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  struct sigaction _saved_signal {};
  rlimit _saved{};
  bool _lifted = false;
};

}  // namespace peregrine::testing
