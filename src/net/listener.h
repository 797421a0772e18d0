// Listener addresses and sockets. Each listener URL gets one SO_REUSEPORT socket per
// shard, opened at startup on the main thread so that a bad address fails before any
// shard runs; the kernel spreads new connections across the shards' sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace peregrine::net {

// mqtt: MQTT over TCP; mqtts: over TLS; ws/wss: over WebSocket (on TCP / TLS).
enum class Scheme : uint8_t { kMqtt, kMqtts, kWs, kWss };

struct ListenUrl {
  Scheme scheme = Scheme::kMqtt;
  std::string host;  // as written (IPv6 without brackets)
  uint16_t port = 0;
  std::string path;  // ws/wss: the upgrade path (default /mqtt); empty otherwise
  std::string text;  // canonical form for logs, e.g. mqtt://127.0.0.1:1883

  bool tls() const { return scheme == Scheme::kMqtts || scheme == Scheme::kWss; }
  bool websocket() const { return scheme == Scheme::kWs || scheme == Scheme::kWss; }
};

// Parses `SCHEME://HOST:PORT[/PATH]` for the schemes above (HOST may be a name, an IPv4
// address or [IPv6]; a path only for ws and wss).
std::optional<ListenUrl> parse_listen_url(std::string_view url, std::string* why);

// A non-blocking listening socket with SO_REUSEPORT; -1 and `why` on failure.
int open_listener(const ListenUrl& url, std::string* why);

// "ip:port" of a connected socket's peer, for logs.
std::string peer_name(int fd);

}  // namespace peregrine::net
