// WebSocket framing (RFC 6455), server side, pure: an incremental frame decoder that
// unmasks client frames as they arrive, the header encoder for server frames, and the
// opening handshake's accept key. No I/O and no allocation beyond the decoder's control
// frame buffer (at most 125 bytes) — a data frame's payload is handed on in the pieces it
// arrived in, so a frame of any allowed size costs no buffering here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace peregrine::net::ws {

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Close status codes we send (RFC 6455 §7.4.1).
enum CloseCode : uint16_t {
  kCloseNormal = 1000,
  kCloseGoingAway = 1001,
  kCloseProtocolError = 1002,
  kCloseUnsupportedData = 1003,
  kCloseInvalidPayload = 1007,
  kClosePolicyViolation = 1008,
  kCloseTooBig = 1009,
  kCloseInternalError = 1011,
};

// Whether a peer may send `code` in a Close frame (§7.4.1, §7.4.2: 1005, 1006 and 1015
// are never on the wire; 1016-2999 are reserved; 3000-4999 are for applications).
bool valid_close_code(uint16_t code);

// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (§4.2.2: base64 of the SHA-1
// of the key and the protocol's GUID).
std::string accept_key(std::string_view client_key);

// Whether a Sec-WebSocket-Key is a base64 encoding of 16 bytes (§4.1 item 7).
bool valid_client_key(std::string_view key);

// Writes an unmasked server frame header with FIN set into `out` (at least 10 bytes) and
// returns its length: 2, 4 or 10 bytes.
size_t encode_header(Opcode opcode, uint64_t payload_length, uint8_t* out);
constexpr size_t kMaxHeaderSize = 10;

struct DecoderLimits {
  // A data frame's payload, and a message's (all its fragments): beyond → 1009.
  uint64_t max_frame_bytes = 1 << 20;
  uint64_t max_message_bytes = 1 << 20;
};

// What the decoder reports. Data is reported in pieces as it arrives (unmasked, in the
// shard thread's scratch space, valid during the call); control frames once complete.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Part of a Binary message's payload, in order across its fragments.
  virtual void on_message_data(std::span<const uint8_t> data) = 0;
  // A complete Ping or Pong frame's payload.
  virtual void on_ping(std::span<const uint8_t> payload) = 0;
  virtual void on_pong(std::span<const uint8_t> payload) = 0;
  // A complete, valid Close frame: `code` is 1005 when the frame had no body.
  virtual void on_close(uint16_t code, std::string_view reason) = 0;
};

struct DecodeError {
  uint16_t close_code = 0;  // 0: no error
  const char* why = nullptr;
};

class FrameDecoder {
 public:
  explicit FrameDecoder(const DecoderLimits& limits = {}) : _limits(limits) {}

  // Feeds bytes from the client. Reports what they complete to `sink`; stops at the first
  // protocol error (then the connection must fail with the returned close code) or after
  // a Close frame (bytes after it are ignored, §5.5.1). Text frames are refused with 1003:
  // MQTT over WebSocket is binary only [MQTT-6.0.0-1].
  DecodeError feed(std::span<const uint8_t> bytes, FrameSink& sink);

  bool closed() const { return _closed; }

 private:
  enum class Stage : uint8_t { kHeader, kPayload };

  DecodeError begin_frame(FrameSink& sink);
  DecodeError finish_control(FrameSink& sink);
  void unmask_into(std::span<const uint8_t> in, uint8_t* out);

  DecoderLimits _limits;
  Stage _stage = Stage::kHeader;
  uint8_t _header[14];  // the largest frame header: 2 + 8 length + 4 mask
  uint8_t _header_have = 0;
  Opcode _opcode = Opcode::kContinuation;
  bool _fin = false;
  bool _in_message = false;  // a fragmented message awaits continuation frames
  bool _closed = false;
  uint8_t _mask[4] = {};
  uint8_t _mask_phase = 0;
  uint64_t _remaining = 0;      // payload bytes of the current frame not yet read
  uint64_t _message_bytes = 0;  // payload of the current message so far
  uint8_t _control[125];
  uint8_t _control_have = 0;
};

}  // namespace peregrine::net::ws
