// libFuzzer target for the HTTP/1.1 request parser. Byte 0 picks the limits (low three
// bits) and how the stream is cut into feeds (high bits); the rest is a connection's byte
// stream, parsed request after request (reset after each, as a pipelining connection
// would). Checks: no feed consumes more than it was given, a parser that needs more takes
// everything, bodies stay within max_body_bytes, errors carry an allowed status; every
// request parses the same when fed whole; a complete request, written out again in
// canonical form, parses back to the same Request.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <span>
#include <string>

#include "src/base/assert.h"
#include "src/http/request_parser.h"

namespace {

using peregrine::http::ParseResult;
using peregrine::http::ParserLimits;
using peregrine::http::ParseStatus;
using peregrine::http::Request;
using peregrine::http::RequestParser;
using Bytes = std::span<const uint8_t>;

constexpr ParserLimits kLimits[] = {
    {8192, 64, 1 << 20}, {64, 4, 16}, {256, 8, 1024}, {18, 1, 0},
    {1024, 64, 65'536},  {40, 2, 3},  {512, 0, 100},  {8192, 64, 1 << 20},
};
// Feed sizes; 0 draws each size from a small generator seeded by byte 0.
constexpr size_t kPieces[] = {std::numeric_limits<size_t>::max(), 1, 2, 3, 7, 64, 0, 0};

struct Splitter {
  size_t fixed;
  uint32_t state;
  size_t next() {
    if (fixed != 0) {
      return fixed;
    }
    state = state * 1'103'515'245u + 12'345u;
    return 1 + (state >> 16) % 31;
  }
};

Bytes bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void check_result(const ParseResult& r, const RequestParser& parser, const ParserLimits& limits) {
  PG_ASSERT(parser.request().body.size() <= limits.max_body_bytes);
  if (r.status == ParseStatus::kError) {
    PG_ASSERT(r.why != nullptr);
    PG_ASSERT(r.http_status == 400 || r.http_status == 413 || r.http_status == 431 ||
              r.http_status == 501 || r.http_status == 505);
  } else {
    PG_ASSERT(r.http_status == 0);
  }
  if (r.status == ParseStatus::kComplete) {
    PG_ASSERT(parser.head_complete());
    PG_ASSERT(!parser.request().method.empty() && !parser.request().target.empty());
  }
}

// Feeds `stream` in pieces until the request ends or the stream does; returns the last
// result with `consumed` summed over the feeds.
ParseResult feed_request(RequestParser& parser, Bytes stream, Splitter& splitter,
                         const ParserLimits& limits) {
  ParseResult r;
  size_t offset = 0;
  do {
    const size_t n = std::min(splitter.next(), stream.size() - offset);
    r = parser.feed(stream.subspan(offset, n));
    PG_ASSERT(r.consumed <= n);
    PG_ASSERT(r.status != ParseStatus::kNeedMore || r.consumed == n);
    check_result(r, parser, limits);
    offset += r.consumed;
  } while (r.status == ParseStatus::kNeedMore && offset < stream.size());
  r.consumed = offset;
  return r;
}

// The request in canonical form: single spaces, CRLF, "name: value", the body as one chunk.
std::string serialize(const Request& r) {
  std::string out =
      r.method + " " + r.target + " HTTP/1." + std::to_string(r.minor_version) + "\r\n";
  for (const auto& [name, value] : r.headers) {
    out += name + ": " + value + "\r\n";
  }
  out += "\r\n";
  if (!r.chunked) {
    return out + r.body;
  }
  if (!r.body.empty()) {
    char size[32];
    std::snprintf(size, sizeof(size), "%zx\r\n", r.body.size());
    out += size + r.body + "\r\n";
  }
  return out + "0\r\n\r\n";
}

void check_round_trip(const Request& request, const ParserLimits& limits) {
  const std::string canonical = serialize(request);
  // "n:v\n" grows to "n: v\r\n" at most: twice the head fits.
  RequestParser again({2 * limits.max_head_bytes + 16, limits.max_headers, limits.max_body_bytes});
  const ParseResult r = again.feed(bytes_of(canonical));
  PG_ASSERT_MSG(r.status == ParseStatus::kComplete, r.why);
  PG_ASSERT(r.consumed == canonical.size());
  PG_ASSERT(again.request() == request);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const uint8_t selector = data[0];
  const ParserLimits& limits = kLimits[selector & 7];
  Splitter splitter{kPieces[selector >> 5], selector};
  const Bytes stream(data + 1, size - 1);
  RequestParser parser(limits);
  size_t offset = 0;
  while (offset < stream.size()) {
    const Bytes rest = stream.subspan(offset);
    const ParseResult split = feed_request(parser, rest, splitter, limits);
    // The same bytes fed whole give the same outcome.
    RequestParser whole(limits);
    const ParseResult once = whole.feed(rest);
    PG_ASSERT(once.status == split.status && once.http_status == split.http_status);
    // (After an error the count is unspecified: a too-long line is refused whole.)
    PG_ASSERT(once.status == ParseStatus::kError || once.consumed == split.consumed);
    PG_ASSERT(whole.request() == parser.request());
    if (split.status != ParseStatus::kComplete) {
      break;  // an error closes the connection; need-more means the stream ended
    }
    PG_ASSERT(parser.feed(rest.subspan(split.consumed)).consumed == 0);
    check_round_trip(parser.request(), limits);
    PG_ASSERT(split.consumed > 0);
    offset += split.consumed;
    parser.reset();
  }
  return 0;
}
