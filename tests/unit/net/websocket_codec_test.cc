// WebSocket framing (RFC 6455): the handshake's accept key and key check, close codes, server
// frame headers, and the client-frame decoder — every length form, fragmentation, control
// frames, every protocol error with its close code, and feeding in pieces of any size.
#include "src/net/websocket_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace peregrine::net::ws {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr std::array<uint8_t, 4> kMask = {0x37, 0xFA, 0x21, 0x3D};

// Length forms of a frame header: 7-bit, 16-bit (126) or 64-bit (127).
constexpr uint8_t kShort = 0;
constexpr uint8_t kLen16 = 126;
constexpr uint8_t kLen64 = 127;

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::string string_of(std::span<const uint8_t> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

// A payload whose bytes differ from their neighbours and from the mask.
Bytes pattern(size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<uint8_t>((i * 7 + i / 251 + 3) & 0xFF);
  }
  return out;
}

uint8_t first_byte(Opcode opcode, bool fin) {
  return static_cast<uint8_t>((fin ? 0x80 : 0x00) | static_cast<uint8_t>(opcode));
}

uint8_t minimal_form(uint64_t length) {
  if (length < 126) {
    return kShort;
  }
  return length <= 0xFFFF ? kLen16 : kLen64;
}

// A client frame header declaring `length` in the given form, with the fixed mask key unless
// `masked` is false. The length is written as given, valid or not.
Bytes header(uint8_t b0, uint64_t length, uint8_t form, bool masked = true) {
  const uint8_t mask_bit = masked ? 0x80 : 0x00;
  Bytes out{b0};
  if (form == kLen16) {
    out.push_back(mask_bit | kLen16);
    out.push_back(static_cast<uint8_t>(length >> 8));
    out.push_back(static_cast<uint8_t>(length));
  } else if (form == kLen64) {
    out.push_back(mask_bit | kLen64);
    for (int i = 0; i < 8; ++i) {
      out.push_back(static_cast<uint8_t>(length >> (56 - 8 * i)));
    }
  } else {
    out.push_back(static_cast<uint8_t>(mask_bit | length));
  }
  if (masked) {
    out.insert(out.end(), kMask.begin(), kMask.end());
  }
  return out;
}

// Payload bytes as a client puts them on the wire after its header.
Bytes masked(const Bytes& payload) {
  Bytes out(payload.size());
  for (size_t i = 0; i < payload.size(); ++i) {
    out[i] = payload[i] ^ kMask[i % 4];
  }
  return out;
}

