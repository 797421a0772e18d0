// Process signals. Blocked in every thread before the shards start (so none of them is
// interrupted) and taken synchronously by the main thread with sigwait().
#pragma once

#include <cstdint>
#include <functional>

namespace peregrine::daemon {

// Blocks SIGINT, SIGTERM, SIGHUP and ignores SIGPIPE; call before starting threads.
void block_signals();

// Waits for SIGINT or SIGTERM and returns it. SIGHUP runs `on_reload` (on the calling
// thread) and is waited past. With `on_tick`, it runs every time it returns a non-zero
// number of milliseconds, after that long without a signal (0: no more ticks).
int wait_for_shutdown_signal(const std::function<void()>& on_reload = {},
                             const std::function<uint64_t()>& on_tick = {},
                             uint64_t first_tick_ms = 0);

}  // namespace peregrine::daemon
