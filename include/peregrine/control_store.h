// Where the control plane's state (revocations, the broker's signing keys, the virtual
// brokers made through the admin API) goes to survive a restart: implemented outside the
// broker (src/store: a file in state_dir written atomically by a helper thread, so no
// shard waits on the disk). Used by shard 0 only, on its own thread; a save completes
// later and is found by polling at the start of a turn: the store calls the wake
// function it was given (from its own thread) when one has.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace peregrine {

class ControlStore {
 public:
  virtual ~ControlStore() = default;
  // Saves the whole revocation list under `ticket`; false: it cannot take the save now
  // (its queue is full), nothing is saved.
  virtual bool save_revocations(const std::vector<std::string>& token_ids, uint64_t ticket) = 0;
  // Saves the broker's signing keys, private halves included: `contents` is the whole
  // key file as TokenIssuer::encode_key_file made it. Otherwise as save_revocations.
  virtual bool save_broker_keys(std::string contents, uint64_t ticket) = 0;
  // Saves the virtual brokers made through the admin API: `contents` is the whole
  // brokers.json. Otherwise as save_revocations.
  virtual bool save_tenants(std::string contents, uint64_t ticket) = 0;
  // A finished save: true with its ticket and outcome (ok, or `error` says why).
  virtual bool poll_saved(uint64_t* ticket, bool* ok, std::string* error) = 0;
  // The leader's thread is running: `wake` (thread-safe) makes it take a turn.
  virtual void set_wake(std::function<void()> wake) = 0;
};

}  // namespace peregrine
