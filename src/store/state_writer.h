// Small whole files written atomically off the shards: each job writes `contents` to
// `path` as a temporary file (mode 0600), syncs it, renames it over `path` and syncs the
// directory, on the writer's own thread. One producer thread submits and polls (shard 0);
// jobs complete in submission order. Bounded: kMaxJobs submitted and not yet polled;
// beyond, submit() refuses (the caller answers "busy").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "src/base/spsc_queue.h"

namespace peregrine::store {

class StateWriter {
 public:
  static constexpr uint32_t kMaxJobs = 32;

  StateWriter();
  // Finishes the jobs already submitted, then stops (stop()).
  ~StateWriter();
  // Finishes the jobs already submitted and joins the thread: no wake is called after
  // it returns. Idempotent; call it while what the wake function touches still lives.
  void stop();
  StateWriter(const StateWriter&) = delete;
  StateWriter& operator=(const StateWriter&) = delete;

  // Called on the writer's thread after each job completes.
  void set_wake(std::function<void()> wake);
  bool submit(uint64_t ticket, std::string path, std::string contents);
  bool poll(uint64_t* ticket, bool* ok, std::string* error);

  // The same write, done on the caller's thread (start-up, tools).
  static bool write_atomically(const std::string& path, const std::string& contents,
                               std::string* error);

 private:
  struct Job {
    uint64_t ticket;
    std::string path;
    std::string contents;
    bool ok = false;
    std::string error;
  };
  void run();

  base::SpscQueue<Job*> _jobs{kMaxJobs * 2};
  base::SpscQueue<Job*> _done{kMaxJobs * 2};
  uint32_t _outstanding = 0;  // producer side: submitted, not yet polled
  std::atomic<uint32_t> _signal{0};
  std::atomic<bool> _stop{false};
  std::function<void()> _wake;  // set before the first job
  std::atomic<bool> _has_wake{false};
  std::thread _thread;
};

}  // namespace peregrine::store
