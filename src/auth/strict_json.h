// JSON for things an attacker writes (JWS headers and claims, admin requests): picojson's
// grammar, parsed through a context that refuses what picojson alone lets through. Pure.
#pragma once

#include <picojson.h>

#include <optional>
#include <string_view>

namespace peregrine::auth {

// One JSON object, or nullopt when the text is not exactly one: a member name that
// appears twice in any object (RFC 7515 §4 lets a JWS reader refuse it, and two readers
// picking different values is how claims get smuggled), nesting deeper than `max_depth`,
// a number that is not finite, or anything but whitespace after the object.
std::optional<picojson::object> parse_strict_object(std::string_view text, size_t max_depth = 16);

}  // namespace peregrine::auth
