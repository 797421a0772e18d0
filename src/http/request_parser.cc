#include "src/http/request_parser.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "src/base/assert.h"

namespace peregrine::http {

namespace {

// Empty lines tolerated before the request line; RFC 9112 §2.2 asks for at least one.
constexpr uint8_t kMaxLeadingEmptyLines = 4;
// A chunk-size line with its extensions, line end included; extensions are ignored, so
// nothing legitimate needs more.
constexpr size_t kMaxChunkSizeLine = 1024;

constexpr int kBadRequest = 400;
constexpr int kContentTooLarge = 413;
constexpr int kHeadersTooLarge = 431;
constexpr int kNotImplemented = 501;
constexpr int kVersionNotSupported = 505;

// tchar of RFC 9110 §5.6.2.
bool is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    return true;
  }
  return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool is_token(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(static_cast<uint8_t>(c)); });
}

int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_ows(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// field-value bytes (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB; no other controls.
bool is_field_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7F); }

// Splits `list` at commas and calls `fn` with each OWS-trimmed element until it returns
// false; returns false if `fn` did.
template <typename Fn>
bool for_each_element(std::string_view list, Fn&& fn) {
  while (true) {
    const size_t comma = list.find(',');
    if (!fn(trim_ows(list.substr(0, comma)))) {
      return false;
    }
    if (comma == std::string_view::npos) {
      return true;
    }
    list.remove_prefix(comma + 1);
  }
}

// Appends the percent-decoded `in` to `out`; '+' becomes a space in query components.
bool percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c != '%') {
      out.push_back(plus_is_space && c == '+' ? ' ' : c);
      continue;
    }
    if (in.size() - i < 3) {
      return false;
    }
    const int hi = hex_value(static_cast<uint8_t>(in[i + 1]));
    const int lo = hex_value(static_cast<uint8_t>(in[i + 2]));
    if (hi < 0 || lo < 0) {
      return false;
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// application/x-www-form-urlencoded pairs, in order; empty pairs are dropped.
bool parse_query(std::string_view query, Request& out) {
  while (true) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      auto& [key, value] = out.query.emplace_back();
      if (!percent_decode(pair.substr(0, eq), true, key)) {
        return false;
      }
      if (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), true, value)) {
        return false;
      }
    }
    if (amp == std::string_view::npos) {
      return true;
    }
    query.remove_prefix(amp + 1);
  }
}

// Strips "http(s)://authority" from an absolute-form target (RFC 9112 §3.2.2); false for
// any other scheme, an empty authority, or one with userinfo (RFC 9110 §4.2.4).
bool strip_absolute_prefix(std::string_view& target) {
  if (target.size() >= 7 && iequals(target.substr(0, 7), "http://")) {
    target.remove_prefix(7);
  } else if (target.size() >= 8 && iequals(target.substr(0, 8), "https://")) {
    target.remove_prefix(8);
  } else {
    return false;
  }
  const std::string_view authority = target.substr(0, std::min(target.find('/'), target.find('?')));
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return false;
  }
  target.remove_prefix(authority.size());
  return true;
}

// Fills target, path and query from the request-target; returns why it is invalid.
const char* parse_target(std::string_view target, std::string_view method, Request& out) {
  // VCHAR only: no controls, spaces or raw non-ASCII; no fragment (RFC 9112 §3.2).
  for (const char c : target) {
    const auto u = static_cast<uint8_t>(c);
    if (u <= 0x20 || u >= 0x7F || c == '#') {
      return "bad character in request-target";
    }
  }
  out.target.assign(target);
  if (target == "*") {
    out.path.push_back('*');  // (push_back: GCC 12 misreports assign() with -Wrestrict)
    return method == "OPTIONS" ? nullptr : "asterisk-form is only for OPTIONS";
  }
  if (target.empty() || (target[0] != '/' && !strip_absolute_prefix(target))) {
    return "unsupported request-target form";
  }
  const size_t question = target.find('?');
  if (!percent_decode(target.substr(0, question), false, out.path)) {
    return "malformed percent-encoding in path";
  }
  if (out.path.empty()) {
    out.path.push_back('/');  // absolute-form with an empty path (RFC 9112 §3.2.2)
  }
  if (question != std::string_view::npos && !parse_query(target.substr(question + 1), out)) {
    return "malformed percent-encoding in query";
  }
  return nullptr;
}

// "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3). Returns the HTTP status of a fault, 0 if fine.
int parse_version(std::string_view v, int& minor) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
      v[7] < '0' || v[7] > '9') {
    return kBadRequest;
  }
  if (v[5] != '1' || v[7] > '1') {
    return kVersionNotSupported;  // also the HTTP/2 preface "PRI * HTTP/2.0"
  }
  minor = v[7] - '0';
  return 0;
}

