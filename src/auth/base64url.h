// base64url (RFC 4648 §5) as JWS uses it (RFC 7515 §2): no padding, no line breaks, and,
// when decoding, nothing that is not the one canonical encoding of its bytes. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace peregrine::auth {

// nullopt for any byte outside the alphabet, '=' padding, a length that no encoding has
// (4k + 1), or trailing bits that are not zero (two texts must not decode to one value).
std::optional<std::string> base64url_decode(std::string_view text);

std::string base64url_encode(std::span<const uint8_t> bytes);
inline std::string base64url_encode(std::string_view bytes) {
  return base64url_encode(
      std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

}  // namespace peregrine::auth
