// Byte views shared by the codec. A decoded packet's strings and binary fields are views
// into the caller's buffer: they live exactly as long as that buffer. Pure, no I/O.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace peregrine::mqtt {

using Bytes = std::span<const uint8_t>;

inline std::string_view as_string_view(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

inline Bytes as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace peregrine::mqtt