// A field line "name: value" (RFC 9112 §5), not empty; returns why it is invalid.
const char* split_field_line(std::string_view line, std::string_view& name,
                             std::string_view& value) {
  if (is_ows(line.front())) {
    return "obsolete line folding";  // RFC 9112 §5.2
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return "header line without colon";
  }
  name = line.substr(0, colon);
  if (!is_token(name)) {
    return "bad header name";  // includes whitespace before the colon, RFC 9112 §5.1
  }
  value = trim_ows(line.substr(colon + 1));
  for (const char c : value) {
    if (!is_field_char(static_cast<uint8_t>(c))) {
      return "bad character in header value";
    }
  }
  return nullptr;
}

// 1*DIGIT that fits 64 bits.
bool parse_decimal(std::string_view s, uint64_t& n) {
  n = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
    const auto digit = static_cast<uint64_t>(c - '0');
    if (n > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return false;
    }
    n = n * 10 + digit;
  }
  return !s.empty();
}

// Every Content-Length line: a comma list of equal decimals (RFC 9110 §8.6). False for
// anything else, including differing values and a value that does not fit 64 bits.
bool parse_content_length(const Request& request, bool& present, uint64_t& length) {
  present = false;
  for (const auto& [name, value] : request.headers) {
    if (name != "content-length") {
      continue;
    }
    const bool ok = for_each_element(value, [&](std::string_view element) {
      uint64_t n = 0;
      if (!parse_decimal(element, n) || (present && n != length)) {
        return false;
      }
      present = true;
      length = n;
      return true;
    });
    if (!ok) {
      return false;
    }
  }
  return true;
}

size_t count_headers(const Request& request, std::string_view name) {
  return static_cast<size_t>(std::count_if(request.headers.begin(), request.headers.end(),
                                           [&](const auto& h) { return h.first == name; }));
}

}  // namespace

const std::string* Request::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) {
      return &value;
    }
  }
  return nullptr;
}

bool Request::header_has_token(std::string_view lower_name, std::string_view token) const {
  for (const auto& [name, value] : headers) {
    // for_each_element stops, returning false, at the first match.
    if (name == lower_name &&
        !for_each_element(value, [&](std::string_view e) { return !iequals(e, token); })) {
      return true;
    }
  }
  return false;
}

std::vector<std::string_view> Request::query_values(std::string_view key) const {
  std::vector<std::string_view> values;
  for (const auto& [k, v] : query) {
    if (k == key) {
      values.emplace_back(v);
    }
  }
  return values;
}

RequestParser::RequestParser(const ParserLimits& limits) : _limits(limits) {
  // Room for at least "GET / HTTP/1.0\r\n\r\n".
  PG_ASSERT(_limits.max_head_bytes >= 18);
}

void RequestParser::reset() {
  _request = Request{};  // frees a large body rather than keeping it per connection
  _state = State::kRequestLine;
  _line.clear();
  _head_bytes = 0;
  _trailer_bytes = 0;
  _body_left = 0;
  _leading_empty = 0;
  _head_done = false;
  _final = ParseResult{};
}

ParseResult RequestParser::feed(std::span<const uint8_t> bytes) {
  if (_state == State::kComplete || _state == State::kError) {
    ParseResult again = _final;
    again.consumed = 0;
    return again;
  }
  size_t pos = 0;
  ParseResult result;
  while (pos < bytes.size() && result.status == ParseStatus::kNeedMore) {
    [[maybe_unused]] const size_t before = pos;
    result = step(bytes, pos);
    // Every step consumes a byte or ends the request: the loop is bounded by the input.
    PG_DASSERT(pos > before || result.status != ParseStatus::kNeedMore);
  }
  PG_ASSERT(pos <= bytes.size());
  PG_ASSERT(_request.body.size() <= _limits.max_body_bytes);
  PG_DASSERT(_line.size() <= std::max(_limits.max_head_bytes, kMaxChunkSizeLine));
  result.consumed = pos;
  if (result.status != ParseStatus::kNeedMore) {
    _final = result;
  }
  return result;
}

ParseResult RequestParser::step(std::span<const uint8_t> bytes, size_t& pos) {
  switch (_state) {
    case State::kRequestLine:
    case State::kHeaderLine:
      return line_step(bytes, pos, _limits.max_head_bytes - _head_bytes, kHeadersTooLarge,
                       "request head too large");
    case State::kBodyLength:
      return take_body(bytes, pos, State::kComplete);
    case State::kChunkSize:
      return line_step(bytes, pos, kMaxChunkSizeLine, kBadRequest, "chunk-size line too long");
    case State::kChunkData:
      return take_body(bytes, pos, State::kChunkDataCr);
    case State::kChunkDataCr:
    case State::kChunkDataLf:
      return on_chunk_data_end(bytes[pos++]);
    case State::kTrailerLine:
      return line_step(bytes, pos, _limits.max_head_bytes - _trailer_bytes, kHeadersTooLarge,
                       "trailer too large");
    case State::kComplete:
    case State::kError:
      break;
  }
  PG_ASSERT_MSG(false, "step() after the request ended");
  return {};
}

