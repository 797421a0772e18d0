// The HTTP/1.1 request parser: one table of valid requests (each also fed one byte at a
// time and in two pieces at every split point, which must parse identically), one table of
// faults with the exact status the parser must answer, and the limits at their boundary.
#include "src/http/request_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace peregrine::http {
namespace {

using namespace std::string_literals;
using Pairs = std::vector<std::pair<std::string, std::string>>;

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct Outcome {
  ParseResult result;  // the last feed's result; consumed is the total over all feeds
  Request request;
};

// Feeds `input` in pieces of `piece` bytes (0: whole) until the parser stops asking.
Outcome parse(std::string_view input, size_t piece = 0, const ParserLimits& limits = {}) {
  RequestParser parser(limits);
  Outcome out;
  size_t total = 0;
  std::string_view rest = input;
  do {
    const size_t n = piece == 0 ? rest.size() : std::min(piece, rest.size());
    out.result = parser.feed(bytes_of(rest.substr(0, n)));
    EXPECT_LE(out.result.consumed, n);
    total += out.result.consumed;
    rest.remove_prefix(out.result.consumed);
    if (out.result.status == ParseStatus::kNeedMore) {
      EXPECT_EQ(out.result.consumed, n) << "a parser that needs more takes all it is given";
    }
  } while (out.result.status == ParseStatus::kNeedMore && !rest.empty());
  out.result.consumed = total;
  out.request = parser.request();
  return out;
}

// Feeds `input` split once at `at`.
Outcome parse_split(std::string_view input, size_t at) {
  RequestParser parser;
  Outcome out;
  out.result = parser.feed(bytes_of(input.substr(0, at)));
  size_t total = out.result.consumed;
  if (out.result.status == ParseStatus::kNeedMore) {
    out.result = parser.feed(bytes_of(input.substr(at)));
    total += out.result.consumed;
  }
  out.result.consumed = total;
  out.request = parser.request();
  return out;
}

// ---------------------------------------------------------------------------------------
// Valid requests.

struct Good {
  const char* name;
  std::string input;
  std::string method;
  std::string path;
  Pairs query;
  std::string body;
  bool keep_alive = true;
  bool chunked = false;
  int minor = 1;
  size_t extra = 0;  // bytes at the end of `input` that belong to the next request
};

const Good kGood[] = {
    {"minimal GET", "GET / HTTP/1.1\r\nHost: b\r\n\r\n", "GET", "/", {}, ""},
    {"bare LF line ends", "GET /healthz HTTP/1.1\nHost: b\n\n", "GET", "/healthz", {}, ""},
    {"query decoded, repeated keys kept in order",
     "GET /events?topic=a%2Fb&topic=c+d&x&&=v&e= HTTP/1.1\r\nHost: b\r\n\r\n",
     "GET",
     "/events",
     {{"topic", "a/b"}, {"topic", "c d"}, {"x", ""}, {"", "v"}, {"e", ""}},
     ""},
    {"path percent-decoded, '+' kept in path",
     "GET /a%20b+c%2f HTTP/1.1\r\nHost: b\r\n\r\n",
     "GET",
     "/a b+c/",
     {},
     ""},
    {"empty query", "GET /x? HTTP/1.1\r\nHost: b\r\n\r\n", "GET", "/x", {}, ""},
    {"absolute-form http",
     "GET http://broker:8080/mqtt?a=1 HTTP/1.1\r\nHost: b\r\n\r\n",
     "GET",
     "/mqtt",
     {{"a", "1"}},
     ""},
    {"absolute-form https, empty path",
     "GET HTTPS://broker HTTP/1.1\r\nHost: b\r\n\r\n",
     "GET",
     "/",
     {},
     ""},
    {"asterisk-form OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: b\r\n\r\n", "OPTIONS", "*", {}, ""},
    {"POST with Content-Length",
     "POST /events HTTP/1.1\r\nHost: b\r\nContent-Length: 5\r\n\r\nhello",
     "POST",
     "/events",
     {},
     "hello"},
    {"Content-Length 0",
     "POST /events HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n",
     "POST",
     "/events",
     {},
     ""},
    {"repeated equal Content-Length",
     "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc",
     "POST",
     "/",
     {},
     "abc"},
    {"body with CR, LF and NUL bytes",
     "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 4\r\n\r\n\r\n\0x"s,
     "POST",
     "/",
     {},
     "\r\n\0x"s},
    {"chunked with extensions and trailers",
     "POST /events HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: Chunked\r\n\r\n"
     "5;name=value\r\nhello\r\n"
     "1A ; a=\"q\"\t;b\r\nabcdefghijklmnopqrstuvwxyz\r\n"
     "00000000000000000000000000000000000001\r\n!\r\n"
     "0;last\r\nX-Trailer: t\r\nChecksum: 1\r\n\r\n",
     "POST",
     "/events",
     {},
     "helloabcdefghijklmnopqrstuvwxyz!",
     true,
     true},
    {"chunked with bare LF line ends",
     "POST / HTTP/1.1\nHost: b\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n",
     "POST",
     "/",
     {},
     "abc",
     true,
     true},
    {"HTTP/1.1 Connection: close",
     "GET / HTTP/1.1\r\nHost: b\r\nConnection: Close\r\n\r\n",
     "GET",
     "/",
     {},
     "",
     false},
    {"HTTP/1.0 default close", "GET / HTTP/1.0\r\n\r\n", "GET", "/", {}, "", false, false, 0},
    {"HTTP/1.0 keep-alive",
     "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
     "GET",
     "/",
     {},
     "",
     true,
     false,
     0},
    {"HTTP/1.0 close wins over keep-alive",
     "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
     "GET",
     "/",
     {},
     "",
     false,
     false,
     0},
    {"leading empty lines skipped",
     "\r\n\n\r\n\r\nGET / HTTP/1.1\r\nHost: b\r\n\r\n",
     "GET",
     "/",
     {},
     ""},
    {"pipelined GET leaves the next request",
     "GET /a HTTP/1.1\r\nHost: b\r\n\r\nGET /b HTTP/1.1\r\nHost: b\r\n\r\n",
     "GET",
     "/a",
     {},
     "",
     true,
     false,
     1,
     28},
    {"pipelined POST stops at its Content-Length",
     "POST /a HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\n\r\nabcGET",
     "POST",
     "/a",
     {},
     "abc",
     true,
     false,
     1,
     3},
    {"pipelined chunked stops after its last CRLF",
     "POST /a HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\nGE",
     "POST",
     "/a",
     {},
     "z",
     true,
     true,
     1,
     2},
};

class GoodRequest : public ::testing::TestWithParam<Good> {};

TEST_P(GoodRequest, ParsesWhole) {
  const Good& g = GetParam();
  const Outcome out = parse(g.input);
  ASSERT_EQ(out.result.status, ParseStatus::kComplete) << out.result.why;
  EXPECT_EQ(out.result.consumed, g.input.size() - g.extra);
  EXPECT_EQ(out.request.method, g.method);
  EXPECT_EQ(out.request.path, g.path);
  EXPECT_EQ(out.request.query, g.query);
  EXPECT_EQ(out.request.body, g.body);
  EXPECT_EQ(out.request.keep_alive, g.keep_alive);
  EXPECT_EQ(out.request.chunked, g.chunked);
  EXPECT_EQ(out.request.minor_version, g.minor);
}

TEST_P(GoodRequest, ByteAtATimeEqualsWhole) {
  const Good& g = GetParam();
  const Outcome whole = parse(g.input);
  const Outcome bytewise = parse(g.input, 1);
  ASSERT_EQ(bytewise.result.status, ParseStatus::kComplete) << bytewise.result.why;
  EXPECT_EQ(bytewise.result.consumed, whole.result.consumed);
  EXPECT_EQ(bytewise.request, whole.request);
}

TEST_P(GoodRequest, EverySplitPointEqualsWhole) {
  const Good& g = GetParam();
  const Outcome whole = parse(g.input);
  for (size_t at = 0; at <= g.input.size(); ++at) {
    const Outcome split = parse_split(g.input, at);
    ASSERT_EQ(split.result.status, ParseStatus::kComplete) << "split at " << at;
    EXPECT_EQ(split.result.consumed, whole.result.consumed) << "split at " << at;
    EXPECT_EQ(split.request, whole.request) << "split at " << at;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, GoodRequest, ::testing::ValuesIn(kGood), [](const auto& info) {
  std::string name;
  for (const char c : std::string_view(info.param.name)) {
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  return name;
});

TEST(RequestParser, HeadersLowerCasedTrimmedAndLookedUp) {
  const Outcome out = parse(
      "GET /mqtt HTTP/1.1\r\nHost:  broker \t\r\nUpgrade: WebSocket\r\n"
      "Connection: keep-alive,\tUpgrade\r\nSec-WebSocket-Protocol: mqtt\r\n"
      "X-Empty:\r\nX-Dup: 1\r\nx-dup: 2\r\nX-Obs: caf\xC3\xA9\r\n\r\n");
  ASSERT_EQ(out.result.status, ParseStatus::kComplete) << out.result.why;
  const Request& r = out.request;
  const Pairs expected = {{"host", "broker"},
                          {"upgrade", "WebSocket"},
                          {"connection", "keep-alive,\tUpgrade"},
                          {"sec-websocket-protocol", "mqtt"},
                          {"x-empty", ""},
                          {"x-dup", "1"},
                          {"x-dup", "2"},
                          {"x-obs", "caf\xC3\xA9"}};
  EXPECT_EQ(r.headers, expected);
  ASSERT_NE(r.header("x-dup"), nullptr);
  EXPECT_EQ(*r.header("x-dup"), "1");
  EXPECT_EQ(r.header("X-Dup"), nullptr) << "lookups take lower-case names";
  EXPECT_EQ(r.header("absent"), nullptr);
  EXPECT_TRUE(r.header_has_token("connection", "upgrade"));
  EXPECT_TRUE(r.header_has_token("connection", "KEEP-ALIVE"));
  EXPECT_FALSE(r.header_has_token("connection", "close"));
  EXPECT_FALSE(r.header_has_token("connection", "keep"));
  EXPECT_TRUE(r.header_has_token("upgrade", "websocket"));
  EXPECT_TRUE(r.header_has_token("x-dup", "2")) << "every same-named line is searched";
  EXPECT_FALSE(r.header_has_token("absent", ""));
  EXPECT_TRUE(r.keep_alive);
}

TEST(RequestParser, QueryValues) {
  const Outcome out = parse("GET /events?topic=a&x=1&topic=b%26c HTTP/1.1\r\nHost: b\r\n\r\n");
  ASSERT_EQ(out.result.status, ParseStatus::kComplete);
  EXPECT_EQ(out.request.target, "/events?topic=a&x=1&topic=b%26c");
  EXPECT_EQ(out.request.query_values("topic"), (std::vector<std::string_view>{"a", "b&c"}));
  EXPECT_EQ(out.request.query_values("x"), (std::vector<std::string_view>{"1"}));
  EXPECT_TRUE(out.request.query_values("y").empty());
}

TEST(RequestParser, PipelinedRequestsParseAfterReset) {
  const std::string stream =
      "GET /a HTTP/1.1\r\nHost: b\r\n\r\n"
      "POST /b HTTP/1.1\r\nHost: b\r\nContent-Length: 2\r\n\r\nhi"
      "GET /c HTTP/1.0\r\n\r\n";
  RequestParser parser;
  std::string_view rest = stream;
  std::vector<std::string> paths;
  while (!rest.empty()) {
    const ParseResult r = parser.feed(bytes_of(rest));
    ASSERT_EQ(r.status, ParseStatus::kComplete) << r.why;
    paths.push_back(parser.request().path);
    rest.remove_prefix(r.consumed);
    parser.reset();
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"/a", "/b", "/c"}));
}

TEST(RequestParser, EndedParserConsumesNothingUntilReset) {
  RequestParser parser;
  const std::string ok = "GET / HTTP/1.1\r\nHost: b\r\n\r\n";
  ASSERT_EQ(parser.feed(bytes_of(ok)).status, ParseStatus::kComplete);
  const ParseResult again = parser.feed(bytes_of(ok));
  EXPECT_EQ(again.status, ParseStatus::kComplete);
  EXPECT_EQ(again.consumed, 0u);

  parser.reset();
  EXPECT_FALSE(parser.head_complete());
  ASSERT_EQ(parser.feed(bytes_of("GET / HTTP/9.9\r\n")).status, ParseStatus::kError);
  const ParseResult error = parser.feed(bytes_of(ok));
  EXPECT_EQ(error.status, ParseStatus::kError);
  EXPECT_EQ(error.http_status, 505);
  EXPECT_EQ(error.consumed, 0u);

  parser.reset();
  EXPECT_EQ(parser.feed(bytes_of(ok)).status, ParseStatus::kComplete);
  EXPECT_EQ(parser.request().path, "/");
}

TEST(RequestParser, HeadCompleteBeforeBody) {
  RequestParser parser;
  const std::string head = "POST /events HTTP/1.1\r\nHost: b\r\nContent-Length: 4\r\n";
  EXPECT_EQ(parser.feed(bytes_of(head)).status, ParseStatus::kNeedMore);
  EXPECT_FALSE(parser.head_complete());
  EXPECT_EQ(parser.feed(bytes_of("\r\nab")).status, ParseStatus::kNeedMore);
  EXPECT_TRUE(parser.head_complete());
  EXPECT_EQ(parser.request().path, "/events");
  EXPECT_EQ(parser.request().body, "ab");
  const ParseResult r = parser.feed(bytes_of("cdGET"));
  EXPECT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.consumed, 2u);
  EXPECT_EQ(parser.request().body, "abcd");
}

