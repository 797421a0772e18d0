// Process signals. Blocked in every thread before the shards start (so none of them is
// interrupted) and taken synchronously by the main thread with sigwait().
#pragma once

namespace peregrine::daemon {

// Blocks SIGINT, SIGTERM, SIGHUP and ignores SIGPIPE; call before starting threads.
void block_signals();

// Waits for SIGINT or SIGTERM and returns it. SIGHUP is logged and waited past.
int wait_for_shutdown_signal();

}  // namespace peregrine::daemon
