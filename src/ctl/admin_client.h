// A small blocking HTTP/1.1 client for peregrine-ctl: one request per connection to the
// broker's admin API (http:// on loopback, where the admin API listens by default),
// with the admin bearer token; the answer's status and body. Not for the broker itself.
#pragma once

#include <string>

namespace peregrine::ctl {

struct Reply {
  int status = 0;     // 0: no answer (error says why)
  std::string body;
  std::string error;
};

// `url`: http://HOST:PORT (no path). `target`: the path and query.
Reply admin_request(const std::string& url, const std::string& method, const std::string& target,
                    const std::string& token, int timeout_ms = 10'000);

// Percent-encodes a query value (RFC 3986 unreserved characters kept).
std::string query_escape(const std::string& value);

}  // namespace peregrine::ctl
