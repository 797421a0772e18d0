// The simulated disk under the shards' logs: real files (in a directory of the run's
// own), written when a SimRing's "kernel" takes the write, and a model of what a crash
// leaves of them. The page cache survives a process crash (kill -9): every write the
// kernel took stays, and only writes still waiting in a ring are lost. A power failure
// keeps of each file what its last sync covered, plus a random prefix of what was written
// after it (a torn tail). A file's size when the disk first sees it counts as synced (a
// file the log made before the run, or through a call this model does not see).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "src/io/ring.h"
#include "tests/sim/sim_random.h"

namespace peregrine::sim {

class SimDisk {
 public:
  // Writes (and syncs, when asked) as the kernel would: the write's result.
  int64_t execute(const io::FileWrite& write);
  // Makes the call as the kernel would: its result (a sync makes what the file has
  // written survive a power failure).
  int execute(const io::FileJob& job);
  // Power fails: every file keeps its synced bytes and a random prefix of the rest.
  // Returns the bytes lost over all files.
  uint64_t power_failure(SimRandom& random);
  // While full, every write fails with ENOSPC (none of it reaches the file).
  void set_full(bool full) { _full = full; }
  bool full() const { return _full; }

 private:
  struct FileState {
    uint64_t synced = 0;   // bytes a power failure keeps
    uint64_t written = 0;  // bytes in the page cache
  };
  std::map<std::string, FileState> _files;  // by path: an ordered walk replays
  bool _full = false;
};

}  // namespace peregrine::sim
