#include "src/config/config_keys.h"

#include <toml++/toml.h>

#include <utility>

#include "src/mqtt/codec.h"

namespace peregrine::config {

namespace {

constexpr uint64_t kTiB = uint64_t{1} << 40;

constexpr std::string_view kIo[] = {"auto", "uring", "epoll"};
constexpr std::string_view kFsync[] = {"always", "interval", "never"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn",
                                           "warning", "error", "off"};
constexpr std::string_view kLogFormats[] = {"text", "json"};
constexpr std::string_view kClientAuth[] = {"off", "optional", "required"};
constexpr std::string_view kIdentity[] = {"none", "username", "client_id"};
constexpr std::string_view kIdentityField[] = {"cn", "san"};
constexpr std::string_view kTlsVersions[] = {"1.2", "1.3"};
constexpr std::string_view kLimitsProfiles[] = {"default", "cloudflare"};
constexpr std::string_view kUnmatchedBroker[] = {"default", "refuse"};

const char* power_of_two_or_zero(uint64_t v) {
  return v == 0 || (v > 1 && (v & (v - 1)) == 0) ? nullptr : "must be 0 or a power of two";
}

const char* denied_code(uint64_t v) {
  return v == 0x80 || v == 0x87 ? nullptr : "is 0x80 (128) or 0x87 (135)";
}

std::string location(const std::string& path, const toml::source_region& source) {
  return path + ":" + std::to_string(source.begin.line) + ":" +
         std::to_string(source.begin.column);
}

bool read_string_of(const toml::node& node, std::string& out) {
  const auto* value = node.as_string();
  if (value == nullptr) {
    return false;
  }
  out = value->get();
  return true;
}

// listen = ["URL", ...]: each URL checked where it stands.
bool read_listen(const std::string& path, const toml::node& node, Options& options,
                 Origins* origins, std::string* error) {
  const auto* array = node.as_array();
  if (array == nullptr) {
    *error = "expects an array of listener URLs";
    return false;
  }
  options.listen.clear();
  for (const toml::node& item : *array) {
    std::string url;
    if (!read_string_of(item, url)) {
      *error = location(path, item.source()) + ": 'listen' entries are strings";
      return false;
    }
    if (origins != nullptr) {
      (*origins)["listen[" + std::to_string(options.listen.size()) + "]"] =
          location(path, item.source());
    }
    options.listen.push_back(std::move(url));
  }
  return true;
}

bool read_allowed_origins(const std::string& path, const toml::node& node, Options& options,
                          Origins*, std::string* error) {
  const auto* array = node.as_array();
  if (array == nullptr) {
    *error = "expects an array of origins (\"https://app.example\", or \"*\")";
    return false;
  }
  options.http.allowed_origins.clear();
  for (const toml::node& item : *array) {
    std::string origin;
    if (!read_string_of(item, origin) ||
        (origin != "*" && origin.find("://") == std::string::npos) ||
        origin.find_first_of(" \t\r\n,") != std::string::npos) {
      *error = location(path, item.source()) +
               ": 'http.allowed_origins' entries are origins (scheme://host[:port]) or \"*\"";
      return false;
    }
    options.http.allowed_origins.push_back(std::move(origin));
  }
  return true;
}

// The tables of an array of tables `[[NAME]]`: `field` is called with each key's name,
// its value and where it is, and answers with an error ("" when the key is taken).
template <typename Field>
bool each_table_field(const std::string& path, const toml::node& node, std::string_view name,
                      std::string* error, Field&& field) {
  const auto* array = node.as_array();
  if (array == nullptr) {
    *error = "expects [[" + std::string(name) + "]] tables";
    return false;
  }
  for (const toml::node& item : *array) {
    const auto* table = item.as_table();
    if (table == nullptr) {
      *error = location(path, item.source()) + ": '" + std::string(name) + "' entries are tables";
      return false;
    }
    for (auto&& [key, value] : *table) {
      std::string why = field(key.str(), value, location(path, value.source()));
      if (!why.empty()) {
        *error = why;
        return false;
      }
    }
    std::string why = field(std::string_view(), item, location(path, item.source()));
    if (!why.empty()) {  // the table is whole: its checks
      *error = why;
      return false;
    }
  }
  return true;
}

// [[acl.deny]] tables: topic, access, client_id, username.
bool read_acl_deny(const std::string& path, const toml::node& node, Options& options, Origins*,
                   std::string* error) {
  AclRule rule;
  std::string access = "readwrite";
  return each_table_field(path, node, "acl.deny", error,
                          [&](std::string_view f, const toml::node& value,
                              const std::string& where) -> std::string {
    if (f.empty()) {
      if (rule.topic.empty() || !mqtt::valid_topic_filter(rule.topic)) {
        return where + ": 'acl.deny' needs a valid 'topic' filter";
      }
      if (access != "read" && access != "write" && access != "readwrite") {
        return where + ": 'access' is read, write or readwrite";
      }
      rule.read = access != "write";
      rule.write = access != "read";
      options.acl.deny.push_back(std::exchange(rule, {}));
      access = "readwrite";
      return {};
    }
    std::string* field = f == "topic"       ? &rule.topic
                         : f == "access"    ? &access
                         : f == "client_id" ? &rule.client_id
                         : f == "username"  ? &rule.username
                                            : nullptr;
    if (field == nullptr) {
      return where + ": unknown key 'acl.deny." + std::string(f) + "'";
    }
    if (!read_string_of(value, *field)) {
      return where + ": 'acl.deny." + std::string(f) + "' expects a string";
    }
    return {};
  });
}

// [[auth.scram_sha256]] tables: username, password, iterations.
bool read_scram_users(const std::string& path, const toml::node& node, Options& options,
                      Origins*, std::string* error) {
  ScramUser entry;
  return each_table_field(path, node, "auth.scram_sha256", error,
                          [&](std::string_view f, const toml::node& value,
                              const std::string& where) -> std::string {
    if (f.empty()) {
      if (entry.username.empty() || entry.password.empty()) {
        return where + ": a SCRAM user needs username and password";
      }
      options.auth.scram_sha256.push_back(std::exchange(entry, {}));
      return {};
    }
    if (f == "username" || f == "password") {
      if (!read_string_of(value, f == "username" ? entry.username : entry.password)) {
        return where + ": 'auth.scram_sha256." + std::string(f) + "' expects a string";
      }
      return {};
    }
    if (f == "iterations") {
      const auto* n = value.as_integer();
      if (n == nullptr || n->get() < 4096 || n->get() > 10'000'000) {
        return where + ": 'auth.scram_sha256.iterations' expects an integer in [4096, 10000000]";
      }
      entry.iterations = static_cast<uint32_t>(n->get());
      return {};
    }
    return where + ": unknown key 'auth.scram_sha256." + std::string(f) + "'";
  });
}

// allow_anonymous = true | false (unset: only when every listener is on loopback).
bool read_allow_anonymous(const std::string&, const toml::node& node, Options& options,
                          Origins*, std::string* error) {
  const auto* value = node.as_boolean();
  if (value == nullptr) {
    *error = "expects true or false";
    return false;
  }
  options.auth.allow_anonymous = value->get() ? AnonymousAccess::kAllowed : AnonymousAccess::kRefused;
  return true;
}

// [[auth.jwt.keys]] tables: kid, alg, and file or secret_file. The files are read at
// start-up (src/auth/key_files.h), where a bad key stops the broker.
bool read_jwt_keys(const std::string& path, const toml::node& node, Options& options, Origins*,
                   std::string* error) {
  JwtKeyFile key;
  return each_table_field(path, node, "auth.jwt.keys", error,
                          [&](std::string_view f, const toml::node& value,
                              const std::string& where) -> std::string {
    if (f.empty()) {
      if (key.file.empty() == key.secret_file.empty()) {
        return where + ": an 'auth.jwt.keys' entry has one of 'file' or 'secret_file'";
      }
      if (!key.alg.empty() && key.alg != "EdDSA" && key.alg != "ES256" && key.alg != "RS256" &&
          key.alg != "PS256" && key.alg != "HS256") {
        return where + ": 'auth.jwt.keys.alg' is EdDSA, ES256, RS256, PS256 or HS256";
      }
      if (!key.secret_file.empty() && key.alg != "HS256") {
        return where + ": a 'secret_file' key has alg = \"HS256\"";
      }
      options.auth.jwt.keys.push_back(std::exchange(key, {}));
      return {};
    }
    std::string* field = f == "kid"           ? &key.kid
                         : f == "alg"         ? &key.alg
                         : f == "file"        ? &key.file
                         : f == "secret_file" ? &key.secret_file
                                              : nullptr;
    if (field == nullptr) {
      return where + ": unknown key 'auth.jwt.keys." + std::string(f) + "'";
    }
    if (!read_string_of(value, *field)) {
      return where + ": 'auth.jwt.keys." + std::string(f) + "' expects a string";
    }
    return {};
  });
}

// [[namespace]] tables: name, description.
bool read_namespaces(const std::string& path, const toml::node& node, Options& options, Origins*,
                     std::string* error) {
  NamespaceOptions entry;
  return each_table_field(path, node, "namespace", error,
                          [&](std::string_view f, const toml::node& value,
                              const std::string& where) -> std::string {
    if (f.empty()) {
      if (entry.name.empty()) {
        return where + ": a namespace needs a name";
      }
      options.namespaces.push_back(std::exchange(entry, {}));
      return {};
    }
    std::string* target = f == "name" ? &entry.name : f == "description" ? &entry.description : nullptr;
    if (target == nullptr) {
      return where + ": unknown key 'namespace." + std::string(f) + "' (name, description)";
    }
    if (!read_string_of(value, *target)) {
      return where + ": 'namespace." + std::string(f) + "' expects a string";
    }
    return {};
  });
}

// [[broker]] tables: name, namespace, description, hostnames.
bool read_brokers(const std::string& path, const toml::node& node, Options& options, Origins*,
                  std::string* error) {
  BrokerOptions entry;
  return each_table_field(path, node, "broker", error,
                          [&](std::string_view f, const toml::node& value,
                              const std::string& where) -> std::string {
    if (f.empty()) {
      if (entry.name.empty() || entry.ns.empty()) {
        return where + ": a broker needs a name and a namespace";
      }
      options.brokers.push_back(std::exchange(entry, {}));
      return {};
    }
    if (f == "hostnames") {
      const auto* names = value.as_array();
      for (size_t i = 0; names != nullptr && i < names->size(); ++i) {
        std::string hostname;
        if (!read_string_of(*names->get(i), hostname)) {
          names = nullptr;
          break;
        }
        entry.hostnames.push_back(std::move(hostname));
      }
      return names == nullptr ? where + ": 'broker.hostnames' expects an array of strings"
                              : std::string();
    }
    std::string* target = f == "name"          ? &entry.name
                          : f == "namespace"   ? &entry.ns
                          : f == "description" ? &entry.description
                                               : nullptr;
    if (target == nullptr) {
      return where + ": unknown key 'broker." + std::string(f) +
             "' (name, namespace, description, hostnames)";
    }
    if (!read_string_of(value, *target)) {
      return where + ": 'broker." + std::string(f) + "' expects a string";
    }
    return {};
  });
}

#define TARGET(member) [](Options& o) -> KeyTarget { return &o.member; }

// Reloadable: what a running broker takes on SIGHUP (read per connection or per event;
// listeners are opened, closed, and given new transports — [http], [websocket], the
// admin API — for connections accepted after it). Shards, the io backend, pinning, the
// log format, persistence, the mailboxes and the revocation capacity are fixed for a
// process's life.
constexpr bool kReload = true;
constexpr bool kRestart = false;

const ConfigKey kKeys[] = {
    {"shards", KeyKind::kInteger, kRestart, TARGET(shards), 1, 64},
    {"io", KeyKind::kChoice, kRestart, TARGET(io), 0, 0, kIo},
    {"log_level", KeyKind::kChoice, kReload, TARGET(log_level), 0, 0, kLogLevels},
    {"log_format", KeyKind::kChoice, kRestart, TARGET(log_format), 0, 0, kLogFormats},
    {"state_dir", KeyKind::kString, kRestart, TARGET(state_dir)},
    {"persistence", KeyKind::kBoolean, kRestart, TARGET(persistence)},
    {"fsync", KeyKind::kChoice, kRestart, TARGET(fsync), 0, 0, kFsync},
    {"fsync_interval_ms", KeyKind::kInteger, kRestart, TARGET(fsync_interval_ms), 1, 3'600'000},
    {"log_compact_bytes", KeyKind::kInteger, kRestart, TARGET(log_compact_bytes), 4096, kTiB},
    {"rehome_publishers", KeyKind::kBoolean, kReload, TARGET(rehome_publishers)},
    {"drain_timeout_ms", KeyKind::kInteger, kReload, TARGET(drain_timeout_ms), 0, 600'000},
    {"pin_shards", KeyKind::kBoolean, kRestart, TARGET(pin_shards)},
    {"listen", KeyKind::kCustom, kReload, nullptr, 0, 0, {}, nullptr, read_listen},
    {"limits_profile", KeyKind::kChoice, kReload, TARGET(limits_profile), 0, 0, kLimitsProfiles},
    {"namespace", KeyKind::kCustom, kReload, nullptr, 0, 0, {}, nullptr, read_namespaces},
    {"broker", KeyKind::kCustom, kReload, nullptr, 0, 0, {}, nullptr, read_brokers},
    {"unmatched_broker", KeyKind::kChoice, kReload, TARGET(unmatched_broker), 0, 0,
     kUnmatchedBroker},

    {"limits.max_packet_size", KeyKind::kInteger, kReload, TARGET(limits.max_packet_size), 64,
     268'435'460},
    {"limits.connect_timeout_ms", KeyKind::kInteger, kReload, TARGET(limits.connect_timeout_ms),
     1, 3'600'000},
    {"limits.outbound_buffer_bytes", KeyKind::kInteger, kReload,
     TARGET(limits.outbound_buffer_bytes), 1024, kTiB},
    {"limits.max_inflight", KeyKind::kInteger, kReload, TARGET(limits.max_inflight), 1, 65535},
    {"limits.receive_maximum", KeyKind::kInteger, kReload, TARGET(limits.receive_maximum), 1,
     65535},
    {"limits.max_queued_messages", KeyKind::kInteger, kReload,
     TARGET(limits.max_queued_messages), 0, 100'000'000},
    {"limits.max_queued_bytes", KeyKind::kInteger, kReload, TARGET(limits.max_queued_bytes), 0,
     kTiB},
    {"limits.max_session_bytes", KeyKind::kInteger, kReload, TARGET(limits.max_session_bytes),
     1, kTiB},
    {"limits.held_bytes_budget", KeyKind::kInteger, kReload, TARGET(limits.held_bytes_budget),
     0, kTiB * 16},
    {"limits.max_session_expiry", KeyKind::kInteger, kReload,
     TARGET(limits.max_session_expiry), 0, 0xFFFFFFFFu},
    {"limits.max_retained_messages", KeyKind::kInteger, kReload,
     TARGET(limits.max_retained_messages), 1, 1'000'000'000},
    {"limits.max_retained_bytes", KeyKind::kInteger, kReload, TARGET(limits.max_retained_bytes),
     0, kTiB},
    {"limits.topic_alias_maximum", KeyKind::kInteger, kReload,
     TARGET(limits.topic_alias_maximum), 0, 65535},
    {"limits.outbound_topic_aliases", KeyKind::kInteger, kReload,
     TARGET(limits.outbound_topic_aliases), 0, 65535},
    {"limits.max_keep_alive", KeyKind::kInteger, kReload, TARGET(limits.max_keep_alive), 0,
     65535},
    {"limits.mailbox_capacity", KeyKind::kInteger, kRestart, TARGET(limits.mailbox_capacity), 0,
     1 << 20, {}, power_of_two_or_zero},
    {"limits.max_lingering", KeyKind::kInteger, kReload, TARGET(limits.max_lingering), 0,
     1 << 20},
    {"limits.max_connections", KeyKind::kInteger, kReload, TARGET(limits.max_connections), 0,
     UINT32_MAX},
    {"limits.mailbox_overflow_limit", KeyKind::kInteger, kRestart,
     TARGET(limits.mailbox_overflow_limit), 1, 1 << 24},
    {"limits.max_client_id_length", KeyKind::kInteger, kReload,
     TARGET(limits.max_client_id_length), 1, 65535},
    {"limits.max_username_length", KeyKind::kInteger, kReload,
     TARGET(limits.max_username_length), 0, 65535},
    {"limits.max_password_length", KeyKind::kInteger, kReload,
     TARGET(limits.max_password_length), 0, 65535},
    {"limits.max_topic_length", KeyKind::kInteger, kReload, TARGET(limits.max_topic_length), 1,
     65535},
    {"limits.max_topic_depth", KeyKind::kInteger, kReload, TARGET(limits.max_topic_depth), 0,
     65535},
    {"limits.max_packets_per_second", KeyKind::kInteger, kReload,
     TARGET(limits.max_packets_per_second), 0, 1'000'000},
    {"limits.packet_burst", KeyKind::kInteger, kReload, TARGET(limits.packet_burst), 0,
     1'000'000},
    {"limits.min_keep_alive", KeyKind::kInteger, kReload, TARGET(limits.min_keep_alive), 0,
     65535},
    {"limits.max_connections_per_address", KeyKind::kInteger, kReload,
     TARGET(limits.max_connections_per_address), 0, UINT32_MAX},
    {"limits.max_new_connections_per_address", KeyKind::kInteger, kReload,
     TARGET(limits.max_new_connections_per_address), 0, UINT32_MAX},
    {"limits.max_subscribers_per_filter", KeyKind::kInteger, kRestart,
     TARGET(limits.max_subscribers_per_filter), 0, UINT32_MAX},
    {"limits.max_namespaces", KeyKind::kInteger, kReload, TARGET(limits.max_namespaces), 0,
     10'000},
    {"limits.max_brokers_per_namespace", KeyKind::kInteger, kReload,
     TARGET(limits.max_brokers_per_namespace), 0, 100'000},

    {"sys.broker_id", KeyKind::kString, kReload, TARGET(sys.broker_id)},
    {"sys.interval_ms", KeyKind::kInteger, kReload, TARGET(sys.interval_ms), 0, 86'400'000},
    {"sys.heartbeat_ms", KeyKind::kInteger, kReload, TARGET(sys.heartbeat_ms), 0, 86'400'000},
    {"sys.events", KeyKind::kBoolean, kReload, TARGET(sys.events)},

    {"acl.deny", KeyKind::kCustom, kReload, nullptr, 0, 0, {}, nullptr, read_acl_deny},
    {"acl.subscribe_denied_code", KeyKind::kInteger, kReload, TARGET(acl.subscribe_denied_code),
     0x80, 0x87, {}, denied_code},
    {"acl.disconnect_on_denied_publish", KeyKind::kBoolean, kReload,
     TARGET(acl.disconnect_on_denied_publish)},

    {"auth.scram_sha256", KeyKind::kCustom, kReload, nullptr, 0, 0, {}, nullptr,
     read_scram_users},
    {"auth.allow_anonymous", KeyKind::kCustom, kReload, nullptr, 0, 0, {}, nullptr,
     read_allow_anonymous},
    {"auth.password_file", KeyKind::kString, kReload, TARGET(auth.password_file)},
    {"auth.max_revocations", KeyKind::kInteger, kRestart, TARGET(auth.max_revocations), 1,
     10'000'000},
    {"admin.token_file", KeyKind::kString, kReload, TARGET(admin.token_file)},
    {"admin.allow_remote", KeyKind::kBoolean, kReload, TARGET(admin.allow_remote)},
    {"auth.jwt.keys", KeyKind::kCustom, kReload, nullptr, 0, 0, {}, nullptr, read_jwt_keys},
    {"auth.jwt.leeway_s", KeyKind::kInteger, kReload, TARGET(auth.jwt.leeway_s), 0, 86'400},
    {"auth.jwt.issuer", KeyKind::kString, kReload, TARGET(auth.jwt.issuer)},
    {"auth.jwt.audience", KeyKind::kString, kReload, TARGET(auth.jwt.audience)},
    {"auth.jwt.cache_entries", KeyKind::kInteger, kReload, TARGET(auth.jwt.cache_entries), 0,
     1'000'000},

    {"tls.cert_file", KeyKind::kString, kReload, TARGET(tls.cert_file)},
    {"tls.key_file", KeyKind::kString, kReload, TARGET(tls.key_file)},
    {"tls.ca_file", KeyKind::kString, kReload, TARGET(tls.ca_file)},
    {"tls.client_auth", KeyKind::kChoice, kReload, TARGET(tls.client_auth), 0, 0, kClientAuth},
    {"tls.identity", KeyKind::kChoice, kReload, TARGET(tls.identity), 0, 0, kIdentity},
    {"tls.identity_field", KeyKind::kChoice, kReload, TARGET(tls.identity_field), 0, 0,
     kIdentityField},
    {"tls.min_version", KeyKind::kChoice, kReload, TARGET(tls.min_version), 0, 0, kTlsVersions},
    {"tls.ciphers", KeyKind::kString, kReload, TARGET(tls.ciphers)},
    {"tls.session_tickets", KeyKind::kBoolean, kReload, TARGET(tls.session_tickets)},
    {"tls.handshake_timeout_ms", KeyKind::kInteger, kReload, TARGET(tls.handshake_timeout_ms),
     100, 3'600'000},

    {"websocket.max_frame_bytes", KeyKind::kInteger, kReload, TARGET(websocket.max_frame_bytes),
     1024, uint64_t{1} << 32},
    {"websocket.max_message_bytes", KeyKind::kInteger, kReload,
     TARGET(websocket.max_message_bytes), 1024, uint64_t{1} << 32},

    {"http.max_head_bytes", KeyKind::kInteger, kReload, TARGET(http.max_head_bytes), 512,
     1 << 20},
    {"http.max_body_bytes", KeyKind::kInteger, kReload, TARGET(http.max_body_bytes), 0,
     uint64_t{1} << 32},
    {"http.request_timeout_ms", KeyKind::kInteger, kReload, TARGET(http.request_timeout_ms), 100,
     3'600'000},
    {"http.idle_timeout_ms", KeyKind::kInteger, kReload, TARGET(http.idle_timeout_ms), 100,
     86'400'000},
    {"http.sse_keepalive_ms", KeyKind::kInteger, kReload, TARGET(http.sse_keepalive_ms), 100,
     3'600'000},
    {"http.allowed_origins", KeyKind::kCustom, kReload, nullptr, 0, 0, {}, nullptr,
     read_allowed_origins},
};

#undef TARGET

}  // namespace

std::span<const ConfigKey> config_keys() { return kKeys; }

std::vector<std::string> hold_restart_keys(const Options& running, Options& next) {
  std::vector<std::string> held;
  for (const ConfigKey& key : kKeys) {
    if (key.reloadable) {
      continue;
    }
    if (key.target == nullptr) {
      continue;  // no custom key needs a restart
    }
    Options& from = const_cast<Options&>(running);  // read only: targets are mutable views
    const KeyTarget now = key.target(from);
    const KeyTarget then = key.target(next);
    std::visit(
        [&](auto* current) {
          auto* wanted = std::get<decltype(current)>(then);
          if (*wanted != *current) {
            held.emplace_back(key.name);
            *wanted = *current;
          }
        },
        now);
  }
  return held;
}

const ConfigKey* find_config_key(std::string_view dotted) {
  for (const ConfigKey& key : kKeys) {
    if (key.name == dotted) {
      return &key;
    }
  }
  return nullptr;
}

}  // namespace peregrine::config
