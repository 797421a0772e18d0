// Process signals. Blocked in every thread before the shards start (so none of them is
// interrupted) and taken synchronously by the main thread with sigwait().
#pragma once

#include <functional>

namespace peregrine::daemon {

// Blocks SIGINT, SIGTERM, SIGHUP and ignores SIGPIPE; call before starting threads.
void block_signals();

// Waits for SIGINT or SIGTERM and returns it. SIGHUP runs `on_reload` (on the calling
// thread) and is waited past.
int wait_for_shutdown_signal(const std::function<void()>& on_reload = {});

}  // namespace peregrine::daemon
