// WebSocket (RFC 6455), the client's side, pure: the upgrade request and the check of the
// broker's 101 answer, masked frames out, and an incremental reader of the broker's
// (unmasked) frames that hands Binary payload on in the pieces it arrived in. No I/O; the
// reader keeps at most a 14-byte header and a 125-byte control payload. Owned by one
// ClientTransport, so by one worker thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace peregrine::bench::ws {

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// The bound on a response head (status line and headers): beyond it the upgrade failed.
inline constexpr size_t kMaxResponseHead = 8192;

// A Sec-WebSocket-Key: base64 of 16 bytes taken from `random` (two 64-bit words).
std::string client_key(uint64_t random_a, uint64_t random_b);
// The Sec-WebSocket-Accept the server must answer `key` with (§4.2.2).
std::string expected_accept(std::string_view key);
// GET `path` with Upgrade: websocket, Sec-WebSocket-Version 13, subprotocol mqtt.
std::string upgrade_request(std::string_view host, std::string_view path,
                            std::string_view key);
// Checks a complete response head (through the blank line): nullptr if it is a 101 with
// the right Upgrade, Connection, Sec-WebSocket-Accept and Sec-WebSocket-Protocol: mqtt;
// otherwise why not.
const char* check_upgrade_response(std::string_view head, std::string_view accept);

// Appends one masked frame with FIN set (§5.2, §5.3): header, `mask`, masked payload.
void append_masked_frame(Opcode opcode, std::span<const uint8_t> payload, uint32_t mask,
                         std::vector<uint8_t>& out);

// What the reader reports; data is valid only during the call.
class ServerFrameSink {
 public:
  virtual ~ServerFrameSink() = default;
  virtual void on_data(std::span<const uint8_t> data) = 0;  // Binary/continuation payload
  virtual void on_ping(std::span<const uint8_t> payload) = 0;
  virtual void on_close(uint16_t code) = 0;  // 1005 when the frame had no status
};

class ServerFrameReader {
 public:
  // Feeds bytes from the broker. nullptr, or why the stream is broken (a masked server
  // frame §5.1, Text (MQTT is binary only), a bad control frame, an unknown opcode).
  // After a Close frame the rest is ignored.
  const char* feed(std::span<const uint8_t> bytes, ServerFrameSink& sink);
  bool closed() const { return _closed; }

 private:
  enum class Stage : uint8_t { kHeader, kPayload };

  const char* begin_frame(ServerFrameSink& sink);
  void finish_frame(ServerFrameSink& sink);

  Stage _stage = Stage::kHeader;
  bool _closed = false;
  Opcode _opcode = Opcode::kBinary;
  uint8_t _header[14] = {};
  uint8_t _header_have = 0;
  uint64_t _remaining = 0;
  uint8_t _control[125] = {};
  uint8_t _control_have = 0;
};

}  // namespace peregrine::bench::ws
