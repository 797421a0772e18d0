// Listener URLs: every scheme, hosts (names, IPv4, [IPv6]), ports, WebSocket paths, and
// what is refused.
#include "src/net/listener.h"

#include <gtest/gtest.h>

namespace peregrine::net {
namespace {

struct Good {
  const char* url;
  Scheme scheme;
  const char* host;
  uint16_t port;
  const char* path;
  const char* text;
};

TEST(ListenUrl, ParsesEverySchemeAndPath) {
  const Good table[] = {
      {"mqtt://127.0.0.1:1883", Scheme::kMqtt, "127.0.0.1", 1883, "", "mqtt://127.0.0.1:1883"},
      {"mqtt://localhost:1883/", Scheme::kMqtt, "localhost", 1883, "", "mqtt://localhost:1883"},
      {"mqtts://[::1]:8883", Scheme::kMqtts, "::1", 8883, "", "mqtts://[::1]:8883"},
      {"ws://0.0.0.0:8080", Scheme::kWs, "0.0.0.0", 8080, "/mqtt", "ws://0.0.0.0:8080/mqtt"},
      {"ws://0.0.0.0:8080/", Scheme::kWs, "0.0.0.0", 8080, "/mqtt", "ws://0.0.0.0:8080/mqtt"},
      {"wss://h:8884/a/b", Scheme::kWss, "h", 8884, "/a/b", "wss://h:8884/a/b"},
      {"http://h:80", Scheme::kHttp, "h", 80, "/mqtt", "http://h:80/mqtt"},
      {"https://[::]:443/ws", Scheme::kHttps, "::", 443, "/ws", "https://[::]:443/ws"},
  };
  for (const Good& g : table) {
    std::string why;
    const auto url = parse_listen_url(g.url, &why);
    ASSERT_TRUE(url.has_value()) << g.url << ": " << why;
    EXPECT_EQ(url->scheme, g.scheme) << g.url;
    EXPECT_EQ(url->host, g.host) << g.url;
    EXPECT_EQ(url->port, g.port) << g.url;
    EXPECT_EQ(url->path, g.path) << g.url;
    EXPECT_EQ(url->text, g.text) << g.url;
  }
  std::string why;
  EXPECT_TRUE(parse_listen_url("wss://h:1", &why)->tls());
  EXPECT_TRUE(parse_listen_url("https://h:1", &why)->tls());
  EXPECT_FALSE(parse_listen_url("ws://h:1", &why)->tls());
  EXPECT_TRUE(parse_listen_url("https://h:1", &why)->http_api());
  EXPECT_FALSE(parse_listen_url("wss://h:1", &why)->http_api());
}

TEST(ListenUrl, RefusesWhatItCannotServe) {
  for (const char* bad : {"tcp://h:1", "mqtt://h", "mqtt://h:", "mqtt://:1883", "mqtt://h:70000",
                          "mqtt://h:1x", "mqtt://h:1/path", "mqtts://h:1/p", "ws://h:1/a?b=c",
                          "ws://h:1/a#b", "mqtt://h:1?max_connections=",
                          "mqtt://h:1?max_connections=-1", "mqtt://h:1?max_connections=9x",
                          "mqtt://h:1?max_connections=99999999999", "mqtt://h:1?other=1", "mqtt://[::1:1883", "MQTT://h:1"}) {
    std::string why;
    EXPECT_FALSE(parse_listen_url(bad, &why).has_value()) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(ListenUrl, TakesMaxConnectionsAfterTheAddress) {
  std::string why;
  auto url = parse_listen_url("mqtt://0.0.0.0:1883?max_connections=10000", &why);
  ASSERT_TRUE(url.has_value()) << why;
  EXPECT_EQ(url->max_connections, 10000u);
  EXPECT_EQ(url->text, "mqtt://0.0.0.0:1883");
  EXPECT_EQ(url->port, 1883);
  url = parse_listen_url("wss://h:8884/ws?max_connections=5", &why);
  ASSERT_TRUE(url.has_value()) << why;
  EXPECT_EQ(url->max_connections, 5u);
  EXPECT_EQ(url->path, "/ws");
  EXPECT_EQ(parse_listen_url("mqtt://h:1", &why)->max_connections, 0u);
}

}  // namespace
}  // namespace peregrine::net
