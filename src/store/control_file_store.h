// The control plane's state in state_dir: `revocations.json`, the revoked token ids,
// {"version":1,"revoked":["jti",...]}, and `signing-keys.json`, the broker's own keys
// (its format is the TokenIssuer's: src/auth/token_issuer.h), and `brokers.json`, the
// virtual brokers the admin API made (src/broker/virtual_brokers.h) — read at start-up,
// rewritten whole (atomically, 0600) after each change by the StateWriter thread.
// Implements include/peregrine's ControlStore for shard 0.
#pragma once

#include <string>
#include <vector>

#include "include/peregrine/control_store.h"
#include "src/store/state_writer.h"

namespace peregrine::store {

// The file's text for `token_ids`, and back (false with `error` for a damaged file).
std::string encode_revocations(const std::vector<std::string>& token_ids);
bool decode_revocations(const std::string& text, std::vector<std::string>& out,
                        std::string& error);

class ControlFileStore final : public ControlStore {
 public:
  explicit ControlFileStore(std::string state_dir) : _dir(std::move(state_dir)) {}

  std::string revocations_path() const { return _dir + "/revocations.json"; }
  std::string broker_keys_path() const { return _dir + "/signing-keys.json"; }
  std::string tenants_path() const { return _dir + "/brokers.json"; }
  // Reads revocations.json; a missing file is an empty list.
  bool load_revocations(std::vector<std::string>& out, std::string& error) const;

  bool save_revocations(const std::vector<std::string>& token_ids, uint64_t ticket) override;
  bool save_broker_keys(std::string contents, uint64_t ticket) override {
    return _writer.submit(ticket, broker_keys_path(), std::move(contents));
  }
  bool save_tenants(std::string contents, uint64_t ticket) override {
    return _writer.submit(ticket, tenants_path(), std::move(contents));
  }
  bool poll_saved(uint64_t* ticket, bool* ok, std::string* error) override {
    return _writer.poll(ticket, ok, error);
  }
  void set_wake(std::function<void()> wake) override { _writer.set_wake(std::move(wake)); }
  // Saves already asked for are written; then the writer's thread ends (before the
  // shards' rings go).
  void stop() { _writer.stop(); }

 private:
  std::string _dir;
  StateWriter _writer;
};

}  // namespace peregrine::store
