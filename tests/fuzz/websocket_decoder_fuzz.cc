// libFuzzer target for the WebSocket frame decoder. Byte 0 picks the limits and how the rest
// is split; the rest is a client's byte stream. It is decoded three ways — whole, in pieces,
// and by a plain frame walker written from RFC 6455 — and all three must report the same
// events and the same error. The sink has no message-start/end events, so the walker is
// what proves data is only reported inside Binary and Continuation frames' payloads.
// A connection stops feeding at the first error; after a Close, later feeds report nothing.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/assert.h"
#include "src/mqtt/codec.h"
#include "src/net/websocket_codec.h"

namespace {

using peregrine::net::ws::DecodeError;
using peregrine::net::ws::DecoderLimits;
using peregrine::net::ws::FrameDecoder;
using peregrine::net::ws::FrameSink;

constexpr DecoderLimits kLimits[] = {
    {.max_frame_bytes = 1 << 20, .max_message_bytes = 1 << 20},  // the default
    {.max_frame_bytes = 125, .max_message_bytes = 250},          // at the 7-bit boundary
    {.max_frame_bytes = 0, .max_message_bytes = 0},              // empty data frames only
    {.max_frame_bytes = 300, .max_message_bytes = 300},
};

struct Event {
  char kind;  // 'd' data (consecutive pieces joined), 'i' ping, 'o' pong, 'c' close
  std::string bytes;
  uint16_t code = 0;
  bool operator==(const Event&) const = default;
};

struct Log {
  std::vector<Event> events;
  uint16_t error = 0;
  bool closed = false;
  bool operator==(const Log&) const = default;
};

std::string string_of(std::span<const uint8_t> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

void add_data(Log& log, std::span<const uint8_t> d) {
  if (!log.events.empty() && log.events.back().kind == 'd') {
    log.events.back().bytes += string_of(d);
  } else {
    log.events.push_back({'d', string_of(d), 0});
  }
}

// Records events and checks what must hold whatever the input.
class CheckingSink final : public FrameSink {
 public:
  Log log;

  void on_message_data(std::span<const uint8_t> d) override {
    PG_ASSERT(!log.closed);
    PG_ASSERT(!d.empty());
    add_data(log, d);
  }
  void on_ping(std::span<const uint8_t> p) override { control('i', p); }
  void on_pong(std::span<const uint8_t> p) override { control('o', p); }
  void on_close(uint16_t code, std::string_view reason) override {
    PG_ASSERT(!log.closed);
    PG_ASSERT(peregrine::net::ws::valid_close_code(code) || (code == 1005 && reason.empty()));
    PG_ASSERT(reason.size() <= 123);
    log.events.push_back({'c', std::string(reason), code});
    log.closed = true;
  }

 private:
  void control(char kind, std::span<const uint8_t> p) {
    PG_ASSERT(!log.closed);
    PG_ASSERT(p.size() <= 125);  // §5.5
    log.events.push_back({kind, string_of(p), 0});
  }
};

// Piece sizes for the split feed: fixed, or drawn from a generator seeded by byte 0.
class Splitter {
 public:
  explicit Splitter(uint8_t selector) : _pattern((selector >> 2) % 8), _state(selector | 1u) {}
  size_t next() {
    static constexpr size_t kFixed[] = {1, 2, 3, 7, 14, 125};
    if (_pattern < std::size(kFixed)) {
      return kFixed[_pattern];
    }
    _state ^= _state << 13;
    _state ^= _state >> 17;
    _state ^= _state << 5;
    return 1 + _state % (_pattern == 6 ? 16 : 300);
  }

 private:
  uint32_t _pattern;
  uint32_t _state;
};

Log decode(std::span<const uint8_t> in, const DecoderLimits& limits, Splitter* splitter) {
  FrameDecoder decoder(limits);
  CheckingSink sink;
  size_t at = 0;
  while (at < in.size()) {
    const size_t n = splitter == nullptr ? in.size() : std::min(splitter->next(), in.size() - at);
    const bool was_closed = decoder.closed();
    const size_t events_before = sink.log.events.size();
    const DecodeError error = decoder.feed(in.subspan(at, n), sink);
    at += n;
    if (was_closed) {
      // §5.5.1: nothing after a Close is looked at.
      PG_ASSERT(error.close_code == 0);
      PG_ASSERT(sink.log.events.size() == events_before);
    }
    if (error.close_code != 0) {
      PG_ASSERT(error.why != nullptr);
      PG_ASSERT(!decoder.closed());
      sink.log.error = error.close_code;
      break;  // the connection fails here and feeds nothing more
    }
  }
  PG_ASSERT(decoder.closed() == sink.log.closed);
  return sink.log;
}

// The first error a complete frame header has, in the order the decoder checks them.
uint16_t header_error(uint8_t b0, bool masked, size_t extended, uint64_t length, bool in_message,
                      uint64_t message_bytes, const DecoderLimits& limits) {
  const uint8_t op = b0 & 0x0F;
  const bool fin = (b0 & 0x80) != 0;
  const bool control = (op & 0x08) != 0;
  if ((b0 & 0x70) != 0 || !masked || !(op <= 0x2 || (op >= 0x8 && op <= 0xA))) {
    return 1002;  // reserved bits, unmasked (§5.1), unknown opcode
  }
  if ((extended == 2 && length < 126) ||
      (extended == 8 && ((length >> 63) != 0 || length <= 0xFFFF))) {
    return 1002;  // length not in its minimal form (§5.2)
  }
  if (control && (!fin || length > 125)) {
    return 1002;  // §5.5
  }
  if ((op == 0x0 && !in_message) || ((op == 0x1 || op == 0x2) && in_message)) {
    return 1002;  // §5.4
  }
  if (op == 0x1) {
    return 1003;  // Text: MQTT is binary only
  }
  if (!control && (length > limits.max_frame_bytes ||
                   (op == 0x0 ? message_bytes : 0) + length > limits.max_message_bytes)) {
    return 1009;
  }
  return 0;
}

// Error of a complete Close frame's payload, or 0 (then `log` has its event).
uint16_t close_frame(std::span<const uint8_t> payload, Log& log) {
  if (payload.size() == 1) {
    return 1002;
  }
  uint16_t code = 1005;
  std::string_view reason;
  if (payload.size() >= 2) {
    code = static_cast<uint16_t>((payload[0] << 8) | payload[1]);
    if (!peregrine::net::ws::valid_close_code(code)) {
      return 1002;
    }
    reason = std::string_view(reinterpret_cast<const char*>(payload.data()) + 2,
                              payload.size() - 2);
    if (!peregrine::mqtt::well_formed_utf8(reason)) {
      return 1007;
    }
  }
  log.events.push_back({'c', std::string(reason), code});
  log.closed = true;
  return 0;
}

// The stream decoded frame by frame over the whole buffer, with no incremental state.
Log walk(std::span<const uint8_t> in, const DecoderLimits& limits) {
  Log log;
  bool in_message = false;
  uint64_t message_bytes = 0;
  size_t pos = 0;
  while (in.size() - pos >= 2 && !log.closed) {
    const uint8_t b0 = in[pos];
    const uint8_t len7 = in[pos + 1] & 0x7F;
    const bool masked = (in[pos + 1] & 0x80) != 0;
    const size_t extended = len7 == 126 ? 2 : (len7 == 127 ? 8 : 0);
    const size_t head = 2 + extended + (masked ? 4 : 0);
    if (in.size() - pos < head) {
      break;  // the header is not all here yet
    }
    uint64_t length = extended == 0 ? len7 : 0;
    for (size_t i = 0; i < extended; ++i) {
      length = (length << 8) | in[pos + 2 + i];
    }
    log.error = header_error(b0, masked, extended, length, in_message, message_bytes, limits);
    if (log.error != 0) {
      return log;
    }
    const uint8_t* mask = &in[pos + head - 4];
    pos += head;
    const size_t have = static_cast<size_t>(std::min<uint64_t>(length, in.size() - pos));
    std::vector<uint8_t> payload(have);
    for (size_t i = 0; i < have; ++i) {
      payload[i] = in[pos + i] ^ mask[i % 4];
    }
    pos += have;
    const uint8_t op = b0 & 0x0F;
    if ((op & 0x08) == 0) {
      if (have > 0) {
        add_data(log, payload);
      }
      message_bytes = (op == 0x0 ? message_bytes : 0) + length;
      in_message = (b0 & 0x80) == 0;
      continue;
    }
    if (have < length) {
      break;  // a control frame is reported only once complete
    }
    if (op == 0x8) {
      log.error = close_frame(payload, log);
      if (log.error != 0) {
        return log;
      }
    } else {
      log.events.push_back({op == 0x9 ? 'i' : 'o', string_of(payload), 0});
    }
  }
  return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const uint8_t selector = data[0];
  const DecoderLimits& limits = kLimits[selector % std::size(kLimits)];
  const std::span<const uint8_t> stream(data + 1, size - 1);
  const Log whole = decode(stream, limits, nullptr);
  Splitter splitter(selector);
  const Log split = decode(stream, limits, &splitter);
  PG_ASSERT_MSG(whole == split, "split feeding changed what was reported");
  PG_ASSERT_MSG(whole == walk(stream, limits), "decoder and frame walker disagree");
  return 0;
}
