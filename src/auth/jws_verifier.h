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
  // `named_only` keys are chosen by their kid alone (the broker's own keys: adding one
  // must not make the configured single key's kid-less tokens ambiguous).
  explicit JwsVerifier(std::vector<JwsKey> keys, std::vector<JwsKey> named_only = {});
  ~JwsVerifier();
  JwsVerifier(const JwsVerifier&) = delete;
  JwsVerifier& operator=(const JwsVerifier&) = delete;

  bool empty() const { return _keys.empty(); }
  // The key a header names: by kid, compared exactly; without a kid, the only key there
  // is that is not named_only (a second one makes a kid necessary). nullopt: none.
  std::optional<size_t> select(std::optional<std::string_view> kid) const;
  const JwsKey& key(size_t index) const;
  // Whether `signature` is the key's signature of `signing_input`, with the exact
  // length the algorithm has (and, for ES256, r and s within [1, n-1]).
  bool verify(size_t index, std::string_view signing_input, std::string_view signature);

 private:
  struct Loaded;
  void load(JwsKey spec, bool named_only);
  std::vector<std::unique_ptr<Loaded>> _keys;
  size_t _unnamed_choices = 0;  // keys a kid-less header may choose
};

}  // namespace peregrine::auth
