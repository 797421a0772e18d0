#include "src/daemon/open_files.h"

#include <sys/resource.h>

#include <cstdio>

namespace peregrine::daemon {

namespace {

// The kernel's ceiling for RLIMIT_NOFILE (an unlimited hard limit cannot be the soft one).
rlim_t nr_open() {
  unsigned long long value = 1u << 20;  // the kernel's default
  if (FILE* f = std::fopen("/proc/sys/fs/nr_open", "r")) {
    if (std::fscanf(f, "%llu", &value) != 1) {
      value = 1u << 20;
    }
    std::fclose(f);
  }
  return static_cast<rlim_t>(value);
}

}  // namespace

OpenFilesLimit raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return {};
  }
  OpenFilesLimit out{limit.rlim_cur, limit.rlim_cur};
  const rlim_t target = limit.rlim_max == RLIM_INFINITY ? nr_open() : limit.rlim_max;
  if (limit.rlim_cur < target) {
    limit.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
      out.now = target;
    }
  }
  return out;
}

}  // namespace peregrine::daemon
