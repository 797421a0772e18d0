// A small blocking HTTP/1.1 client for peregrine-ctl: one request per connection to the
// broker's admin API (http:// on loopback, where the admin API listens by default, or
// https://, with the server's certificate checked against a CA file and its name against
// the URL's host), with the admin bearer token; the answer's status and body. Not for
// the broker itself.
#pragma once

#include <string>

namespace peregrine::ctl {

struct Reply {
  int status = 0;     // 0: no answer (error says why)
  std::string body;
  std::string error;
};

// The CA certificates an https:// admin URL is checked against unless told otherwise.
inline constexpr const char* kSystemCaFile = "/etc/ssl/certs/ca-certificates.crt";

// `url`: http://HOST:PORT or https://HOST:PORT (no path). `target`: the path and query.
// `ca_file`: the CA certificates (PEM) for https://.
Reply admin_request(const std::string& url, const std::string& method, const std::string& target,
                    const std::string& token, const std::string& ca_file = kSystemCaFile,
                    int timeout_ms = 10'000);

// Percent-encodes a query value (RFC 3986 unreserved characters kept).
std::string query_escape(const std::string& value);

}  // namespace peregrine::ctl
