#include "src/daemon/service_manager.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdlib>

#include "src/base/log.h"

namespace peregrine::daemon {

ServiceManager::ServiceManager() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  _notifying = socket != nullptr && socket[0] != '\0';
  uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is this process.
  if (sd_watchdog_enabled(0, &usec) > 0) {
    _watchdog_usec = usec;
  }
}

void ServiceManager::notify(const std::string& state) {
  if (!_notifying) {
    return;
  }
  const int rc = sd_notify(0, state.c_str());
  if (rc < 0) {
    PG_WARN("service manager: notify failed: %d", rc);
  }
}

void ServiceManager::ready(const std::string& status) {
  notify("READY=1\nSTATUS=" + status);
}

void ServiceManager::status(const std::string& status) { notify("STATUS=" + status); }

void ServiceManager::reloading() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const uint64_t usec =
      static_cast<uint64_t>(now.tv_sec) * 1'000'000 + static_cast<uint64_t>(now.tv_nsec) / 1000;
  notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading");
}

void ServiceManager::reloaded(const std::string& status) { notify("READY=1\nSTATUS=" + status); }

void ServiceManager::stopping(const std::string& status) {
  notify("STOPPING=1\nSTATUS=" + status);
}

bool ServiceManager::check_and_feed(const shard::ShardPulse& pulse, uint16_t shards, uint64_t now_ms) {
  if (_last_beats.size() != shards) {
    _last_beats.assign(shards, 0);
    _last_moved_ms.assign(shards, now_ms);
  }
  bool all_moved = true;
  for (uint16_t i = 0; i < shards; ++i) {
    const uint64_t beat = pulse.beats[i].count.load(std::memory_order_relaxed);
    if (beat != _last_beats[i]) {
      _last_beats[i] = beat;
      _last_moved_ms[i] = now_ms;
      continue;
    }
    all_moved = false;
    if (!_stalled) {
      _stalled = true;
      PG_ERROR("shard %u has not turned for %llu ms: the watchdog is no longer fed", i,
               static_cast<unsigned long long>(now_ms - _last_moved_ms[i]));
    }
  }
  if (!all_moved) {
    return false;
  }
  if (_stalled) {
    _stalled = false;
    PG_WARN("every shard turns again: the watchdog is fed");
  }
  notify("WATCHDOG=1");
  return true;
}

}  // namespace peregrine::daemon
