#include "src/daemon/signals.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <cerrno>

#include "src/base/log.h"

namespace peregrine::daemon {

namespace {
sigset_t handled_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}
}  // namespace

void block_signals() {
  signal(SIGPIPE, SIG_IGN);
  // A file-size limit (ulimit -f) makes a log write fail with EFBIG, handled as a full
  // disk, instead of killing the broker.
  signal(SIGXFSZ, SIG_IGN);
  sigset_t set = handled_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int wait_for_shutdown_signal(const std::function<void()>& on_reload,
                             const std::function<uint64_t()>& on_tick, uint64_t first_tick_ms) {
  sigset_t set = handled_set();
  uint64_t tick_ms = on_tick ? first_tick_ms : 0;
  while (true) {
    int sig = 0;
    if (tick_ms != 0) {
      const timespec wait{static_cast<time_t>(tick_ms / 1000),
                          static_cast<long>(tick_ms % 1000) * 1'000'000};
      sig = sigtimedwait(&set, nullptr, &wait);
      if (sig < 0) {
        if (errno == EAGAIN) {
          tick_ms = on_tick();
        }
        continue;
      }
    } else if (sigwait(&set, &sig) != 0) {
      continue;
    }
    if (sig == SIGHUP) {
      if (on_reload) {
        on_reload();
      } else {
        PG_INFO("SIGHUP: nothing to reload");
      }
      continue;
    }
    return sig;
  }
}

}  // namespace peregrine::daemon
