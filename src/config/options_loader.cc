#include "src/config/options_loader.h"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <toml++/toml.h>

#include "src/base/log.h"
#include "src/mqtt/codec.h"
#include "src/net/listener.h"
#include "src/net/tls_context.h"

namespace peregrine::config {

namespace {

constexpr uint32_t kMaxShards = 64;

const char kUsage[] =
    "usage: peregrine [--config FILE] [--listen URL]... [--shards N]\n"
    "                 [--tls-cert FILE --tls-key FILE [--tls-ca FILE]]\n"
    "                 [--io auto|uring|epoll] [--log-level LEVEL] [--version] [--help]\n"
    "\n"
    "  --config FILE      TOML configuration file (flags override it)\n"
    "  --listen URL       listener, repeatable: mqtt://HOST:PORT, mqtts://HOST:PORT,\n"
    "                     ws://HOST:PORT[/PATH], wss://HOST:PORT[/PATH],\n"
    "                     http://HOST:PORT[/PATH], https://HOST:PORT[/PATH]\n"
    "                     (PATH: the WebSocket path, /mqtt)\n"
    "                     (default: mqtt://127.0.0.1:1883)\n"
    "  --tls-cert FILE    TLS certificate chain (PEM) for mqtts, wss and https\n"
    "  --tls-key FILE     its private key (PEM)\n"
    "  --tls-ca FILE      CA for client certificates (with [tls] client_auth)\n"
    "  --shards N         shard threads, 1-64 (default: CPUs available to the process)\n"
    "  --io BACKEND       auto (io_uring, else epoll), uring or epoll (default: auto)\n"
    "  --log-level LEVEL  trace, debug, info, warn, error or off (default: info)\n"
    "  --version          print the version and exit\n"
    "  --help             print this help and exit\n";

std::string where(const std::string& path, const toml::source_region& source) {
  return path + ":" + std::to_string(source.begin.line) + ":" +
         std::to_string(source.begin.column);
}

template <typename T>
bool read_integer(const std::string& path, std::string_view key, const toml::node& node,
                  uint64_t low, uint64_t high, T& out, std::string* error) {
  const auto* value = node.as_integer();
  if (value == nullptr || value->get() < 0 || static_cast<uint64_t>(value->get()) < low ||
      static_cast<uint64_t>(value->get()) > high) {
    *error = where(path, node.source()) + ": '" + std::string(key) +
             "' expects an integer in [" + std::to_string(low) + ", " + std::to_string(high) +
             "]";
    return false;
  }
  out = static_cast<T>(value->get());
  return true;
}

bool read_string(const std::string& path, std::string_view key, const toml::node& node,
                 std::string& out, std::string* error) {
  const auto* value = node.as_string();
  if (value == nullptr) {
    *error = where(path, node.source()) + ": '" + std::string(key) + "' expects a string";
    return false;
  }
  out = value->get();
  return true;
}

bool read_boolean(const std::string& path, std::string_view key, const toml::node& node,
                  bool& out, std::string* error) {
  const auto* value = node.as_boolean();
  if (value == nullptr) {
    *error = where(path, node.source()) + ": '" + std::string(key) + "' expects true or false";
    return false;
  }
  out = value->get();
  return true;
}

bool read_limits(const std::string& path, const toml::table& table, Limits& limits,
                 std::string* error) {
  for (auto&& [key, node] : table) {
    const std::string_view name = key.str();
    bool ok = true;
    if (name == "max_packet_size") {
      ok = read_integer(path, name, node, 64, 268'435'460, limits.max_packet_size, error);
    } else if (name == "connect_timeout_ms") {
      ok = read_integer(path, name, node, 1, 3'600'000, limits.connect_timeout_ms, error);
    } else if (name == "outbound_buffer_bytes") {
      ok = read_integer(path, name, node, 1024, uint64_t{1} << 40, limits.outbound_buffer_bytes,
                        error);
    } else if (name == "topic_alias_maximum") {
      ok = read_integer(path, name, node, 0, 65535, limits.topic_alias_maximum, error);
    } else if (name == "outbound_topic_aliases") {
      ok = read_integer(path, name, node, 0, 65535, limits.outbound_topic_aliases, error);
    } else if (name == "max_keep_alive") {
      ok = read_integer(path, name, node, 0, 65535, limits.max_keep_alive, error);
    } else if (name == "mailbox_capacity") {
      ok = read_integer(path, name, node, 0, 1 << 20, limits.mailbox_capacity, error);
      if (ok && (limits.mailbox_capacity == 1 ||
                 (limits.mailbox_capacity & (limits.mailbox_capacity - 1)) != 0)) {
        *error = where(path, node.source()) + ": 'mailbox_capacity' must be a power of two";
        ok = false;
      }
    } else if (name == "mailbox_overflow_limit") {
      ok = read_integer(path, name, node, 1, 1 << 24, limits.mailbox_overflow_limit, error);
    } else if (name == "max_inflight") {
      ok = read_integer(path, name, node, 1, 65535, limits.max_inflight, error);
    } else if (name == "receive_maximum") {
      ok = read_integer(path, name, node, 1, 65535, limits.receive_maximum, error);
    } else if (name == "max_queued_messages") {
      ok = read_integer(path, name, node, 0, 100'000'000, limits.max_queued_messages, error);
    } else if (name == "max_queued_bytes") {
      ok = read_integer(path, name, node, 0, uint64_t{1} << 40, limits.max_queued_bytes, error);
    } else if (name == "max_session_bytes") {
      ok = read_integer(path, name, node, 1, uint64_t{1} << 40, limits.max_session_bytes, error);
    } else if (name == "held_bytes_budget") {
      ok = read_integer(path, name, node, 0, uint64_t{1} << 44, limits.held_bytes_budget, error);
    } else if (name == "max_session_expiry") {
      ok = read_integer(path, name, node, 0, 0xFFFFFFFFu, limits.max_session_expiry, error);
    } else if (name == "max_retained_messages") {
      ok = read_integer(path, name, node, 1, 1'000'000'000, limits.max_retained_messages, error);
    } else if (name == "max_retained_bytes") {
      ok = read_integer(path, name, node, 0, uint64_t{1} << 40, limits.max_retained_bytes, error);
    } else {
      *error = where(path, key.source()) + ": unknown key 'limits." + std::string(name) + "'";
      return false;
    }
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool read_sys(const std::string& path, const toml::table& table, SysTopics& sys,
              std::string* error) {
  for (auto&& [key, node] : table) {
    const std::string_view name = key.str();
    bool ok = true;
    if (name == "broker_id") {
      ok = read_string(path, name, node, sys.broker_id, error);
    } else if (name == "interval_ms") {
      ok = read_integer(path, name, node, 0, 86'400'000, sys.interval_ms, error);
    } else if (name == "heartbeat_ms") {
      ok = read_integer(path, name, node, 0, 86'400'000, sys.heartbeat_ms, error);
    } else if (name == "events") {
      ok = read_boolean(path, name, node, sys.events, error);
    } else {
      *error = where(path, key.source()) + ": unknown key 'sys." + std::string(name) + "'";
      return false;
    }
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool read_acl_rule(const std::string& path, const toml::node& node, AclRule& rule,
                   std::string* error) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    *error = where(path, node.source()) + ": 'acl.deny' entries are tables";
    return false;
  }
  std::string access = "readwrite";
  for (auto&& [key, value] : *table) {
    const std::string_view name = key.str();
    bool ok = true;
    if (name == "topic") {
      ok = read_string(path, name, value, rule.topic, error);
    } else if (name == "access") {
      ok = read_string(path, name, value, access, error);
    } else if (name == "client_id") {
      ok = read_string(path, name, value, rule.client_id, error);
    } else if (name == "username") {
      ok = read_string(path, name, value, rule.username, error);
    } else {
      *error = where(path, key.source()) + ": unknown key 'acl.deny." + std::string(name) + "'";
      return false;
    }
    if (!ok) {
      return false;
    }
  }
  if (rule.topic.empty() || !mqtt::valid_topic_filter(rule.topic)) {
    *error = where(path, node.source()) + ": 'acl.deny' needs a valid 'topic' filter";
    return false;
  }
  if (access != "read" && access != "write" && access != "readwrite") {
    *error = where(path, node.source()) + ": 'access' is read, write or readwrite";
    return false;
  }
  rule.read = access != "write";
  rule.write = access != "read";
  return true;
}

bool read_acl(const std::string& path, const toml::table& table, Acl& acl,
              std::string* error) {
  for (auto&& [key, node] : table) {
    const std::string_view name = key.str();
    if (name == "deny") {
      const auto* array = node.as_array();
      if (array == nullptr) {
        *error = where(path, node.source()) + ": 'acl.deny' expects [[acl.deny]] tables";
        return false;
      }
      for (const toml::node& item : *array) {
        AclRule rule;
        if (!read_acl_rule(path, item, rule, error)) {
          return false;
        }
        acl.deny.push_back(std::move(rule));
      }
    } else if (name == "subscribe_denied_code") {
      if (!read_integer(path, name, node, 0x80, 0x87, acl.subscribe_denied_code, error)) {
        return false;
      }
      if (acl.subscribe_denied_code != 0x80 && acl.subscribe_denied_code != 0x87) {
        *error = where(path, node.source()) + ": 'subscribe_denied_code' is 0x80 or 0x87";
        return false;
      }
    } else if (name == "disconnect_on_denied_publish") {
      const auto* value = node.as_boolean();
      if (value == nullptr) {
        *error = where(path, node.source()) + ": expects true or false";
        return false;
      }
      acl.disconnect_on_denied_publish = value->get();
    } else {
      *error = where(path, key.source()) + ": unknown key 'acl." + std::string(name) + "'";
      return false;
    }
  }
  return true;
}

bool read_auth(const std::string& path, const toml::table& table, Authentication& auth,
               std::string* error) {
  for (auto&& [key, node] : table) {
    const std::string_view name = key.str();
    const auto* array = node.as_array();
    if (name != "scram_sha256") {
      *error = where(path, key.source()) + ": unknown key 'auth." + std::string(name) + "'";
      return false;
    }
    if (array == nullptr) {
      *error = where(path, node.source()) + ": expects [[auth.scram_sha256]] tables";
      return false;
    }
    for (const toml::node& item : *array) {
      const auto* user = item.as_table();
      if (user == nullptr) {
        *error = where(path, item.source()) + ": expects a table";
        return false;
      }
      ScramUser entry;
      for (auto&& [field, value] : *user) {
        const std::string_view f = field.str();
        bool ok = true;
        if (f == "username") {
          ok = read_string(path, f, value, entry.username, error);
        } else if (f == "password") {
          ok = read_string(path, f, value, entry.password, error);
        } else if (f == "iterations") {
          ok = read_integer(path, f, value, 4096, 10'000'000, entry.iterations, error);
        } else {
          *error = where(path, field.source()) + ": unknown key 'auth.scram_sha256." +
                   std::string(f) + "'";
          return false;
        }
        if (!ok) {
          return false;
        }
      }
      if (entry.username.empty() || entry.password.empty()) {
        *error = where(path, item.source()) + ": a SCRAM user needs username and password";
        return false;
      }
      auth.scram_sha256.push_back(std::move(entry));
    }
  }
  return true;
}

bool read_tls(const std::string& path, const toml::table& table, TlsOptions& tls,
              std::string* error) {
  for (auto&& [key, node] : table) {
    const std::string_view name = key.str();
    bool ok = true;
    if (name == "cert_file") {
      ok = read_string(path, name, node, tls.cert_file, error);
    } else if (name == "key_file") {
      ok = read_string(path, name, node, tls.key_file, error);
    } else if (name == "ca_file") {
      ok = read_string(path, name, node, tls.ca_file, error);
    } else if (name == "client_auth") {
      net::ClientAuth auth;
      ok = read_string(path, name, node, tls.client_auth, error);
      if (ok && !net::parse_client_auth(tls.client_auth, &auth)) {
        *error = where(path, node.source()) + ": 'client_auth' is off, optional or required";
        ok = false;
      }
    } else if (name == "identity") {
      net::TlsIdentity identity;
      ok = read_string(path, name, node, tls.identity, error);
      if (ok && !net::parse_tls_identity(tls.identity, &identity)) {
        *error = where(path, node.source()) + ": 'identity' is none, username or client_id";
        ok = false;
      }
    } else if (name == "identity_field") {
      ok = read_string(path, name, node, tls.identity_field, error);
      if (ok && tls.identity_field != "cn" && tls.identity_field != "san") {
        *error = where(path, node.source()) + ": 'identity_field' is cn or san";
        ok = false;
      }
    } else if (name == "min_version") {
      ok = read_string(path, name, node, tls.min_version, error);
      if (ok && tls.min_version != "1.2" && tls.min_version != "1.3") {
        *error = where(path, node.source()) + ": 'min_version' is \"1.2\" or \"1.3\"";
        ok = false;
      }
    } else if (name == "ciphers") {
      ok = read_string(path, name, node, tls.ciphers, error);
    } else if (name == "session_tickets") {
      ok = read_boolean(path, name, node, tls.session_tickets, error);
    } else if (name == "handshake_timeout_ms") {
      ok = read_integer(path, name, node, 100, 3'600'000, tls.handshake_timeout_ms, error);
    } else {
      *error = where(path, key.source()) + ": unknown key 'tls." + std::string(name) + "'";
      return false;
    }
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool read_websocket(const std::string& path, const toml::table& table, WebSocketOptions& ws,
                    std::string* error) {
  for (auto&& [key, node] : table) {
    const std::string_view name = key.str();
    bool ok = true;
    if (name == "max_frame_bytes") {
      ok = read_integer(path, name, node, 1024, uint64_t{1} << 32, ws.max_frame_bytes, error);
    } else if (name == "max_message_bytes") {
      ok = read_integer(path, name, node, 1024, uint64_t{1} << 32, ws.max_message_bytes, error);
    } else {
      *error = where(path, key.source()) + ": unknown key 'websocket." + std::string(name) + "'";
      return false;
    }
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool read_http(const std::string& path, const toml::table& table, HttpOptions& http,
               std::string* error) {
  for (auto&& [key, node] : table) {
    const std::string_view name = key.str();
    bool ok = true;
    if (name == "max_head_bytes") {
      ok = read_integer(path, name, node, 512, 1 << 20, http.max_head_bytes, error);
    } else if (name == "max_body_bytes") {
      ok = read_integer(path, name, node, 0, uint64_t{1} << 32, http.max_body_bytes, error);
    } else if (name == "request_timeout_ms") {
      ok = read_integer(path, name, node, 100, 3'600'000, http.request_timeout_ms, error);
    } else if (name == "idle_timeout_ms") {
      ok = read_integer(path, name, node, 100, 86'400'000, http.idle_timeout_ms, error);
    } else if (name == "sse_keepalive_ms") {
      ok = read_integer(path, name, node, 100, 3'600'000, http.sse_keepalive_ms, error);
    } else {
      *error = where(path, key.source()) + ": unknown key 'http." + std::string(name) + "'";
      return false;
    }
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool read_listen(const std::string& path, const toml::node& node, Options& out,
                 std::string* error) {
  const auto* array = node.as_array();
  if (array == nullptr) {
    *error = where(path, node.source()) + ": 'listen' expects an array of listener URLs";
    return false;
  }
  out.listen.clear();
  for (const toml::node& item : *array) {
    std::string url;
    if (!read_string(path, "listen", item, url, error)) {
      return false;
    }
    out.listen.push_back(url);
  }
  return true;
}

// A [table] section read by `reader`.
template <typename T>
bool read_section(const std::string& path, std::string_view name, const toml::node& node,
                  T& out, bool (*reader)(const std::string&, const toml::table&, T&, std::string*),
                  std::string* error) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    *error = where(path, node.source()) + ": '" + std::string(name) + "' expects a table";
    return false;
  }
  return reader(path, *table, out, error);
}

bool take_value(int argc, char** argv, int& i, std::string_view flag, std::string& value) {
  const std::string_view arg = argv[i];
  if (arg.size() > flag.size() && arg[flag.size()] == '=') {
    value = std::string(arg.substr(flag.size() + 1));
    return true;
  }
  if (i + 1 >= argc) {
    return false;
  }
  value = argv[++i];
  return true;
}

bool matches(std::string_view arg, std::string_view flag) {
  return arg == flag || (arg.starts_with(flag) && arg.size() > flag.size() &&
                         arg[flag.size()] == '=');
}

}  // namespace

const char* usage_text() { return kUsage; }

bool load_config_file(const std::string& path, Options& out, std::string* error) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    *error = where(path, e.source()) + ": " + std::string(e.description());
    return false;
  }
  for (auto&& [key, node] : root) {
    const std::string_view name = key.str();
    bool ok = true;
    if (name == "shards") {
      ok = read_integer(path, name, node, 1, kMaxShards, out.shards, error);
    } else if (name == "io") {
      ok = read_string(path, name, node, out.io, error);
    } else if (name == "log_level") {
      ok = read_string(path, name, node, out.log_level, error);
    } else if (name == "rehome_publishers") {
      ok = read_boolean(path, name, node, out.rehome_publishers, error);
    } else if (name == "pin_shards") {
      ok = read_boolean(path, name, node, out.pin_shards, error);
    } else if (name == "listen") {
      ok = read_listen(path, node, out, error);
    } else if (name == "limits") {
      ok = read_section(path, name, node, out.limits, read_limits, error);
    } else if (name == "auth") {
      ok = read_section(path, name, node, out.auth, read_auth, error);
    } else if (name == "acl") {
      ok = read_section(path, name, node, out.acl, read_acl, error);
    } else if (name == "sys") {
      ok = read_section(path, name, node, out.sys, read_sys, error);
    } else if (name == "tls") {
      ok = read_section(path, name, node, out.tls, read_tls, error);
    } else if (name == "websocket") {
      ok = read_section(path, name, node, out.websocket, read_websocket, error);
    } else if (name == "http") {
      ok = read_section(path, name, node, out.http, read_http, error);
    } else {
      *error = where(path, key.source()) + ": unknown key '" + std::string(name) + "'";
      return false;
    }
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool validate_options(const Options& options, std::string* error) {
  if (options.io != "auto" && options.io != "uring" && options.io != "epoll") {
    *error = "io must be auto, uring or epoll, not '" + options.io + "'";
    return false;
  }
  if (!base::parse_log_level(options.log_level)) {
    *error = "unknown log level '" + options.log_level + "'";
    return false;
  }
  if (options.shards > kMaxShards) {
    *error = "shards must be between 1 and 64";
    return false;
  }
  for (const std::string& url : options.listen) {
    std::string why;
    const auto parsed = net::parse_listen_url(url, &why);
    if (!parsed) {
      *error = "bad listener '" + url + "': " + why;
      return false;
    }
    if (parsed->tls() && (options.tls.cert_file.empty() || options.tls.key_file.empty())) {
      *error = "listener '" + url + "' needs [tls] cert_file and key_file (or --tls-cert/--tls-key)";
      return false;
    }
  }
  return true;
}

std::optional<int> load_options(int argc, char** argv, Options& out) {
  // The config file first, so that flags override it wherever they appear.
  for (int i = 1; i < argc; ++i) {
    if (matches(argv[i], "--config")) {
      std::string path;
      if (!take_value(argc, argv, i, "--config", path)) {
        std::fprintf(stderr, "peregrine: --config needs a FILE\n%s", kUsage);
        return 2;
      }
      std::string error;
      if (!load_config_file(path, out, &error)) {
        std::fprintf(stderr, "peregrine: %s\n", error.c_str());
        return 2;
      }
    }
  }
  bool listen_from_flags = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    std::string value;
    auto need = [&](std::string_view flag) {
      if (!take_value(argc, argv, i, flag, value)) {
        std::fprintf(stderr, "peregrine: %.*s needs a value\n", static_cast<int>(flag.size()),
                     flag.data());
        return false;
      }
      return true;
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--version") {
      std::printf("peregrine %s\n", PEREGRINE_VERSION);
      return 0;
    }
    if (matches(arg, "--config")) {
      if (!need("--config")) {
        return 2;
      }
    } else if (matches(arg, "--listen")) {
      if (!need("--listen")) {
        return 2;
      }
      if (!listen_from_flags) {
        out.listen.clear();  // flags replace the file's listeners
        listen_from_flags = true;
      }
      out.listen.push_back(value);
    } else if (matches(arg, "--shards")) {
      if (!need("--shards")) {
        return 2;
      }
      unsigned shards = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), shards);
      if (ec != std::errc() || end != value.data() + value.size() || shards < 1 ||
          shards > kMaxShards) {
        std::fprintf(stderr, "peregrine: --shards must be between 1 and 64\n");
        return 2;
      }
      out.shards = static_cast<uint16_t>(shards);
    } else if (matches(arg, "--io")) {
      if (!need("--io")) {
        return 2;
      }
      out.io = value;
    } else if (matches(arg, "--tls-cert")) {
      if (!need("--tls-cert")) {
        return 2;
      }
      out.tls.cert_file = value;
    } else if (matches(arg, "--tls-key")) {
      if (!need("--tls-key")) {
        return 2;
      }
      out.tls.key_file = value;
    } else if (matches(arg, "--tls-ca")) {
      if (!need("--tls-ca")) {
        return 2;
      }
      out.tls.ca_file = value;
    } else if (matches(arg, "--log-level")) {
      if (!need("--log-level")) {
        return 2;
      }
      out.log_level = value;
    } else {
      std::fprintf(stderr, "peregrine: unknown argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  std::string error;
  if (!validate_options(out, &error)) {
    std::fprintf(stderr, "peregrine: %s\n", error.c_str());
    return 2;
  }
  return std::nullopt;
}

}  // namespace peregrine::config
