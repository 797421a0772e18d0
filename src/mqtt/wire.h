// Wire primitives of the codec (internal to src/mqtt): a bounds-checked Reader over a
// packet body, and a Counter/Writer pair that share one encoding routine so the exact
// size is known before any byte is written. Every read checks `end` first; nothing here
// allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "src/base/assert.h"
#include "src/mqtt/bytes.h"
#include "src/mqtt/codec.h"

namespace peregrine::mqtt {

// The longest string or binary field: a two-byte length prefix [MQTT-1.5.4], [MQTT-1.5.6].
inline constexpr size_t kMaxFieldLength = 65'535;

struct Reader {
  const uint8_t* pos;
  const uint8_t* end;

  explicit Reader(Bytes b) : pos(b.data()), end(b.data() + b.size()) {}
  Reader(const uint8_t* p, const uint8_t* e) : pos(p), end(e) {}

  size_t left() const { return static_cast<size_t>(end - pos); }
  bool at_end() const { return pos == end; }

  bool u8(uint8_t& v) {
    if (pos == end) {
      return false;
    }
    v = *pos++;
    return true;
  }

  bool u16(uint16_t& v) {
    if (left() < 2) {
      return false;
    }
    v = static_cast<uint16_t>((pos[0] << 8) | pos[1]);
    pos += 2;
    return true;
  }

  bool u32(uint32_t& v) {
    if (left() < 4) {
      return false;
    }
    v = (uint32_t{pos[0]} << 24) | (uint32_t{pos[1]} << 16) | (uint32_t{pos[2]} << 8) |
        uint32_t{pos[3]};
    pos += 4;
    return true;
  }

  // Variable Byte Integer: at most 4 bytes, minimal encoding [MQTT-1.5.5-1].
  bool varint(uint32_t& v) {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      if (pos == end) {
        return false;
      }
      const uint8_t byte = *pos++;
      value |= uint32_t{byte & 0x7Fu} << (7 * i);
      if ((byte & 0x80) == 0) {
        if (byte == 0 && i > 0) {
          return false;  // a trailing zero group is a non-minimal encoding
        }
        v = value;
        return true;
      }
    }
    return false;
  }

  // Two-byte length then that many bytes.
  bool binary(Bytes& v) {
    uint16_t n = 0;
    if (!u16(n) || left() < n) {
      return false;
    }
    v = Bytes(pos, n);
    pos += n;
    return true;
  }

  // A UTF-8 Encoded String: false when truncated or not well-formed [MQTT-1.5.4-1..2].
  bool utf8(std::string_view& v) {
    Bytes b;
    if (!binary(b)) {
      return false;
    }
    v = as_string_view(b);
    return valid_utf8(v);
  }

  Bytes rest() {
    Bytes b(pos, left());
    pos = end;
    return b;
  }
};

// Computes the encoded size; mirrors Writer method for method.
struct Counter {
  size_t n = 0;
  void u8(uint8_t) { n += 1; }
  void u16(uint16_t) { n += 2; }
  void u32(uint32_t) { n += 4; }
  void varint(uint32_t v) { n += varint_size(v); }
  void raw(Bytes b) { n += b.size(); }
  void binary(Bytes b) { n += 2 + b.size(); }
  void string(std::string_view s) { n += 2 + s.size(); }
};

// Writes into memory already sized by a Counter pass.
struct Writer {
  uint8_t* p;
  void u8(uint8_t v) { *p++ = v; }
  void u16(uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
    p += 2;
  }
  void u32(uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
    p += 4;
  }
  void varint(uint32_t v) {
    PG_ASSERT(v <= kMaxRemainingLength);
    do {
      uint8_t byte = v & 0x7F;
      v >>= 7;
      if (v != 0) {
        byte |= 0x80;
      }
      *p++ = byte;
    } while (v != 0);
  }
  void raw(Bytes b) {
    if (!b.empty()) {
      std::memcpy(p, b.data(), b.size());
      p += b.size();
    }
  }
  void binary(Bytes b) {
    // A longer field cannot be represented; writing it would corrupt the stream.
    PG_ASSERT(b.size() <= kMaxFieldLength);
    u16(static_cast<uint16_t>(b.size()));
    raw(b);
  }
  void string(std::string_view s) { binary(as_bytes(s)); }
};

}  // namespace peregrine::mqtt
