// Listener addresses and sockets. Each listener URL gets one SO_REUSEPORT socket per
// shard, opened at startup on the main thread so that a bad address fails before any
// shard runs; the kernel spreads new connections across the shards' sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace peregrine::net {

// mqtt: MQTT over TCP; mqtts: over TLS; ws/wss: over WebSocket (on TCP / TLS);
// http/https: Fastly's HTTP surface (SSE, POST, health) plus the WebSocket upgrade.
enum class Scheme : uint8_t { kMqtt, kMqtts, kWs, kWss, kHttp, kHttps };

struct ListenUrl {
  Scheme scheme = Scheme::kMqtt;
  std::string host;  // as written (IPv6 without brackets)
  uint16_t port = 0;
  std::string path;  // ws/wss/http/https: the WebSocket path (default /mqtt); else empty
  std::string text;  // canonical form for logs, e.g. mqtt://127.0.0.1:1883
  // Options after '?' (`mqtt://0.0.0.0:1883?max_connections=10000`): MQTT clients this
  // listener admits at once (0: no bound of its own).
  uint32_t max_connections = 0;
  // `?broker=NAME`: every connection of this listener belongs to that virtual broker,
  // whatever name or host it gives ("": chosen by SNI or Host, else the default).
  std::string broker;

  bool tls() const {
    return scheme == Scheme::kMqtts || scheme == Scheme::kWss || scheme == Scheme::kHttps;
  }
  bool websocket() const { return scheme == Scheme::kWs || scheme == Scheme::kWss; }
  bool http_api() const { return scheme == Scheme::kHttp || scheme == Scheme::kHttps; }
  // Bound to a loopback address (127.0.0.0/8, ::1, localhost): only this host reaches it.
  bool loopback() const;
};

// Parses `SCHEME://HOST:PORT[/PATH][?max_connections=N&broker=NAME]` for the schemes above (HOST may
// be a name, an IPv4 address or [IPv6]; a path only for ws, wss, http and https).
std::optional<ListenUrl> parse_listen_url(std::string_view url, std::string* why);

// A non-blocking listening socket with SO_REUSEPORT; -1 and `why` on failure.
int open_listener(const ListenUrl& url, std::string* why);
// Nothing listens on `url`'s address yet (false with `why` naming it otherwise). Our own
// shards share each port through SO_REUSEPORT, which would as quietly share it with any
// other process of the same user: this check, made before they bind, keeps a second
// instance (or any other program) off the port.
bool port_is_free(const ListenUrl& url, std::string* why);

// A connected socket's peer address, held compactly (a connection keeps one for its
// logs; the text is made only when a line is written).
struct PeerAddress {
  uint8_t family = 0;  // AF_INET, AF_INET6; 0: unknown
  uint16_t port = 0;
  uint8_t addr[16] = {};
  // "ip:port" ("[ip6]:port"), "?" when unknown.
  std::string text() const;
};
PeerAddress peer_address(int fd);

}  // namespace peregrine::net
