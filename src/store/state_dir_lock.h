// One process per state_dir: an exclusive lock (flock) on state_dir/lock, held for the
// process's life, with the holder's pid written in the file for the message another one
// gets. Two brokers writing one set of logs would corrupt them; the second is refused at
// start. The lock goes with the process, however it ends (kill -9 too).
#pragma once

#include <string>

namespace peregrine::store {

class StateDirLock {
 public:
  StateDirLock() = default;
  ~StateDirLock();
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;

  // False with `error` (naming the holder's pid when another process holds it).
  bool acquire(const std::string& state_dir, std::string& error);

 private:
  int _fd = -1;
};

}  // namespace peregrine::store
