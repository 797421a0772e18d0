// The configured JWT keys, read from their files at start-up (main thread, blocking
// reads before any shard runs): [[auth.jwt.keys]] → JwsKeys. A key that cannot be read
// or loaded, or two keys with one kid, is an error that stops the broker.
#pragma once

#include <string>
#include <vector>

#include "include/peregrine/options.h"
#include "include/peregrine/token_issuer.h"
#include "src/auth/jws_key.h"

namespace peregrine::auth {

bool load_key_files(const JwtOptions& options, std::vector<JwsKey>& out, std::string& error);

// The broker's own keys (state_dir/signing-keys.json, token_issuer.h); a missing file
// is no keys. Refused: a file others may read or write, a damaged one.
bool load_broker_key_file(const std::string& path, std::vector<BrokerKey>& out,
                          std::string& error);

// A whole file of at most 1 MiB (keys, secrets, password files); false with `error`.
bool read_small_file(const std::string& path, std::string& out, std::string& error);

}  // namespace peregrine::auth
