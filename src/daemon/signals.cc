#include "src/daemon/signals.h"

#include <pthread.h>
#include <signal.h>

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

int wait_for_shutdown_signal(const std::function<void()>& on_reload) {
  sigset_t set = handled_set();
  while (true) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) {
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
