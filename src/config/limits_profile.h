// Named sets of limits an operator picks with `limits_profile = "NAME"`: the profile's
// values replace the built-in defaults before the file's own keys are read, so a key the
// file sets still wins. Pure.
//
//   default     Peregrine's own: generous, any MQTT conformance suite passes.
//   cloudflare  Cloudflare Pub/Sub's published limits (../shared/seeds, "Limits"): 64 KiB
//               packets, client id 23 bytes, username 32, password 4,096, topic 65,535
//               bytes and 8 levels deep (8 '/'), 10 packets per second, 10 s to CONNECT,
//               keep alive at least 10 s, sessions at most 7 days, 1,000 subscribers
//               per topic filter, 10,000 revocations.
#pragma once

#include <string_view>

#include "include/peregrine/options.h"

namespace peregrine::config {

// Applies the profile `name` to `options`; false if there is none of that name.
bool apply_limits_profile(std::string_view name, Options& options);

}  // namespace peregrine::config
