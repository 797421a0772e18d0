#include "src/net/websocket_codec.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/hash.h>

#include <algorithm>
#include <cstring>

#include "src/base/assert.h"
#include "src/mqtt/codec.h"

namespace peregrine::net::ws {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr size_t kScratchBytes = 16384;

// Unmasked data on its way to the sink; one per shard thread, used only within feed().
thread_local uint8_t t_scratch[kScratchBytes];

bool is_control(Opcode opcode) { return (static_cast<uint8_t>(opcode) & 0x8) != 0; }

bool known_opcode(uint8_t op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

// A frame header's whole length (2 to 14 bytes), known from its first two bytes.
size_t header_size(const uint8_t* header) {
  const uint8_t len7 = header[1] & 0x7F;
  return 2 + (len7 == 126 ? 2 : (len7 == 127 ? 8 : 0)) + ((header[1] & 0x80) ? 4 : 0);
}

}  // namespace

bool valid_close_code(uint16_t code) {
  if (code >= 3000 && code <= 4999) {
    return true;
  }
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

std::string accept_key(std::string_view client_key) {
  std::string input(client_key);
  input.append(kGuid);
  uint8_t digest[20];
  const int rc = wc_ShaHash(reinterpret_cast<const uint8_t*>(input.data()),
                            static_cast<word32>(input.size()), digest);
  PG_ASSERT(rc == 0);
  uint8_t out[64];
  word32 out_len = sizeof out;
  PG_ASSERT(Base64_Encode_NoNl(digest, sizeof digest, out, &out_len) == 0);
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

bool valid_client_key(std::string_view key) {
  if (key.size() != 24) {
    return false;
  }
  uint8_t out[32];
  word32 out_len = sizeof out;
  return Base64_Decode(reinterpret_cast<const uint8_t*>(key.data()),
                       static_cast<word32>(key.size()), out, &out_len) == 0 &&
         out_len == 16;
}

size_t encode_header(Opcode opcode, uint64_t payload_length, uint8_t* out) {
  out[0] = static_cast<uint8_t>(0x80 | static_cast<uint8_t>(opcode));
  if (payload_length < 126) {
    out[1] = static_cast<uint8_t>(payload_length);
    return 2;
  }
  if (payload_length <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(payload_length >> 8);
    out[3] = static_cast<uint8_t>(payload_length);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) {
    out[2 + i] = static_cast<uint8_t>(payload_length >> (56 - 8 * i));
  }
  return 10;
}

void FrameDecoder::unmask_into(std::span<const uint8_t> in, uint8_t* out) {
  size_t i = 0;
  // Eight bytes at a time with the key rotated to the current phase; every client byte
  // passes through here.
  if (in.size() >= 16) {
    uint8_t key[8];
    for (int k = 0; k < 8; ++k) {
      key[k] = _mask[(_mask_phase + k) & 3];
    }
    uint64_t key64 = 0;
    std::memcpy(&key64, key, sizeof key64);
    for (; i + 8 <= in.size(); i += 8) {
      uint64_t word = 0;
      std::memcpy(&word, in.data() + i, sizeof word);
      word ^= key64;
      std::memcpy(out + i, &word, sizeof word);
    }
    // Eight bytes leave the phase where it was.
  }
  for (; i < in.size(); ++i) {
    out[i] = in[i] ^ _mask[_mask_phase];
    _mask_phase = (_mask_phase + 1) & 3;
  }
}

DecodeError FrameDecoder::feed(std::span<const uint8_t> bytes, FrameSink& sink) {
  size_t pos = 0;
  while (pos < bytes.size() && !_closed) {
    if (_stage == Stage::kHeader) {
      const size_t need = _header_have >= 2 ? header_size(_header) : 2;
      if (_header_have < need) {
        const size_t take = std::min(need - _header_have, bytes.size() - pos);
        std::memcpy(_header + _header_have, bytes.data() + pos, take);
        _header_have = static_cast<uint8_t>(_header_have + take);
        pos += take;
        if (_header_have == 2 && header_size(_header) > 2) {
          continue;  // now the full header length is known; a 2-byte one is complete
        }
        if (_header_have < need) {
          break;
        }
      }
      if (DecodeError error = begin_frame(sink); error.close_code != 0) {
        return error;
      }
      continue;
    }
    const size_t take =
        static_cast<size_t>(std::min<uint64_t>(_remaining, bytes.size() - pos));
    std::span<const uint8_t> piece = bytes.subspan(pos, take);
    pos += take;
    _remaining -= take;
    if (is_control(_opcode)) {
      unmask_into(piece, _control + _control_have);
      _control_have = static_cast<uint8_t>(_control_have + take);
    } else {
      while (!piece.empty()) {
        const size_t chunk = std::min(piece.size(), kScratchBytes);
        unmask_into(piece.first(chunk), t_scratch);
        sink.on_message_data(std::span<const uint8_t>(t_scratch, chunk));
        piece = piece.subspan(chunk);
      }
    }
    if (_remaining == 0) {
      if (DecodeError error = finish_control(sink); error.close_code != 0) {
        return error;
      }
    }
  }
  return {};
}

DecodeError FrameDecoder::begin_frame(FrameSink& sink) {
  const uint8_t b0 = _header[0];
  const uint8_t b1 = _header[1];
  _header_have = 0;
  if ((b0 & 0x70) != 0) {
    return {kCloseProtocolError, "reserved bits set"};  // no extension was negotiated
  }
  if ((b1 & 0x80) == 0) {
    return {kCloseProtocolError, "unmasked client frame"};  // §5.1
  }
  const uint8_t op = b0 & 0x0F;
  if (!known_opcode(op)) {
    return {kCloseProtocolError, "unknown opcode"};
  }
  const auto opcode = static_cast<Opcode>(op);
  const bool fin = (b0 & 0x80) != 0;
  const uint8_t len7 = b1 & 0x7F;
  uint64_t length = len7;
  size_t at = 2;
  if (len7 == 126) {
    length = (uint64_t{_header[2]} << 8) | _header[3];
    at = 4;
    if (length < 126) {
      return {kCloseProtocolError, "length not in its minimal form"};  // §5.2
    }
  } else if (len7 == 127) {
    length = 0;
    for (int i = 0; i < 8; ++i) {
      length = (length << 8) | _header[2 + i];
    }
    at = 10;
    if ((length >> 63) != 0 || length <= 0xFFFF) {
      return {kCloseProtocolError, "bad 64-bit length"};
    }
  }
  std::memcpy(_mask, _header + at, 4);
  _mask_phase = 0;
  if (is_control(opcode)) {
    if (!fin || length > 125) {
      return {kCloseProtocolError, "fragmented or long control frame"};  // §5.5
    }
  } else if (opcode == Opcode::kContinuation) {
    if (!_in_message) {
      return {kCloseProtocolError, "continuation without a message"};
    }
  } else {
    if (_in_message) {
      return {kCloseProtocolError, "new message inside a fragmented one"};
    }
    if (opcode == Opcode::kText) {
      return {kCloseUnsupportedData, "text frame"};
    }
    _message_bytes = 0;
  }
  if (!is_control(opcode)) {
    if (length > _limits.max_frame_bytes ||
        _message_bytes + length > _limits.max_message_bytes) {
      return {kCloseTooBig, "frame or message over its limit"};
    }
    _message_bytes += length;
    _in_message = !fin;
  }
  _opcode = opcode;
  _fin = fin;
  _remaining = length;
  _control_have = 0;
  _stage = Stage::kPayload;
  if (length == 0) {
    return finish_control(sink);
  }
  return {};
}

DecodeError FrameDecoder::finish_control(FrameSink& sink) {
  _stage = Stage::kHeader;
  if (!is_control(_opcode)) {
    return {};
  }
  const std::span<const uint8_t> payload(_control, _control_have);
  switch (_opcode) {
    case Opcode::kPing:
      sink.on_ping(payload);
      return {};
    case Opcode::kPong:
      sink.on_pong(payload);
      return {};
    case Opcode::kClose: {
      if (payload.size() == 1) {
        return {kCloseProtocolError, "close frame of one byte"};
      }
      uint16_t code = 1005;  // no status code present (§7.1.5)
      std::string_view reason;
      if (payload.size() >= 2) {
        code = static_cast<uint16_t>((payload[0] << 8) | payload[1]);
        if (!valid_close_code(code)) {
          return {kCloseProtocolError, "invalid close code"};
        }
        reason = std::string_view(reinterpret_cast<const char*>(payload.data()) + 2,
                                  payload.size() - 2);
        if (!mqtt::well_formed_utf8(reason)) {
          return {kCloseInvalidPayload, "close reason not UTF-8"};
        }
      }
      _closed = true;
      sink.on_close(code, reason);
      return {};
    }
    default:
      PG_ASSERT(false);
      return {};
  }
}

}  // namespace peregrine::net::ws
