// HTTP/1.1 status lines, shared by everything that answers HTTP (the bridge, and the
// transport stack's WebSocket upgrade). Pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace peregrine::http {

// The reason phrase for the statuses Peregrine sends (RFC 9110 §15); "Error" otherwise.
const char* status_text(int status);

// "HTTP/1.1 <status> <phrase>\r\n".
std::string status_line(int status);

inline std::span<const uint8_t> text_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace peregrine::http
