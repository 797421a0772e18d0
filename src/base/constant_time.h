// Comparing secrets (MACs, password hashes, bearer tokens) without the time depending on
// where they first differ. The lengths are compared plainly: they are not secret.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace peregrine::base {

inline bool constant_time_equal(const void* a, const void* b, size_t size) {
  const auto* x = static_cast<const volatile uint8_t*>(a);
  const auto* y = static_cast<const volatile uint8_t*>(b);
  uint8_t diff = 0;
  for (size_t i = 0; i < size; i++) {
    diff |= static_cast<uint8_t>(x[i] ^ y[i]);
  }
  return diff == 0;
}

inline bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && constant_time_equal(a.data(), b.data(), a.size());
}

}  // namespace peregrine::base
