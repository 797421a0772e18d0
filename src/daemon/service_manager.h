// The service manager's side of the process (systemd's notify protocol, through
// libsystemd's sd_notify): READY=1 once every shard listens with its state recovered,
// STATUS= lines, RELOADING=1 / READY=1 around a reload, STOPPING=1, and the watchdog:
// WATCHDOG=1 only while every shard is turning.
//
// Shards prove they turn through shard::ShardPulse: each shard bumps its beat at most
// once every beat_ms, waking for it when idle; the main thread reads them. A shard stuck
// in one turn stops its beat, the watchdog goes unfed, and systemd restarts the service
// (WatchdogSec=).
//
// Owned by main, on the main thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "src/shard/shard_pulse.h"

namespace peregrine::daemon {

class ServiceManager {
 public:
  // Reads NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID from the environment.
  ServiceManager();

  // Under a service manager that listens (NOTIFY_SOCKET set).
  bool notifying() const { return _notifying; }
  // The watchdog interval systemd asked for (0: none).
  uint64_t watchdog_usec() const { return _watchdog_usec; }
  // How often main should look at the shards: half the watchdog interval, as sd_notify(3)
  // advises (0: never needed).
  uint64_t check_interval_ms() const { return _watchdog_usec / 2000; }

  void ready(const std::string& status);
  void status(const std::string& status);
  void reloading();                          // with MONOTONIC_USEC
  void reloaded(const std::string& status);  // READY=1 again
  void stopping(const std::string& status);

  // Feeds the watchdog if every one of `shards` beat since the last call (true), else
  // leaves it unfed and logs which shard is stuck, once per stall.
  bool check_and_feed(const shard::ShardPulse& pulse, uint16_t shards, uint64_t now_ms);
  // WATCHDOG=1 without looking (while starting).
  void feed() { notify("WATCHDOG=1"); }

 private:
  void notify(const std::string& state);

  bool _notifying = false;
  uint64_t _watchdog_usec = 0;
  std::vector<uint64_t> _last_beats;   // per shard, as last seen
  std::vector<uint64_t> _last_moved_ms;  // per shard, when its beat last moved
  bool _stalled = false;                 // a stall is being reported
};

}  // namespace peregrine::daemon
