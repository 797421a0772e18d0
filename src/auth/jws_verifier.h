// One shard's signature checker: wolfCrypt key objects built from the configured JwsKeys
// (jws_key.h). wolfCrypt keeps working state inside its key objects, so each shard owns
// its own set; nothing here is shared. Single-threaded; pure apart from the CPU it burns
// (tens to hundreds of microseconds a check: the token cache stands in front of it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "src/auth/jws_key.h"

namespace peregrine::auth {

class JwsVerifier {
 public:
  explicit JwsVerifier(std::vector<JwsKey> keys);
  ~JwsVerifier();
  JwsVerifier(const JwsVerifier&) = delete;
  JwsVerifier& operator=(const JwsVerifier&) = delete;

  bool empty() const { return _keys.empty(); }
  // The key a header names: by kid, compared exactly; without a kid, the only key there
  // is (a second key makes a kid necessary). nullopt: none.
  std::optional<size_t> select(std::optional<std::string_view> kid) const;
  const JwsKey& key(size_t index) const;
  // Whether `signature` is the key's signature of `signing_input`, with the exact
  // length the algorithm has (and, for ES256, r and s within [1, n-1]).
  bool verify(size_t index, std::string_view signing_input, std::string_view signature);

 private:
  struct Loaded;
  std::vector<std::unique_ptr<Loaded>> _keys;
};

}  // namespace peregrine::auth