TEST(RequestParser, InvalidHeadIsNotComplete) {
  RequestParser parser;
  const ParseResult r = parser.feed(bytes_of("GET / HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(r.http_status, 400);
  EXPECT_FALSE(parser.head_complete()) << "a head without Host must not be answered as valid";
}

TEST(RequestParser, EmptyFeedNeedsMore) {
  RequestParser parser;
  const ParseResult r = parser.feed({});
  EXPECT_EQ(r.status, ParseStatus::kNeedMore);
  EXPECT_EQ(r.consumed, 0u);
}

// ---------------------------------------------------------------------------------------
// Faults.

struct Bad {
  const char* name;
  std::string input;
  int status;
  ParserLimits limits = {};
};

constexpr ParserLimits kSmallBody{8192, 64, 10};

const Bad kBad[] = {
    // Request line.
    {"no version", "GET /\r\n\r\n", 400},
    {"double space", "GET  / HTTP/1.1\r\n", 400},
    {"space in target", "GET /a b HTTP/1.1\r\n", 400},
    {"trailing space", "GET / HTTP/1.1 \r\n", 400},
    {"tab separator", "GET\t/ HTTP/1.1\r\n", 400},
    {"empty method", " / HTTP/1.1\r\n", 400},
    {"bad method char", "GE(T / HTTP/1.1\r\n", 400},
    {"lower-case version", "GET / http/1.1\r\n", 400},
    {"long version", "GET / HTTP/1.10\r\n", 400},
    {"version without minor", "GET / HTTP/1\r\n", 400},
    {"control char in target", "GET /a\x01 HTTP/1.1\r\n", 400},
    {"DEL in target", "GET /a\x7F HTTP/1.1\r\n", 400},
    {"non-ASCII in target", "GET /caf\xC3\xA9 HTTP/1.1\r\n", 400},
    {"fragment in target", "GET /a#b HTTP/1.1\r\n", 400},
    {"relative target", "GET mqtt HTTP/1.1\r\n", 400},
    {"authority-form", "CONNECT broker:443 HTTP/1.1\r\n", 400},
    {"other scheme", "GET ftp://h/x HTTP/1.1\r\n", 400},
    {"absolute-form without host", "GET http:///x HTTP/1.1\r\n", 400},
    {"absolute-form with userinfo", "GET http://u@h/x HTTP/1.1\r\n", 400},
    {"asterisk-form with GET", "GET * HTTP/1.1\r\n", 400},
    {"truncated percent in path", "GET /a%2 HTTP/1.1\r\n", 400},
    {"non-hex percent in path", "GET /a%zz HTTP/1.1\r\n", 400},
    {"bad percent in query key", "GET /?%g1=2 HTTP/1.1\r\n", 400},
    {"bad percent in query value", "GET /?a=%4 HTTP/1.1\r\n", 400},
    {"bare CR ends request line", "GET / HTTP/1.1\rHost: b\r\n\r\n", 400},
    {"bare CR inside request line", "GET /\r HTTP/1.1\r\n", 400},
    {"too many leading empty lines", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n", 400},
    // Header lines.
    {"space before colon", "GET / HTTP/1.1\r\nHost : b\r\n\r\n", 400},
    {"tab before colon", "GET / HTTP/1.1\r\nHost\t: b\r\n\r\n", 400},
    {"obs-fold", "GET / HTTP/1.1\r\nHost: b\r\nX-A: 1\r\n 2\r\n\r\n", 400},
    {"whitespace before first header", "GET / HTTP/1.1\r\n Host: b\r\n\r\n", 400},
    {"no colon", "GET / HTTP/1.1\r\nHost b\r\n\r\n", 400},
    {"empty header name", "GET / HTTP/1.1\r\n: b\r\n\r\n", 400},
    {"bad header name char", "GET / HTTP/1.1\r\nHo(st: b\r\n\r\n", 400},
    {"NUL in header value", "GET / HTTP/1.1\r\nHost: b\0c\r\n\r\n"s, 400},
    {"bare CR in header value", "GET / HTTP/1.1\r\nHost: b\rc\r\n\r\n", 400},
    {"bare CR as header end", "GET / HTTP/1.1\r\nHost: b\r\r\n", 400},
    {"missing Host in 1.1", "GET / HTTP/1.1\r\n\r\n", 400},
    {"two Host lines", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
    // Body framing.
    {"Content-Length and Transfer-Encoding",
     "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"Transfer-Encoding in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"Content-Length not a number", "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: x\r\n\r\n", 400},
    {"Content-Length negative", "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: -1\r\n\r\n", 400},
    {"Content-Length signed", "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: +1\r\n\r\n", 400},
    {"Content-Length empty", "POST / HTTP/1.1\r\nHost: b\r\nContent-Length:\r\n\r\n", 400},
    {"Content-Length empty element", "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 1,\r\n\r\n",
     400},
    {"Content-Length differing in a list",
     "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 1, 2\r\n\r\n", 400},
    {"Content-Length differing lines",
     "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
    {"Content-Length overflows 64 bits",
     "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 18446744073709551616\r\n\r\n", 400},
    // Chunked body.
    {"chunk size not hex",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", 400},
    {"chunk size empty", "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
     400},
    {"chunk size with sign",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\n", 400},
    {"chunk size then garbage",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n", 400},
    {"chunk size overflows",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 400},
    {"control char in chunk extension",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n1;a\x01\r\n", 400},
    {"chunk data too long",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", 400},
    {"chunk data then bare CR",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\rb", 400},
    {"bare CR in chunk-size line",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n1\r\r\n", 400},
    {"chunk-size line too long",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n1;" + std::string(1021, 'x') +
         "\r\n",
     400},
    {"obs-fold in trailer",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\n 2\r\n", 400},
    {"bad trailer line",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA 1\r\n", 400},
    // 413.
    {"Content-Length above max", "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 11\r\n\r\n", 413,
     kSmallBody},
    {"Content-Length far above max",
     "POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 18446744073709551615\r\n\r\n", 413},
    {"one chunk above max", "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n",
     413, kSmallBody},
    {"chunks summing above max",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5\r\n12345\r\n5\r\n67890\r\n1\r\n",
     413, kSmallBody},
    {"huge chunk",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", 413},
    // 431.
    {"too many headers", "GET / HTTP/1.1\r\nHost: b\r\nA: 1\r\nB: 2\r\n", 431, {8192, 2, 0}},
    {"head too large without line end", std::string(8193, 'G'), 431},
    {"request line too large", "GET /" + std::string(8192, 'a'), 431},
    {"trailer too large",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: " +
         std::string(8192, 'a'),
     431},
    // 501.
    {"gzip transfer coding", "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
    {"gzip then chunked", "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
     501},
    {"chunked then gzip", "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
     501},
    {"two Transfer-Encoding lines",
     "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     501},
    {"empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding:\r\n\r\n", 501},
    // 505.
    {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
    {"HTTP/1.2", "GET / HTTP/1.2\r\n", 505},
    {"HTTP/0.9 version", "GET / HTTP/0.9\r\n", 505},
    {"HTTP/3.0", "GET / HTTP/3.0\r\n", 505},
    {"505 wins over a bad target", "GET bad HTTP/2.0\r\n", 505},
};

class BadRequest : public ::testing::TestWithParam<Bad> {};

TEST_P(BadRequest, AnswersExactStatusWholeAndByteAtATime) {
  const Bad& b = GetParam();
  for (const size_t piece : {size_t{0}, size_t{1}, size_t{7}}) {
    SCOPED_TRACE(piece);
    const Outcome out = parse(b.input, piece, b.limits);
    ASSERT_EQ(out.result.status, ParseStatus::kError);
    EXPECT_EQ(out.result.http_status, b.status) << out.result.why;
    EXPECT_NE(out.result.why, nullptr);
    EXPECT_LE(out.request.body.size(), b.limits.max_body_bytes);
  }
}

INSTANTIATE_TEST_SUITE_P(Table, BadRequest, ::testing::ValuesIn(kBad), [](const auto& info) {
  std::string name;
  for (const char c : std::string_view(info.param.name)) {
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  return name;
});

// ---------------------------------------------------------------------------------------
// Limits at their boundary.

// A head of exactly `size` bytes (line ends included), padded in an X-Pad header.
std::string head_of_size(size_t size) {
  const std::string start = "GET / HTTP/1.1\r\nHost: b\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  return start + std::string(size - start.size() - end.size(), 'p') + end;
}

TEST(RequestParserLimits, HeadExactlyAtLimitFitsOneMoreByteDoesNot) {
  const ParserLimits limits{100, 64, 0};
  const std::string fits = head_of_size(100);
  ASSERT_EQ(fits.size(), 100u);
  for (const size_t piece : {size_t{0}, size_t{1}}) {
    EXPECT_EQ(parse(fits, piece, limits).result.status, ParseStatus::kComplete);
    const Outcome over = parse(head_of_size(101), piece, limits);
    EXPECT_EQ(over.result.status, ParseStatus::kError);
    EXPECT_EQ(over.result.http_status, 431);
  }
  // Bare LF line ends count one byte each.
  const std::string lf_head = "GET / HTTP/1.1\nHost: b\n\n";
  EXPECT_EQ(parse(lf_head, 0, {lf_head.size(), 64, 0}).result.status, ParseStatus::kComplete);
  EXPECT_EQ(parse(lf_head, 0, {lf_head.size() - 1, 64, 0}).result.http_status, 431);
}

TEST(RequestParserLimits, HeadRefusedAsSoonAsTheLimitIsCrossed) {
  RequestParser parser({100, 64, 0});
  const std::string unfinished(100, 'G');  // no line end yet: still within the limit
  ParseResult r = parser.feed(bytes_of(unfinished));
  EXPECT_EQ(r.status, ParseStatus::kNeedMore);
  EXPECT_EQ(r.consumed, 100u);
  r = parser.feed(bytes_of("G"));
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.http_status, 431);
}

TEST(RequestParserLimits, LeadingEmptyLinesDoNotCountInTheHead) {
  const std::string head = head_of_size(100);
  EXPECT_EQ(parse("\r\n\r\n" + head, 0, {100, 64, 0}).result.status, ParseStatus::kComplete);
}

TEST(RequestParserLimits, HeaderCountAtLimit) {
  const std::string three = "GET / HTTP/1.1\r\nHost: b\r\nA: 1\r\nB: 2\r\n\r\n";
  EXPECT_EQ(parse(three, 0, {8192, 3, 0}).result.status, ParseStatus::kComplete);
  const Outcome over = parse(three, 0, {8192, 2, 0});
  EXPECT_EQ(over.result.status, ParseStatus::kError);
  EXPECT_EQ(over.result.http_status, 431);
}

TEST(RequestParserLimits, ContentLengthAtLimit) {
  const ParserLimits limits{8192, 64, 10};
  const Outcome fits =
      parse("POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 10\r\n\r\n0123456789", 0, limits);
  EXPECT_EQ(fits.result.status, ParseStatus::kComplete);
  EXPECT_EQ(fits.request.body, "0123456789");
  // Refused right after the head: no body byte needs to arrive.
  const Outcome over = parse("POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 11\r\n\r\n", 0, limits);
  EXPECT_EQ(over.result.status, ParseStatus::kError);
  EXPECT_EQ(over.result.http_status, 413);
}

TEST(RequestParserLimits, ChunkedBodyAtLimit) {
  const ParserLimits limits{8192, 64, 10};
  const std::string head = "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n";
  const Outcome fits = parse(head + "4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n", 0, limits);
  EXPECT_EQ(fits.result.status, ParseStatus::kComplete);
  EXPECT_EQ(fits.request.body, "0123456789");
  const Outcome over = parse(head + "4\r\n0123\r\n7\r\n", 0, limits);
  EXPECT_EQ(over.result.status, ParseStatus::kError);
  EXPECT_EQ(over.result.http_status, 413);
}

TEST(RequestParserLimits, ChunkSizeLineAtLimit) {
  const std::string head = "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n";
  // 1024 bytes with the CRLF.
  const std::string line = "1;" + std::string(1020, 'x') + "\r\n";
  ASSERT_EQ(line.size(), 1024u);
  EXPECT_EQ(parse(head + line + "a\r\n0\r\n\r\n").result.status, ParseStatus::kComplete);
  const Outcome over = parse(head + "1;" + std::string(1021, 'x') + "\r\n");
  EXPECT_EQ(over.result.http_status, 400);
}

TEST(RequestParserLimits, TrailerAtLimit) {
  // The trailer section, final empty line included, is bounded by max_head_bytes.
  const std::string chunked =
      "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  const std::string line = "A: " + std::string(8186, 't') + "\r\n";
  ASSERT_EQ(line.size(), 8191u);
  EXPECT_EQ(parse(chunked + line + "\n").result.status, ParseStatus::kComplete);
  EXPECT_EQ(parse(chunked + line + "\r\n").result.http_status, 431);
}

}  // namespace
}  // namespace peregrine::http
