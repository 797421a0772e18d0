// UTF-8 validation for MQTT strings. Topic names are checked on every PUBLISH, so ASCII
// is scanned eight bytes at a time; multi-byte sequences follow the Unicode well-formed
// table (Unicode 15 §3.9, Table 3-7), which already excludes overlongs, surrogates and
// code points above U+10FFFF.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "src/mqtt/codec.h"
#include "src/mqtt/reason_code.h"
#include "src/mqtt/utf8.h"

namespace peregrine::mqtt {

namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ull;
constexpr uint64_t kLowBits = 0x0101010101010101ull;

// Bytes of `word` equal to zero get their high bit set (exact when no byte is >= 0x80).
uint64_t zero_bytes(uint64_t word) { return (word - kLowBits) & ~word & kHighBits; }

bool continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Length of the well-formed sequence starting at p (lead byte >= 0x80), or 0.
size_t sequence_length(const uint8_t* p, size_t left) {
  const uint8_t lead = p[0];
  if (lead >= 0xC2 && lead <= 0xDF) {
    return (left >= 2 && continuation(p[1])) ? 2 : 0;
  }
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (left < 3 || !continuation(p[1]) || !continuation(p[2])) {
      return 0;
    }
    if (lead == 0xE0 && p[1] < 0xA0) {
      return 0;  // overlong
    }
    if (lead == 0xED && p[1] > 0x9F) {
      return 0;  // surrogate U+D800..U+DFFF [MQTT-1.5.4-1]
    }
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (left < 4 || !continuation(p[1]) || !continuation(p[2]) || !continuation(p[3])) {
      return 0;
    }
    if (lead == 0xF0 && p[1] < 0x90) {
      return 0;  // overlong
    }
    if (lead == 0xF4 && p[1] > 0x8F) {
      return 0;  // above U+10FFFF
    }
    return 4;
  }
  return 0;  // stray continuation byte, C0/C1 overlong lead, or F5..FF
}

template <bool kAllowNull>
bool check_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const uint8_t* const end = p + s.size();
  while (p < end) {
    while (end - p >= 8) {
      uint64_t word = 0;
      std::memcpy(&word, p, sizeof(word));
      if ((word & kHighBits) != 0) {
        break;
      }
      if (!kAllowNull && zero_bytes(word) != 0) {
        return false;  // a zero byte: U+0000 is not allowed [MQTT-1.5.4-2]
      }
      p += 8;
    }
    if (p == end) {
      break;
    }
    if (*p < 0x80) {
      if (!kAllowNull && *p == 0) {
        return false;
      }
      ++p;
      continue;
    }
    const size_t n = sequence_length(p, static_cast<size_t>(end - p));
    if (n == 0) {
      return false;
    }
    p += n;
  }
  return true;
}

}  // namespace

ReasonCode scan_topic_name(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const uint8_t* const end = p + s.size();
  bool wildcard = false;
  while (p < end) {
    while (end - p >= 8) {
      uint64_t word = 0;
      std::memcpy(&word, p, sizeof(word));
      if ((word & kHighBits) != 0) {
        break;
      }
      if (zero_bytes(word) != 0) {
        return ReasonCode::kMalformedPacket;  // U+0000 [MQTT-1.5.4-2]
      }
      const uint64_t plus = zero_bytes(word ^ (kLowBits * '+'));
      const uint64_t hash = zero_bytes(word ^ (kLowBits * '#'));
      wildcard |= (plus | hash) != 0;
      p += 8;
    }
    if (p == end) {
      break;
    }
    if (*p < 0x80) {
      if (*p == 0) {
        return ReasonCode::kMalformedPacket;
      }
      wildcard |= *p == '+' || *p == '#';
      ++p;
      continue;
    }
    const size_t n = sequence_length(p, static_cast<size_t>(end - p));
    if (n == 0) {
      return ReasonCode::kMalformedPacket;
    }
    p += n;
  }
  // Checked last: ill-formed UTF-8 anywhere in the topic is the graver fault.
  return wildcard ? ReasonCode::kTopicNameInvalid : ReasonCode::kSuccess;
}

bool valid_utf8(std::string_view s) { return check_utf8<false>(s); }

bool well_formed_utf8(std::string_view s) { return check_utf8<true>(s); }

}  // namespace peregrine::mqtt
