// Incremental HTTP/1.1 request parser (RFC 9112) for the broker's HTTP listeners: the
// WebSocket upgrade, Server-Sent Events and health checks. Pure: no I/O, no clock. One
// parser per connection, owned by the connection's shard. Bounded: it never holds more
// than max_head_bytes of an unfinished head line, 1 KiB of a chunk-size line and
// max_body_bytes of body; the parsed head fields are at most a few times max_head_bytes.
// Invariants: feed() consumes only bytes of the current request; an error is final until
// reset(); a request fed in any split parses to the same Request as fed whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace peregrine::http {

// What happens at each bound is the error status in brackets.
struct ParserLimits {
  // Request line + header lines + empty line, line ends included (empty lines before the
  // request line excepted); also bounds the trailer section [431].
  size_t max_head_bytes = 8192;
  size_t max_headers = 64;            // header field lines [431]
  uint64_t max_body_bytes = 1 << 20;  // Content-Length or de-chunked size [413]
};

struct Request {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // request-target as sent, e.g. "/events?topic=a%2Fb"
  std::string path;    // target before '?', percent-decoded ("*" for asterisk-form; the
                       // path part for an absolute-form http(s) target, "/" when empty)
  // Decoded key/value pairs in order ('+' is a space); repeated keys kept, empty pairs
  // ("a=1&&b=2") dropped, a key without '=' has an empty value.
  std::vector<std::pair<std::string, std::string>> query;
  int minor_version = 1;  // HTTP/1.<minor>; only 0 and 1 are accepted
  // In order; names lower-cased, values trimmed of OWS.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;        // Content-Length or de-chunked body; trailers are dropped
  bool keep_alive = true;  // 1.1: unless "Connection: close"; 1.0: only with keep-alive
  bool chunked = false;    // the body came with Transfer-Encoding: chunked

  // The first header named `lower_name`, or nullptr.
  const std::string* header(std::string_view lower_name) const;
  // Whether any `lower_name` header lists `token` (comma-separated, case-insensitive),
  // e.g. ("connection", "upgrade") for "Connection: keep-alive, Upgrade".
  bool header_has_token(std::string_view lower_name, std::string_view token) const;
  // Every value of query key `key`, in order; views into `query`.
  std::vector<std::string_view> query_values(std::string_view key) const;

  friend bool operator==(const Request&, const Request&) = default;
};

enum class ParseStatus : uint8_t { kNeedMore, kComplete, kError };

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed = 0;        // bytes of this feed() that belong to the request
                              // (unspecified on kError: the connection is done)
  int http_status = 0;        // on kError: 400, 413, 431, 501 or 505, to answer then close
  const char* why = nullptr;  // on kError: a static phrase for logs
};

class RequestParser {
 public:
  explicit RequestParser(const ParserLimits& limits = {});

  // Feeds the next bytes of the connection's stream. Consumes only what belongs to the
  // current request, so pipelined bytes after it are left to the caller; returns
  // kComplete once the whole request, body included, is in request(). After kComplete or
  // kError, further feeds consume nothing and return the same status until reset().
  ParseResult feed(std::span<const uint8_t> bytes);

  // The head (request line and headers) is parsed and validated, the body may still be
  // arriving: lets the caller answer early (401, 404, 100-continue, an upgrade).
  bool head_complete() const { return _head_done; }
  const Request& request() const { return _request; }
  Request& request() { return _request; }
  // Forgets the request (and frees its body) to parse the next one.
  void reset();

 private:
  enum class State : uint8_t {
    kRequestLine,
    kHeaderLine,
    kBodyLength,
    kChunkSize,
    kChunkData,
    kChunkDataCr,  // expecting the CR (or bare LF) after chunk data
    kChunkDataLf,  // expecting the LF after it
    kTrailerLine,
    kComplete,
    kError,
  };
  enum class LineStatus : uint8_t { kPartial, kDone, kTooLong, kBareCr };

  ParseResult step(std::span<const uint8_t> bytes, size_t& pos);
  ParseResult line_step(std::span<const uint8_t> bytes, size_t& pos, size_t budget,
                        int too_long_status, const char* too_long_why);
  LineStatus take_line(std::span<const uint8_t> bytes, size_t& pos, size_t budget,
                       size_t& raw_length);
  ParseResult on_line(size_t raw_length);
  ParseResult on_request_line();
  ParseResult on_header_line();
  ParseResult on_head_end();
  ParseResult decide_framing();
  ParseResult on_chunk_size_line();
  ParseResult on_trailer_line();
  ParseResult take_body(std::span<const uint8_t> bytes, size_t& pos, State next);
  ParseResult on_chunk_data_end(uint8_t byte);
  ParseResult complete();
  ParseResult fail(int http_status, const char* why);

  ParserLimits _limits;
  Request _request;
  State _state = State::kRequestLine;
  std::string _line;           // the unfinished line, line end stripped once done
  size_t _head_bytes = 0;      // finished head lines, line ends included
  size_t _trailer_bytes = 0;   // finished trailer lines, line ends included
  uint64_t _body_left = 0;     // of the Content-Length body or the current chunk
  uint8_t _leading_empty = 0;  // empty lines skipped before the request line
  bool _head_done = false;
  ParseResult _final;  // the sticky result once kComplete or kError
};

}  // namespace peregrine::http