ParseResult RequestParser::line_step(std::span<const uint8_t> bytes, size_t& pos, size_t budget,
                                     int too_long_status, const char* too_long_why) {
  size_t raw_length = 0;
  switch (take_line(bytes, pos, budget, raw_length)) {
    case LineStatus::kPartial:
      return {};
    case LineStatus::kTooLong:
      return fail(too_long_status, too_long_why);
    case LineStatus::kBareCr:
      return fail(kBadRequest, "bare CR");  // RFC 9112 §2.2
    case LineStatus::kDone:
      break;
  }
  ParseResult result = on_line(raw_length);
  _line.clear();
  return result;
}

// Appends input up to and including the next LF to _line, refusing to let the line grow
// past `budget` bytes, so the limit is enforced as soon as it is crossed. A done line has
// its LF or CRLF stripped (bare LF is allowed, RFC 9112 §2.2); any CR left is a bare CR.
RequestParser::LineStatus RequestParser::take_line(std::span<const uint8_t> bytes, size_t& pos,
                                                   size_t budget, size_t& raw_length) {
  PG_DASSERT(_line.size() <= budget);
  const uint8_t* start = bytes.data() + pos;
  const size_t available = bytes.size() - pos;
  const auto* lf = static_cast<const uint8_t*>(std::memchr(start, '\n', available));
  const size_t n = lf != nullptr ? static_cast<size_t>(lf - start) + 1 : available;
  if (n > budget - _line.size()) {
    return LineStatus::kTooLong;
  }
  _line.append(reinterpret_cast<const char*>(start), n);
  pos += n;
  if (lf == nullptr) {
    return LineStatus::kPartial;
  }
  raw_length = _line.size();
  _line.pop_back();
  if (!_line.empty() && _line.back() == '\r') {
    _line.pop_back();
  }
  return _line.find('\r') == std::string::npos ? LineStatus::kDone : LineStatus::kBareCr;
}

ParseResult RequestParser::on_line(size_t raw_length) {
  switch (_state) {
    case State::kRequestLine:
      if (_line.empty()) {
        // Not counted in the head's size: at most kMaxLeadingEmptyLines CRLFs.
        return ++_leading_empty > kMaxLeadingEmptyLines
                   ? fail(kBadRequest, "too many empty lines before the request line")
                   : ParseResult{};
      }
      _head_bytes += raw_length;
      return on_request_line();
    case State::kHeaderLine:
      _head_bytes += raw_length;
      return on_header_line();
    case State::kChunkSize:
      return on_chunk_size_line();
    case State::kTrailerLine:
      _trailer_bytes += raw_length;
      return on_trailer_line();
    default:
      break;
  }
  PG_ASSERT_MSG(false, "line in a state without lines");
  return {};
}

// method SP request-target SP HTTP-version (RFC 9112 §3), single spaces.
ParseResult RequestParser::on_request_line() {
  const std::string_view line(_line);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) {
    return fail(kBadRequest, "malformed request line");
  }
  const std::string_view method = line.substr(0, sp1);
  if (!is_token(method)) {
    return fail(kBadRequest, "bad method");
  }
  // The version first: an HTTP/2 preface or HTTP/3.0 gets 505 whatever its target.
  if (const int status = parse_version(line.substr(sp2 + 1), _request.minor_version)) {
    return fail(status,
                status == kBadRequest ? "malformed HTTP version" : "HTTP version not supported");
  }
  _request.method.assign(method);
  if (const char* why = parse_target(line.substr(sp1 + 1, sp2 - sp1 - 1), method, _request)) {
    return fail(kBadRequest, why);
  }
  _state = State::kHeaderLine;
  return {};
}

ParseResult RequestParser::on_header_line() {
  if (_line.empty()) {
    return on_head_end();
  }
  std::string_view name;
  std::string_view value;
  if (const char* why = split_field_line(_line, name, value)) {
    return fail(kBadRequest, why);
  }
  if (_request.headers.size() >= _limits.max_headers) {
    return fail(kHeadersTooLarge, "too many header fields");
  }
  auto& [lower_name, stored_value] = _request.headers.emplace_back();
  lower_name.resize(name.size());
  std::transform(name.begin(), name.end(), lower_name.begin(), lower);
  stored_value.assign(value);
  return {};
}

ParseResult RequestParser::on_head_end() {
  const ParseResult result = decide_framing();
  _head_done = result.status != ParseStatus::kError;
  return result;
}

