// The configuration file's keys, as one table: each key's dotted name, what it holds
// (its type and the values it may take), the option it sets, and whether a running broker
// may take a new value on reload (SIGHUP) or needs a restart. The loader reads the file
// through it, so every key's errors read the same ("FILE:LINE:COL: 'limits.x' expects
// ..."), and a reload can tell what changed and whether that is allowed.
// Startup and reload code: main thread only.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "include/peregrine/options.h"

namespace peregrine::config {

// Where a key was set: "FILE:LINE:COL" for the file, "--flag" for the command line; keyed
// by the dotted name ("listen" entries as "listen[N]").
using Origins = std::map<std::string, std::string>;

enum class KeyKind : uint8_t {
  kInteger,  // within [low, high], and `check` if given
  kBoolean,
  kString,
  kChoice,   // one of `choices`, compared without case, stored in lower case
  kCustom,   // read by `read` (arrays of URLs or tables)
};

using KeyTarget = std::variant<uint8_t*, uint16_t*, uint32_t*, uint64_t*, bool*, std::string*>;

struct ConfigKey {
  std::string_view name;  // dotted: "log_level", "limits.max_packet_size"
  KeyKind kind;
  bool reloadable;        // false: takes effect at the next start only
  KeyTarget (*target)(Options& options) = nullptr;
  uint64_t low = 0;
  uint64_t high = 0;
  std::span<const std::string_view> choices = {};
  // kInteger: nullptr if `value` is allowed, else why not ("must be a power of two").
  const char* (*check)(uint64_t value) = nullptr;
  // kCustom: reads `node` into `options`; false and `error` (without the location).
  bool (*read)(const std::string& path, const toml::node& node, Options& options,
               Origins* origins, std::string* error) = nullptr;
};

// Every key the file may hold.
std::span<const ConfigKey> config_keys();
// The key named `dotted`, or nullptr.
const ConfigKey* find_config_key(std::string_view dotted);

// A reload: the keys that need a restart whose value in `next` differs from `running`'s,
// by name; `next` gets the running value back for each, so that it is what the running
// broker becomes.
std::vector<std::string> hold_restart_keys(const Options& running, Options& next);

}  // namespace peregrine::config
