#include "bench/load/ws_client_codec.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/hash.h>

#include <algorithm>
#include <cstring>

namespace peregrine::bench::ws {
namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const uint8_t* data, size_t size) {
  uint8_t out[64];
  word32 out_len = sizeof out;
  if (Base64_Encode_NoNl(data, static_cast<word32>(size), out, &out_len) != 0) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equal_nocase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Whether a comma-separated header value lists `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (equal_nocase(trim(value.substr(0, comma)), token)) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
  return false;
}

// The whole header length (2 to 14 bytes), known from its first two bytes.
size_t header_size(const uint8_t* header) {
  const uint8_t len7 = header[1] & 0x7F;
  return 2 + (len7 == 126 ? 2 : (len7 == 127 ? 8 : 0)) + ((header[1] & 0x80) ? 4 : 0);
}

bool is_control(Opcode opcode) { return (static_cast<uint8_t>(opcode) & 0x8) != 0; }

// XORs `in` with the repeating 4-byte `mask` into `out`, eight bytes at a time.
void mask_copy(const uint8_t* in, size_t size, uint32_t mask, uint8_t* out) {
  uint8_t key[4];
  std::memcpy(key, &mask, 4);
  const uint64_t wide = uint64_t{mask} | (uint64_t{mask} << 32);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, in + i, 8);
    word ^= wide;
    std::memcpy(out + i, &word, 8);
  }
  for (; i < size; i++) {
    out[i] = in[i] ^ key[i % 4];
  }
}

}  // namespace

std::string client_key(uint64_t random_a, uint64_t random_b) {
  uint8_t raw[16];
  std::memcpy(raw, &random_a, 8);
  std::memcpy(raw + 8, &random_b, 8);
  return base64(raw, sizeof raw);
}

std::string expected_accept(std::string_view key) {
  std::string input(key);
  input.append(kGuid);
  uint8_t digest[20];
  if (wc_ShaHash(reinterpret_cast<const uint8_t*>(input.data()),
                 static_cast<word32>(input.size()), digest) != 0) {
    return {};
  }
  return base64(digest, sizeof digest);
}

std::string upgrade_request(std::string_view host, std::string_view path,
                            std::string_view key) {
  std::string request;
  request.reserve(256);
  request.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ").append(host);
  request.append(
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
  request.append(key);
  request.append("\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n");
  return request;
}

const char* check_upgrade_response(std::string_view head, std::string_view accept) {
  size_t end = head.find("\r\n");
  const std::string_view status = head.substr(0, end);
  if (status.size() < 12 || status.substr(0, 9) != "HTTP/1.1 " || status.substr(9, 3) != "101") {
    return "the upgrade was answered without 101 Switching Protocols";
  }
  bool upgrade = false;
  bool connection = false;
  bool accepted = false;
  bool protocol = false;
  while (end != std::string_view::npos) {
    head.remove_prefix(end + 2);
    end = head.find("\r\n");
    const std::string_view line = head.substr(0, end);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;  // the blank line that ends the head
    }
    const std::string_view name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (equal_nocase(name, "Upgrade")) {
      upgrade = equal_nocase(value, "websocket");
    } else if (equal_nocase(name, "Connection")) {
      connection = has_token(value, "upgrade");
    } else if (equal_nocase(name, "Sec-WebSocket-Accept")) {
      accepted = value == accept;
    } else if (equal_nocase(name, "Sec-WebSocket-Protocol")) {
      protocol = value == "mqtt";
    }
  }
  if (!upgrade || !connection) {
    return "the 101 lacks Upgrade: websocket or Connection: Upgrade";
  }
  if (!accepted) {
    return "the 101 has a wrong or no Sec-WebSocket-Accept";
  }
  if (!protocol) {
    return "the 101 did not select the subprotocol mqtt";  // [MQTT-6.0.0-3]
  }
  return nullptr;
}

void append_masked_frame(Opcode opcode, std::span<const uint8_t> payload, uint32_t mask,
                         std::vector<uint8_t>& out) {
  uint8_t header[14];
  size_t n = 2;
  const uint64_t length = payload.size();
  header[0] = static_cast<uint8_t>(0x80 | static_cast<uint8_t>(opcode));
  if (length < 126) {
    header[1] = static_cast<uint8_t>(0x80 | length);
  } else if (length <= 0xFFFF) {
    header[1] = 0x80 | 126;
    header[2] = static_cast<uint8_t>(length >> 8);
    header[3] = static_cast<uint8_t>(length);
    n = 4;
  } else {
    header[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) {
      header[2 + i] = static_cast<uint8_t>(length >> (56 - 8 * i));
    }
    n = 10;
  }
  std::memcpy(header + n, &mask, 4);
  n += 4;
  const size_t at = out.size();
  out.resize(at + n + payload.size());
  std::memcpy(out.data() + at, header, n);
  mask_copy(payload.data(), payload.size(), mask, out.data() + at + n);
}

const char* ServerFrameReader::feed(std::span<const uint8_t> bytes, ServerFrameSink& sink) {
  while (!bytes.empty() && !_closed) {
    if (_stage == Stage::kHeader) {
      const size_t need = _header_have < 2 ? 2 : header_size(_header);
      const size_t take = std::min(need - _header_have, bytes.size());
      std::memcpy(_header + _header_have, bytes.data(), take);
      _header_have = static_cast<uint8_t>(_header_have + take);
      bytes = bytes.subspan(take);
      if (_header_have < 2 || _header_have < header_size(_header)) {
        continue;  // more header bytes to come (from this read, or the next)
      }
      if (const char* why = begin_frame(sink)) {
        return why;
      }
      continue;
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(_remaining, bytes.size()));
    if (is_control(_opcode)) {
      std::memcpy(_control + _control_have, bytes.data(), take);
      _control_have = static_cast<uint8_t>(_control_have + take);
    } else {
      sink.on_data(bytes.first(take));
    }
    bytes = bytes.subspan(take);
    _remaining -= take;
    if (_remaining == 0) {
      finish_frame(sink);
    }
  }
  return nullptr;
}

const char* ServerFrameReader::begin_frame(ServerFrameSink& sink) {
  const uint8_t op = _header[0] & 0x0F;
  const bool fin = (_header[0] & 0x80) != 0;
  if ((_header[1] & 0x80) != 0) {
    return "the broker sent a masked WebSocket frame";  // RFC 6455 §5.1
  }
  const uint8_t len7 = _header[1] & 0x7F;
  uint64_t length = len7;
  if (len7 == 126) {
    length = (uint64_t{_header[2]} << 8) | _header[3];
  } else if (len7 == 127) {
    length = 0;
    for (int i = 0; i < 8; i++) {
      length = (length << 8) | _header[2 + i];
    }
  }
  _opcode = static_cast<Opcode>(op);
  switch (_opcode) {
    case Opcode::kBinary:
    case Opcode::kContinuation:
      break;
    case Opcode::kText:
      return "the broker sent a Text frame (MQTT over WebSocket is binary)";
    case Opcode::kClose:
    case Opcode::kPing:
    case Opcode::kPong:
      if (!fin || length > sizeof _control) {
        return "the broker sent a fragmented or oversized control frame";
      }
      break;
    default:
      return "the broker sent a WebSocket frame with an unknown opcode";
  }
  _remaining = length;
  _control_have = 0;
  _stage = Stage::kPayload;
  if (_remaining == 0) {
    finish_frame(sink);
  }
  return nullptr;
}

void ServerFrameReader::finish_frame(ServerFrameSink& sink) {
  const std::span<const uint8_t> control(_control, _control_have);
  if (_opcode == Opcode::kPing) {
    sink.on_ping(control);
  } else if (_opcode == Opcode::kClose) {
    _closed = true;
    sink.on_close(control.size() >= 2 ? static_cast<uint16_t>((control[0] << 8) | control[1])
                                      : 1005);
  }
  _stage = Stage::kHeader;
  _header_have = 0;
  _remaining = 0;
}

}  // namespace peregrine::bench::ws