Bytes raw_frame(uint8_t b0, const Bytes& payload, uint8_t form, bool mask = true) {
  Bytes out = header(b0, payload.size(), form, mask);
  const Bytes body = mask ? masked(payload) : payload;
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// A well-formed masked client frame with the shortest length form.
Bytes frame(Opcode opcode, const Bytes& payload, bool fin = true) {
  return raw_frame(first_byte(opcode, fin), payload, minimal_form(payload.size()));
}

Bytes close_payload(uint16_t code, std::string_view reason) {
  Bytes out(2 + reason.size());
  out[0] = static_cast<uint8_t>(code >> 8);
  out[1] = static_cast<uint8_t>(code);
  std::copy(reason.begin(), reason.end(), out.begin() + 2);
  return out;
}

Bytes close_frame(uint16_t code, std::string_view reason) {
  return frame(Opcode::kClose, close_payload(code, reason));
}

struct Event {
  enum Kind { kData, kPing, kPong, kClose } kind;
  std::string bytes;  // data, a ping/pong payload, or a close reason
  uint16_t code = 0;
  bool operator==(const Event&) const = default;
};

void PrintTo(const Event& e, std::ostream* os) {
  static constexpr const char* kNames[] = {"Data", "Ping", "Pong", "Close"};
  *os << kNames[e.kind] << "(" << e.bytes.size() << " bytes";
  if (e.kind == Event::kClose) {
    *os << ", code " << e.code;
  }
  *os << ")";
}

Event data(const Bytes& b) { return {Event::kData, string_of(b), 0}; }
Event data(std::string_view s) { return {Event::kData, std::string(s), 0}; }
Event ping(const Bytes& b) { return {Event::kPing, string_of(b), 0}; }
Event pong(const Bytes& b) { return {Event::kPong, string_of(b), 0}; }
Event close_event(uint16_t code, std::string_view reason) {
  return {Event::kClose, std::string(reason), code};
}

// Records what the decoder reports; data pieces that follow each other are joined, since
// the decoder may hand a frame on in any number of pieces.
class RecordingSink final : public FrameSink {
 public:
  std::vector<Event> events;

  void on_message_data(std::span<const uint8_t> d) override {
    if (!events.empty() && events.back().kind == Event::kData) {
      events.back().bytes += string_of(d);
    } else {
      events.push_back({Event::kData, string_of(d), 0});
    }
  }
  void on_ping(std::span<const uint8_t> p) override {
    events.push_back({Event::kPing, string_of(p), 0});
  }
  void on_pong(std::span<const uint8_t> p) override {
    events.push_back({Event::kPong, string_of(p), 0});
  }
  void on_close(uint16_t code, std::string_view reason) override {
    events.push_back(close_event(code, reason));
  }
};

struct Decoded {
  std::vector<Event> events;
  uint16_t error = 0;
  const char* why = nullptr;
  bool closed = false;
};

// Feeds `stream` in pieces of `piece` bytes (0: all at once), stopping at the first error
// as a connection does.
Decoded decode(const Bytes& stream, size_t piece = 0, DecoderLimits limits = {}) {
  FrameDecoder decoder(limits);
  RecordingSink sink;
  Decoded out;
  const size_t step = piece == 0 ? std::max<size_t>(stream.size(), 1) : piece;
  for (size_t at = 0; at < stream.size(); at += step) {
    const size_t n = std::min(step, stream.size() - at);
    const DecodeError error = decoder.feed(std::span(stream).subspan(at, n), sink);
    if (error.close_code != 0) {
      out.error = error.close_code;
      out.why = error.why;
      break;
    }
  }
  out.events = std::move(sink.events);
  out.closed = decoder.closed();
  return out;
}

// ---- handshake ------------------------------------------------------------------------

TEST(WebSocketHandshake, AcceptKey) {
  struct Case {
    const char* key;
    const char* accept;
  };
  const Case cases[] = {
      {"dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},  // RFC 6455 §1.3
      {"x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk="},
      {"AAAAAAAAAAAAAAAAAAAAAA==", "ICX+Yqv66kxgM0FcWaLWlFLwTAI="},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(accept_key(c.key), c.accept) << c.key;
  }
}

TEST(WebSocketHandshake, ClientKeyMustBeBase64Of16Bytes) {
  struct Case {
    std::string_view key;
    bool valid;
  };
  const Case cases[] = {
      {"dGhlIHNhbXBsZSBub25jZQ==", true},
      {"AAAAAAAAAAAAAAAAAAAAAA==", true},
      {"/////////////////////w==", true},
      {"", false},
      {"dGhlIHNhbXBsZSBub25jZQ=", false},    // 23 characters
      {"dGhlIHNhbXBsZSBub25jZQ===", false},  // 25 characters
      {"AAAAAAAAAAAAAAAAAAAA", false},       // 15 bytes
      {"AAAAAAAAAAAAAAAAAAAAAAA=", false},   // 17 bytes
      {"AAAAAAAAAAAAAAAAAAAAAAAA", false},   // 18 bytes
      {"dGhlIHNhbXBsZSBub25jZQ!=", false},   // not a base64 character
      {"dGhlIHNhbXBsZSBub2*jZQ==", false},
      {"dGhlIHNhbXBs ZSBub25jZQ=", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(valid_client_key(c.key), c.valid) << '"' << c.key << '"';
  }
}

// ---- close codes ----------------------------------------------------------------------

TEST(WebSocketCloseCode, RangeBoundaries) {
  struct Case {
    uint16_t code;
    bool valid;
  };
  const Case cases[] = {
      {0, false},     {999, false},   {1000, true},   {1001, true},  {1002, true},
      {1003, true},   {1004, false},  {1005, false},  {1006, false}, {1007, true},
      {1008, true},   {1009, true},   {1010, true},   {1011, true},  {1012, true},
      {1013, true},   {1014, true},   {1015, false},  {1016, false}, {2000, false},
      {2999, false},  {3000, true},   {4000, true},   {4999, true},  {5000, false},
      {65535, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(valid_close_code(c.code), c.valid) << c.code;
  }
}

TEST(WebSocketCloseCode, ExactlyTheRegisteredAndApplicationCodesAreValid) {
  // 1000-1003 and 1007-1014 (§7.4.1, IANA registry) plus 3000-4999 (§7.4.2).
  int valid = 0;
  for (uint32_t code = 0; code <= 0xFFFF; ++code) {
    valid += valid_close_code(static_cast<uint16_t>(code)) ? 1 : 0;
  }
  EXPECT_EQ(valid, 4 + 8 + 2000);
}

// ---- server frame headers -------------------------------------------------------------

TEST(WebSocketEncode, HeaderForEveryLengthForm) {
  struct Case {
    Opcode opcode;
    uint64_t length;
    Bytes expected;
  };
  const Case cases[] = {
      {Opcode::kBinary, 0, {0x82, 0x00}},
      {Opcode::kBinary, 125, {0x82, 0x7D}},
      {Opcode::kBinary, 126, {0x82, 0x7E, 0x00, 0x7E}},
      {Opcode::kBinary, 65535, {0x82, 0x7E, 0xFF, 0xFF}},
      {Opcode::kBinary, 65536, {0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}},
      {Opcode::kBinary, uint64_t{1} << 32, {0x82, 0x7F, 0, 0, 0, 0x01, 0, 0, 0, 0}},
      {Opcode::kClose, 2, {0x88, 0x02}},
      {Opcode::kPing, 0, {0x89, 0x00}},
      {Opcode::kPong, 125, {0x8A, 0x7D}},
  };
  for (const Case& c : cases) {
    uint8_t out[kMaxHeaderSize + 4];
    std::fill(std::begin(out), std::end(out), 0xEE);
    const size_t n = encode_header(c.opcode, c.length, out);
    EXPECT_EQ(Bytes(out, out + n), c.expected) << "length " << c.length;
    EXPECT_EQ(out[n], 0xEE) << "wrote past the header, length " << c.length;
  }
}

// ---- decoding well-formed streams -----------------------------------------------------

TEST(WebSocketDecode, MaskedBinaryFrameOfEveryLengthForm) {
  for (const size_t length : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{65535},
                              size_t{65536}, size_t{100'000}}) {
    SCOPED_TRACE(length);
    const Bytes payload = pattern(length);
    const Bytes stream = frame(Opcode::kBinary, payload);
    const size_t extended = length < 126 ? 0 : (length < 65536 ? 2 : 8);
    ASSERT_EQ(stream.size(), 2 + extended + 4 + length);
    for (const size_t piece : {size_t{0}, size_t{3}, size_t{4096}}) {
      const Decoded d = decode(stream, piece);
      EXPECT_EQ(d.error, 0) << d.why;
      if (length == 0) {
        EXPECT_TRUE(d.events.empty());
      } else {
        EXPECT_EQ(d.events, std::vector<Event>{data(payload)}) << "piece " << piece;
      }
    }
  }
}

TEST(WebSocketDecode, SixtyFourBitLengthIsReadWhole) {
  // A 2^32-byte frame: what follows its first 64 KiB is still its payload, even bytes that
  // would make a Ping frame on their own.
  const uint64_t length = uint64_t{1} << 32;
  const Bytes head = header(first_byte(Opcode::kBinary, true), length, kLen64);
  const Bytes body = concat({pattern(65536), frame(Opcode::kPing, bytes_of("hi"))});
  const Bytes stream = concat({head, masked(body)});
  const DecoderLimits limits{.max_frame_bytes = length, .max_message_bytes = length};
  const Decoded d = decode(stream, 1000, limits);
  EXPECT_EQ(d.error, 0) << d.why;
  EXPECT_EQ(d.events, std::vector<Event>{data(body)});
}

TEST(WebSocketDecode, FragmentedMessageInOrderWithControlFramesBetween) {
  const Bytes stream = concat({
      frame(Opcode::kBinary, bytes_of("ab"), false),
      frame(Opcode::kContinuation, {}, false),
      frame(Opcode::kPing, bytes_of("p")),  // §5.4: control frames may come between fragments
      frame(Opcode::kContinuation, bytes_of("cd"), false),
      frame(Opcode::kContinuation, bytes_of("ef"), true),
      frame(Opcode::kPong, {}),
      frame(Opcode::kBinary, bytes_of("gh"), false),  // a new message once the last ended
      frame(Opcode::kContinuation, bytes_of("ij"), true),
  });
  const std::vector<Event> expected = {data("ab"), ping(bytes_of("p")), data("cdef"), pong({}),
                                       data("ghij")};
  for (const size_t piece : {size_t{0}, size_t{1}, size_t{5}}) {
    const Decoded d = decode(stream, piece);
    EXPECT_EQ(d.error, 0) << d.why;
    EXPECT_EQ(d.events, expected) << "piece " << piece;
    EXPECT_FALSE(d.closed);
  }
}

TEST(WebSocketDecode, PingAndPongPayloads) {
  for (const size_t length : {size_t{0}, size_t{1}, size_t{4}, size_t{5}, size_t{125}}) {
    SCOPED_TRACE(length);
    const Bytes payload = pattern(length);
    const Bytes stream = concat({frame(Opcode::kPing, payload), frame(Opcode::kPong, payload)});
    const Decoded d = decode(stream);
    EXPECT_EQ(d.error, 0) << d.why;
    EXPECT_EQ(d.events, (std::vector<Event>{ping(payload), pong(payload)}));
  }
}

TEST(WebSocketDecode, CloseWithCodeAndReason) {
  struct Case {
    uint16_t code;
    std::string reason;
  };
  const Case cases[] = {
      {1000, ""},
      {1000, "bye"},
      {1001, "going away"},
      {1011, std::string(123, 'x')},  // the longest reason a control frame holds
      {1014, "x"},
      {3000, "app"},
      {4999, "\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E"},  // é € 𝄞
      {1000, std::string("a\0b", 3)},                  // U+0000 is valid UTF-8
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.code);
    const Decoded d = decode(close_frame(c.code, c.reason));
    EXPECT_EQ(d.error, 0) << d.why;
    EXPECT_EQ(d.events, std::vector<Event>{close_event(c.code, c.reason)});
    EXPECT_TRUE(d.closed);
  }
}

TEST(WebSocketDecode, CloseWithoutBodyReports1005) {
  const Decoded d = decode(frame(Opcode::kClose, {}));
  EXPECT_EQ(d.error, 0) << d.why;
  EXPECT_EQ(d.events, std::vector<Event>{close_event(1005, "")});
  EXPECT_TRUE(d.closed);
}

TEST(WebSocketDecode, BytesAfterCloseAreIgnored) {
  // §5.5.1: nothing after a Close is data, not even what would be a protocol error.
  const Bytes stream = concat({frame(Opcode::kBinary, bytes_of("m")), close_frame(1000, "bye"),
                               frame(Opcode::kPing, bytes_of("late")), Bytes{0xFF, 0x00, 0x81}});
  for (const size_t piece : {size_t{0}, size_t{1}}) {
    const Decoded d = decode(stream, piece);
    EXPECT_EQ(d.error, 0) << d.why;
    EXPECT_EQ(d.events, (std::vector<Event>{data("m"), close_event(1000, "bye")}));
    EXPECT_TRUE(d.closed);
  }
  FrameDecoder decoder;
  RecordingSink sink;
  EXPECT_EQ(decoder.feed(close_frame(1001, ""), sink).close_code, 0);
  const Bytes later = frame(Opcode::kText, bytes_of("text is refused, but not after Close"));
  EXPECT_EQ(decoder.feed(later, sink).close_code, 0);
  EXPECT_EQ(sink.events, std::vector<Event>{close_event(1001, "")});
}

TEST(WebSocketDecode, LimitsAreInclusiveAndPerMessage) {
  const DecoderLimits limits{.max_frame_bytes = 100, .max_message_bytes = 150};
  const Bytes stream = concat({
      frame(Opcode::kBinary, pattern(100)),  // a frame at its limit
      frame(Opcode::kBinary, pattern(100), false),
      frame(Opcode::kContinuation, pattern(50), true),  // a message at its limit
      frame(Opcode::kBinary, pattern(100), false),      // the count starts again
      frame(Opcode::kContinuation, pattern(50), true),
      frame(Opcode::kPing, pattern(125)),  // control frames are not data
  });
  const Decoded d = decode(stream, 0, limits);
  EXPECT_EQ(d.error, 0) << d.why;
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[0].bytes.size(), 100u + 150u + 150u);
  EXPECT_EQ(d.events[1], ping(pattern(125)));
}

// ---- protocol errors ------------------------------------------------------------------

struct ErrorCase {
  std::string name;
  Bytes stream;
  uint16_t code;
  std::vector<Event> before = {};  // what is reported before the error
  DecoderLimits limits = {};
};

std::vector<ErrorCase> error_cases() {
  const uint8_t bin = first_byte(Opcode::kBinary, true);
  const uint8_t bin_more = first_byte(Opcode::kBinary, false);
  const uint8_t cont = first_byte(Opcode::kContinuation, true);
  const uint8_t ping_fin = first_byte(Opcode::kPing, true);
  std::vector<ErrorCase> cases = {
      {"unmasked", raw_frame(bin, bytes_of("hello"), kShort, false), 1002},
      {"unmasked, empty", raw_frame(bin, {}, kShort, false), 1002},
      {"unmasked ping", raw_frame(ping_fin, {}, kShort, false), 1002},
      {"unmasked, 16-bit length", raw_frame(bin, pattern(200), kLen16, false), 1002},
      {"RSV1", raw_frame(bin | 0x40, bytes_of("x"), kShort), 1002},
      {"RSV2", raw_frame(bin | 0x20, bytes_of("x"), kShort), 1002},
      {"RSV3", raw_frame(bin | 0x10, bytes_of("x"), kShort), 1002},
      {"RSV on a ping", raw_frame(ping_fin | 0x40, {}, kShort), 1002},
      {"text", frame(Opcode::kText, bytes_of("hi")), 1003},
      {"text after binary", concat({frame(Opcode::kBinary, bytes_of("b")),
                                    frame(Opcode::kText, bytes_of("t"))}),
       1003, {data("b")}},
      {"16-bit form for 125", raw_frame(bin, pattern(125), kLen16), 1002},
      {"16-bit form for 0", raw_frame(bin, {}, kLen16), 1002},
      {"64-bit form for 0", raw_frame(bin, {}, kLen64), 1002},
      {"64-bit form for 126", raw_frame(bin, pattern(126), kLen64), 1002},
      {"64-bit form for 65535", raw_frame(bin, pattern(65535), kLen64), 1002},
      {"64-bit length, top bit", header(bin, uint64_t{1} << 63, kLen64), 1002},
      {"64-bit length, all ones", header(bin, ~uint64_t{0}, kLen64), 1002},
      {"ping without FIN", frame(Opcode::kPing, bytes_of("p"), false), 1002},
      {"pong without FIN", frame(Opcode::kPong, {}, false), 1002},
      {"close without FIN", frame(Opcode::kClose, close_payload(1000, ""), false), 1002},
      {"ping of 126", frame(Opcode::kPing, pattern(126)), 1002},
      {"pong of 126", frame(Opcode::kPong, pattern(126)), 1002},
      {"close of 126", close_frame(1000, std::string(124, 'r')), 1002},
      {"ping of 125 in 16-bit form", raw_frame(ping_fin, pattern(125), kLen16), 1002},
      {"continuation first", frame(Opcode::kContinuation, bytes_of("c")), 1002},
      {"continuation after a whole message",
       concat({frame(Opcode::kBinary, bytes_of("m")), raw_frame(cont, bytes_of("c"), kShort)}),
       1002, {data("m")}},
      {"binary inside a message",
       concat({frame(Opcode::kBinary, bytes_of("ab"), false), frame(Opcode::kBinary, {})}),
       1002, {data("ab")}},
      {"text inside a message",
       concat({frame(Opcode::kBinary, bytes_of("ab"), false), frame(Opcode::kText, {})}),
       1002, {data("ab")}},
      {"frame over max_frame_bytes", frame(Opcode::kBinary, pattern(101)), 1009, {},
       {.max_frame_bytes = 100, .max_message_bytes = 1000}},
      {"frame over the default limit", header(bin, (uint64_t{1} << 20) + 1, kLen64), 1009},
      {"huge frame", header(bin, uint64_t{1} << 40, kLen64), 1009},
      {"continuation over max_frame_bytes",
       concat({frame(Opcode::kBinary, bytes_of("a"), false),
               frame(Opcode::kContinuation, pattern(101))}),
       1009, {data("a")}, {.max_frame_bytes = 100, .max_message_bytes = 1000}},
      {"message over max_message_bytes",
       concat({raw_frame(bin_more, pattern(100), kShort),
               frame(Opcode::kContinuation, {}, false),
               frame(Opcode::kContinuation, pattern(51))}),
       1009, {data(pattern(100))}, {.max_frame_bytes = 100, .max_message_bytes = 150}},
      {"close of one byte", frame(Opcode::kClose, Bytes{0x03}), 1002},
      {"close reason bad UTF-8", close_frame(1000, "\xFF"), 1007},
      {"close reason overlong", close_frame(1000, "\xC0\x80"), 1007},
      {"close reason surrogate", close_frame(1000, "\xED\xA0\x80"), 1007},
      {"close reason truncated", close_frame(1000, "ok\xE2\x82"), 1007},
      {"close reason stray continuation", close_frame(1001, "\x80"), 1007},
      {"close reason after a message",
       concat({frame(Opcode::kBinary, bytes_of("m")), close_frame(1000, "\xF5\x80\x80\x80")}),
       1007, {data("m")}},
  };
  for (const uint8_t op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    cases.push_back({"opcode " + std::to_string(op), raw_frame(0x80 | op, {}, kShort), 1002});
  }
  for (const uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    cases.push_back({"close code " + std::to_string(code), close_frame(code, ""), 1002});
  }
  return cases;
}

TEST(WebSocketDecode, EveryErrorHasItsCloseCode) {
  for (const ErrorCase& c : error_cases()) {
    for (const size_t piece : {size_t{0}, size_t{1}}) {
      SCOPED_TRACE(c.name + (piece == 0 ? ", whole" : ", byte by byte"));
      const Decoded d = decode(c.stream, piece, c.limits);
      EXPECT_EQ(d.error, c.code);
      EXPECT_NE(d.why, nullptr);
      EXPECT_EQ(d.events, c.before);
      EXPECT_FALSE(d.closed);
    }
  }
}

TEST(WebSocketDecode, UnmaskedFrameFailsOnceItsHeaderIsComplete) {
  // An unmasked frame of two header bytes must fail at once, not when more bytes arrive:
  // a client that sends it and waits would otherwise hang until its keep-alive.
  for (const Opcode opcode : {Opcode::kBinary, Opcode::kPing, Opcode::kClose}) {
    FrameDecoder decoder;
    RecordingSink sink;
    const Bytes first = frame(Opcode::kBinary, bytes_of("ok"));
    const Bytes bad = {first_byte(opcode, true), 0x00};
    EXPECT_EQ(decoder.feed(concat({first, bad}), sink).close_code, 1002);
    EXPECT_EQ(sink.events, std::vector<Event>{data("ok")});
  }
}

// ---- feeding in pieces ----------------------------------------------------------------

TEST(WebSocketDecode, AnySplitGivesTheSameEvents) {
  const DecoderLimits limits{.max_frame_bytes = 70'000, .max_message_bytes = 140'000};
  const std::vector<Bytes> streams = {
      frame(Opcode::kBinary, pattern(5)),
      concat({frame(Opcode::kBinary, pattern(126)), frame(Opcode::kBinary, pattern(65535)),
              frame(Opcode::kBinary, pattern(65536))}),
      concat({frame(Opcode::kBinary, pattern(3), false), frame(Opcode::kPing, pattern(125)),
              frame(Opcode::kContinuation, pattern(0), false),
              frame(Opcode::kContinuation, pattern(300), true), frame(Opcode::kPong, {}),
              close_frame(1000, "done"), frame(Opcode::kPing, {})}),
      concat({frame(Opcode::kPing, {}), frame(Opcode::kBinary, {}), frame(Opcode::kClose, {})}),
      concat({raw_frame(first_byte(Opcode::kBinary, true), pattern(130), kLen16),
              close_frame(4000, "\xE2\x82\xAC")}),
  };
  for (size_t i = 0; i < streams.size(); ++i) {
    const Decoded whole = decode(streams[i], 0, limits);
    ASSERT_EQ(whole.error, 0) << "stream " << i << ": " << whole.why;
    ASSERT_FALSE(whole.events.empty());
    for (const size_t piece : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{7},
                               size_t{13}, size_t{127}, size_t{16'385}}) {
      const Decoded split = decode(streams[i], piece, limits);
      EXPECT_EQ(split.error, 0) << "stream " << i << ", piece " << piece;
      EXPECT_EQ(split.events, whole.events) << "stream " << i << ", piece " << piece;
      EXPECT_EQ(split.closed, whole.closed) << "stream " << i << ", piece " << piece;
    }
  }
}

}  // namespace
}  // namespace peregrine::net::ws
