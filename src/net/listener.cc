#include "src/net/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace peregrine::net {

bool ListenUrl::loopback() const {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

namespace {

bool parse_listener_options(std::string_view query, ListenUrl& out, std::string* why) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (name == "max_connections") {
      uint32_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
        *why = "max_connections takes a whole number (0: no bound)";
        return false;
      }
      out.max_connections = n;
    } else if (name == "broker") {
      // Checked against the configured virtual brokers by the config's validation.
      if (value.empty()) {
        *why = "broker takes a virtual broker's name (broker.namespace)";
        return false;
      }
      out.broker = std::string(value);
    } else {
      *why = "unknown listener option '" + std::string(name) + "' (max_connections, broker)";
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<ListenUrl> parse_listen_url(std::string_view url, std::string* why) {
  static constexpr std::pair<std::string_view, Scheme> kSchemes[] = {
      {"mqtt://", Scheme::kMqtt}, {"mqtts://", Scheme::kMqtts},
      {"ws://", Scheme::kWs},     {"wss://", Scheme::kWss},
      {"http://", Scheme::kHttp}, {"https://", Scheme::kHttps}};
  ListenUrl out;
  // Options of the listener after '?': name=value pairs joined by '&'.
  std::string_view query;
  if (const size_t mark = url.find('?'); mark != std::string_view::npos) {
    query = url.substr(mark + 1);
    url = url.substr(0, mark);
    if (!parse_listener_options(query, out, why)) {
      return std::nullopt;
    }
  }
  std::string_view rest;
  bool known = false;
  for (const auto& [prefix, scheme] : kSchemes) {
    if (url.starts_with(prefix)) {
      out.scheme = scheme;
      rest = url.substr(prefix.size());
      known = true;
      break;
    }
  }
  if (!known) {
    *why = "unsupported scheme (mqtt, mqtts, ws, wss, http or https)";
    return std::nullopt;
  }
  // The path begins at the first '/' after the authority (IPv6 brackets hold none).
  const size_t slash = rest.find('/');
  std::string_view path;
  if (slash != std::string_view::npos) {
    path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  if (out.websocket() || out.http_api()) {
    out.path = path.empty() || path == "/" ? "/mqtt" : std::string(path);
    if (out.path.find_first_of("?# ") != std::string::npos) {
      *why = "a WebSocket path has no query, fragment or space";
      return std::nullopt;
    }
  } else if (!path.empty() && path != "/") {
    *why = "only ws, wss, http and https listeners take a path";
    return std::nullopt;
  }
  std::string_view host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      *why = "expected [IPv6]:PORT";
      return std::nullopt;
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      *why = "missing :PORT";
      return std::nullopt;
    }
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535 || host.empty()) {
    *why = "bad host or port";
    return std::nullopt;
  }
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(value);
  out.text = std::string(url.substr(0, url.size() - path.size()));
  if (out.websocket() || out.http_api()) {
    out.text += out.path;
  }
  return out;
}

namespace {

// The addresses `url` binds to (getaddrinfo, passive); nullptr with `why` when its host
// does not resolve. Free with freeaddrinfo().
addrinfo* resolve(const ListenUrl& url, std::string* why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(url.port);
  const int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    *why = std::string("cannot resolve ") + url.host + ": " + gai_strerror(rc);
    return nullptr;
  }
  return found;
}

}  // namespace

bool port_is_free(const ListenUrl& url, std::string* why) {
  if (url.port == 0) {
    return true;  // each socket gets a port of its own
  }
  addrinfo* found = resolve(url, why);
  if (found == nullptr) {
    return false;
  }
  bool free = true;
  for (addrinfo* ai = found; ai != nullptr && free; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      continue;
    }
    // SO_REUSEADDR: connections a previous run left in TIME_WAIT do not count; a socket
    // listening there does, whatever its options (no SO_REUSEPORT here: that would let
    // this bind share the port with any listener of the same user).
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno == EADDRINUSE) {
      *why = "listener " + url.text + ": something already listens on " + url.host + ":" +
             std::to_string(url.port) +
             " (another peregrine, another program, or this port twice in the config)";
      free = false;
    }
    close(fd);
  }
  freeaddrinfo(found);
  return free;
}

int open_listener(const ListenUrl& url, std::string* why) {
  addrinfo* found = resolve(url, why);
  if (found == nullptr) {
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 4096) != 0) {
      *why = std::string("cannot listen on ") + url.text + ": " + strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

PeerAddress peer_address(int fd) {
  PeerAddress peer;
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return peer;
  }
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    peer.family = AF_INET;
    peer.port = ntohs(in->sin_port);
    memcpy(peer.addr, &in->sin_addr, sizeof in->sin_addr);
  } else if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    peer.family = AF_INET6;
    peer.port = ntohs(in6->sin6_port);
    memcpy(peer.addr, &in6->sin6_addr, sizeof in6->sin6_addr);
  }
  return peer;
}

std::string PeerAddress::text() const {
  char host[INET6_ADDRSTRLEN] = "?";
  if (family == AF_INET) {
    inet_ntop(AF_INET, addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (family == AF_INET6) {
    inet_ntop(AF_INET6, addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return "?";
}

}  // namespace peregrine::net