// Checks Host, decides the connection's persistence (RFC 9112 §9.3) and the body's framing
// (§6.3).
ParseResult RequestParser::decide_framing() {
  Request& r = _request;
  const size_t hosts = count_headers(r, "host");
  if ((r.minor_version == 1 && hosts == 0) || hosts > 1) {
    return fail(kBadRequest, "HTTP/1.1 request needs exactly one Host");  // RFC 9112 §3.2
  }
  if (r.header_has_token("connection", "close")) {
    r.keep_alive = false;
  } else {
    r.keep_alive = r.minor_version == 1 || r.header_has_token("connection", "keep-alive");
  }
  bool has_length = false;
  uint64_t length = 0;
  if (!parse_content_length(r, has_length, length)) {
    return fail(kBadRequest, "bad Content-Length");
  }
  const size_t codings = count_headers(r, "transfer-encoding");
  if (codings > 0) {
    // Both framings at once is the request-smuggling vector (RFC 9112 §6.1).
    if (has_length) {
      return fail(kBadRequest, "both Content-Length and Transfer-Encoding");
    }
    if (r.minor_version == 0) {
      return fail(kBadRequest, "Transfer-Encoding in an HTTP/1.0 request");
    }
    if (codings > 1 || !iequals(*r.header("transfer-encoding"), "chunked")) {
      return fail(kNotImplemented, "transfer coding other than chunked");
    }
    r.chunked = true;
    _state = State::kChunkSize;
    return {};
  }
  if (length > _limits.max_body_bytes) {
    return fail(kContentTooLarge, "Content-Length above the limit");
  }
  if (length == 0) {
    return complete();
  }
  _body_left = length;
  _state = State::kBodyLength;
  return {};
}

// chunk-size [ BWS ";" chunk-ext ] (RFC 9112 §7.1.1); extensions are ignored.
ParseResult RequestParser::on_chunk_size_line() {
  const std::string_view line(_line);
  size_t i = 0;
  uint64_t size = 0;
  for (int digit; i < line.size() && (digit = hex_value(static_cast<uint8_t>(line[i]))) >= 0; ++i) {
    if (size > (std::numeric_limits<uint64_t>::max() >> 4)) {
      return fail(kBadRequest, "chunk size overflows");
    }
    size = (size << 4) | static_cast<uint64_t>(digit);
  }
  if (i == 0) {
    return fail(kBadRequest, "bad chunk size");
  }
  while (i < line.size() && is_ows(line[i])) {
    ++i;
  }
  if (i < line.size() && line[i] != ';') {
    return fail(kBadRequest, "bad chunk-size line");
  }
  for (; i < line.size(); ++i) {
    if (!is_field_char(static_cast<uint8_t>(line[i]))) {
      return fail(kBadRequest, "bad character in chunk extension");
    }
  }
  if (size == 0) {
    _state = State::kTrailerLine;
    return {};
  }
  if (size > _limits.max_body_bytes - _request.body.size()) {
    return fail(kContentTooLarge, "chunked body above the limit");
  }
  _body_left = size;
  _state = State::kChunkData;
  return {};
}

ParseResult RequestParser::on_trailer_line() {
  if (_line.empty()) {
    return complete();
  }
  std::string_view name;
  std::string_view value;
  if (const char* why = split_field_line(_line, name, value)) {
    return fail(kBadRequest, why);
  }
  return {};  // trailer fields are checked for syntax and dropped
}

ParseResult RequestParser::take_body(std::span<const uint8_t> bytes, size_t& pos, State next) {
  PG_DASSERT(_body_left > 0);
  const auto n = static_cast<size_t>(std::min<uint64_t>(bytes.size() - pos, _body_left));
  _request.body.append(reinterpret_cast<const char*>(bytes.data() + pos), n);
  pos += n;
  _body_left -= n;
  if (_body_left > 0) {
    return {};
  }
  if (next == State::kComplete) {
    return complete();
  }
  _state = next;
  return {};
}

// The line end after chunk data: CRLF, or a bare LF as for every other line.
ParseResult RequestParser::on_chunk_data_end(uint8_t byte) {
  if (_state == State::kChunkDataCr && byte == '\r') {
    _state = State::kChunkDataLf;
    return {};
  }
  if (byte != '\n') {
    return fail(kBadRequest, "chunk data not followed by CRLF");
  }
  _state = State::kChunkSize;
  return {};
}

ParseResult RequestParser::complete() {
  _state = State::kComplete;
  return ParseResult{ParseStatus::kComplete, 0, 0, nullptr};
}

ParseResult RequestParser::fail(int http_status, const char* why) {
  _state = State::kError;
  return ParseResult{ParseStatus::kError, 0, http_status, why};
}

}  // namespace peregrine::http
