#include "src/ctl/admin_client.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>

#include <cctype>
#include <cerrno>
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

namespace {

// The bytes of one exchange, over the socket or through TLS on it.
class Channel {
 public:
  virtual ~Channel() = default;
  // false with `error`.
  virtual bool send_all(std::string_view bytes, std::string& error) = 0;
  // > 0 bytes, 0 at the end, < 0 on error (`error` set).
  virtual ssize_t receive(char* buffer, size_t size, std::string& error) = 0;
};

class PlainChannel final : public Channel {
 public:
  explicit PlainChannel(int fd) : _fd(fd) {}
  bool send_all(std::string_view bytes, std::string& error) override {
    while (!bytes.empty()) {
      const ssize_t n = ::send(_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        error = n < 0 && errno == EAGAIN ? "timed out sending" : std::string("send: ") + std::strerror(errno);
        return false;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  ssize_t receive(char* buffer, size_t size, std::string& error) override {
    const ssize_t n = ::recv(_fd, buffer, size, 0);
    if (n < 0) {
      error = errno == EAGAIN ? "timed out waiting for the answer" : std::string("recv: ") + std::strerror(errno);
    }
    return n;
  }

 private:
  int _fd;
};

// TLS with the server's certificate checked against `ca_file` and its name against the
// host in the URL: the admin token never goes to a server that is not the broker.
class TlsChannel final : public Channel {
 public:
  ~TlsChannel() override {
    if (_ssl != nullptr) {
      wolfSSL_free(_ssl);
    }
    if (_ctx != nullptr) {
      wolfSSL_CTX_free(_ctx);
    }
  }
  bool open(int fd, const std::string& host, const std::string& ca_file, std::string& error) {
    wolfSSL_Init();
    _ctx = wolfSSL_CTX_new(wolfTLS_client_method());
    if (_ctx == nullptr) {
      error = "TLS: no context";
      return false;
    }
    wolfSSL_CTX_SetMinVersion(_ctx, WOLFSSL_TLSV1_2);
    if (wolfSSL_CTX_load_verify_locations(_ctx, ca_file.c_str(), nullptr) != WOLFSSL_SUCCESS) {
      error = "TLS: cannot load CA certificates from " + ca_file + " (give --ca-file)";
      return false;
    }
    wolfSSL_CTX_set_verify(_ctx, WOLFSSL_VERIFY_PEER, nullptr);
    _ssl = wolfSSL_new(_ctx);
    if (_ssl == nullptr || wolfSSL_set_fd(_ssl, fd) != WOLFSSL_SUCCESS ||
        wolfSSL_check_domain_name(_ssl, host.c_str()) != WOLFSSL_SUCCESS ||
        wolfSSL_UseSNI(_ssl, WOLFSSL_SNI_HOST_NAME, host.data(),
                       static_cast<unsigned short>(host.size())) != WOLFSSL_SUCCESS) {
      error = "TLS: cannot set up the connection";
      return false;
    }
    if (wolfSSL_connect(_ssl) != WOLFSSL_SUCCESS) {
      char text[WOLFSSL_MAX_ERROR_SZ];
      error = std::string("TLS handshake with ") + host + ": " +
              wolfSSL_ERR_error_string(static_cast<unsigned long>(wolfSSL_get_error(_ssl, 0)), text);
      return false;
    }
    return true;
  }
  bool send_all(std::string_view bytes, std::string& error) override {
    while (!bytes.empty()) {
      const int n = wolfSSL_write(_ssl, bytes.data(), static_cast<int>(bytes.size()));
      if (n <= 0) {
        error = "TLS: send failed";
        return false;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  ssize_t receive(char* buffer, size_t size, std::string& error) override {
    const int n = wolfSSL_read(_ssl, buffer, static_cast<int>(size));
    if (n > 0) {
      return n;
    }
    const int code = wolfSSL_get_error(_ssl, n);
    if (code == WOLFSSL_ERROR_ZERO_RETURN || code == SOCKET_PEER_CLOSED_E) {
      return 0;  // close_notify, or the broker closed after its answer
    }
    error = "TLS: receive failed";
    return -1;
  }

 private:
  WOLFSSL_CTX* _ctx = nullptr;
  WOLFSSL* _ssl = nullptr;
};

}  // namespace

Reply admin_request(const std::string& url, const std::string& method, const std::string& target,
                    const std::string& token, const std::string& ca_file, int timeout_ms) {
  Reply reply;
  const bool tls = url.starts_with("https://");
  if (!tls && !url.starts_with("http://")) {
    reply.error = "the admin URL must be http://HOST:PORT or https://HOST:PORT";
    return reply;
  }
  std::string authority = url.substr(tls ? 8 : 7);
  if (const size_t slash = authority.find('/'); slash != std::string::npos) {
    authority.resize(slash);
  }
  std::string host = authority;
  std::string port = tls ? "443" : "80";
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
  // Blocking, each send and receive bounded by the timeout (TLS included).
  const timeval limit{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(sock.fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(sock.fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  std::unique_ptr<Channel> channel;
  if (tls) {
    auto secure = std::make_unique<TlsChannel>();
    if (!secure->open(sock.fd, host, ca_file, reply.error)) {
      return reply;
    }
    channel = std::move(secure);
  } else {
    channel = std::make_unique<PlainChannel>(sock.fd);
  }
  const std::string request = method + " " + target + " HTTP/1.1\r\nHost: " + authority +
                              "\r\nAuthorization: Bearer " + token +
                              "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  if (!channel->send_all(request, reply.error)) {
    reply.error += " (" + url + ")";
    return reply;
  }
  // Connection: close: the answer ends when the broker closes.
  std::string response;
  char buffer[16384];
  while (true) {
    const ssize_t n = channel->receive(buffer, sizeof buffer, reply.error);
    if (n < 0) {
      reply.error += " (" + url + ")";
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
