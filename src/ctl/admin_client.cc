#include "src/ctl/admin_client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <memory>

namespace peregrine::ctl {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

bool wait_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

}  // namespace

std::string query_escape(const std::string& value) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

Reply admin_request(const std::string& url, const std::string& method, const std::string& target,
                    const std::string& token, int timeout_ms) {
  Reply reply;
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    reply.error = "the admin URL must be http://HOST:PORT (the admin API's loopback listener)";
    return reply;
  }
  std::string authority = url.substr(kScheme.size());
  if (const size_t slash = authority.find('/'); slash != std::string::npos) {
    authority.resize(slash);
  }
  std::string host = authority;
  std::string port = "80";
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string::npos) {
      reply.error = "bad IPv6 address in " + url;
      return reply;
    }
    if (close + 1 < host.size() && host[close + 1] == ':') {
      port = host.substr(close + 2);
    }
    host = host.substr(1, close - 1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string::npos) {
    port = host.substr(colon + 1);
    host.resize(colon);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    reply.error = host + ": " + ::gai_strerror(rc);
    return reply;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
  Fd sock;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    sock.fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (sock.fd >= 0 && ::connect(sock.fd, a->ai_addr, a->ai_addrlen) == 0) {
      break;
    }
    if (sock.fd >= 0) {
      ::close(sock.fd);
      sock.fd = -1;
    }
  }
  if (sock.fd < 0) {
    reply.error = "cannot connect to " + url + ": " + std::strerror(errno);
    return reply;
  }
  const std::string request = method + " " + target + " HTTP/1.1\r\nHost: " + authority +
                              "\r\nAuthorization: Bearer " + token +
                              "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    if (!wait_for(sock.fd, POLLOUT, timeout_ms)) {
      reply.error = "timed out sending to " + url;
      return reply;
    }
    const ssize_t n = ::send(sock.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      reply.error = std::string("send: ") + std::strerror(errno);
      return reply;
    }
    sent += static_cast<size_t>(n);
  }
  // Connection: close: the answer ends when the broker closes.
  std::string response;
  char buffer[16384];
  while (true) {
    if (!wait_for(sock.fd, POLLIN, timeout_ms)) {
      reply.error = "timed out waiting for " + url;
      return reply;
    }
    const ssize_t n = ::recv(sock.fd, buffer, sizeof buffer, 0);
    if (n < 0) {
      reply.error = std::string("recv: ") + std::strerror(errno);
      return reply;
    }
    if (n == 0) {
      break;
    }
    response.append(buffer, static_cast<size_t>(n));
    if (response.size() > (64u << 20)) {
      reply.error = "answer larger than 64 MiB";
      return reply;
    }
  }
  const size_t head_end = response.find("\r\n\r\n");
  if (!response.starts_with("HTTP/1.1 ") || head_end == std::string::npos ||
      response.size() < 12) {
    reply.error = "not an HTTP answer from " + url;
    return reply;
  }
  reply.status = std::atoi(response.c_str() + 9);
  reply.body = response.substr(head_end + 4);
  return reply;
}

}  // namespace peregrine::ctl
