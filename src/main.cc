// The peregrine daemon: options, listeners, one broker shard per core, signals.
#include <malloc.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>
#include <thread>

#include "include/peregrine/options.h"
#include "src/auth/acl_authorizer.h"
#include "src/broker/virtual_brokers.h"
#include "src/auth/base64url.h"
#include "src/auth/connect_authenticator.h"
#include "src/auth/key_files.h"
#include "src/auth/token_issuer.h"
#include "src/auth/scram_sha256.h"
#include "src/base/assert.h"
#include "src/base/clock.h"
#include "src/base/log.h"
#include "src/broker/durable_records.h"
#include "src/broker/shard_broker.h"
#include "src/broker/shard_for.h"
#include "src/config/options_loader.h"
#include "src/daemon/open_files.h"
#include "src/daemon/service_manager.h"
#include "src/daemon/signals.h"
#include "src/http/admin_token.h"
#include "src/io/ring.h"
#include "src/net/listener.h"
#include "src/net/tls_context.h"
#include "src/broker/connection_slots.h"
#include "src/broker/operator_report.h"
#include "src/net/tls_library.h"
#include "src/net/transport_stack.h"
#include "src/shard/shard.h"
#include "src/store/control_file_store.h"
#include "src/store/redistribute.h"
#include "src/store/shard_layout.h"
#include "src/store/shard_log.h"
#include "src/store/state_dir_lock.h"

namespace {

using namespace peregrine;

uint16_t available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    return 1;
  }
  const int count = CPU_COUNT(&set);
  return static_cast<uint16_t>(count < 1 ? 1 : (count > 64 ? 64 : count));
}

bool choose_backend(const std::string& io, io::Backend* backend) {
  if (io == "epoll") {
    *backend = io::Backend::kEpoll;
    return true;
  }
  std::string why;
  if (io::Ring::uring_available(&why)) {
    *backend = io::Backend::kUring;
    return true;
  }
  if (io == "uring") {
    PG_ERROR("io_uring requested but unavailable: %s", why.c_str());
    return false;
  }
  PG_WARN("io_uring unavailable (%s); falling back to epoll", why.c_str());
  *backend = io::Backend::kEpoll;
  return true;
}

// Envelopes per ordered shard pair when the config leaves it to us: one loop turn can read
// a few thousand messages bound for one shard, so two shards get 65,536; more shards
// share a budget (the pages are mapped only as bursts reach them), 4,096 at least.
uint32_t default_mailbox_capacity(uint16_t shards) {
  uint32_t capacity = 65536;
  while (capacity > 4096 && uint64_t{capacity} * shards > 131072) {
    capacity /= 2;
  }
  return capacity;
}

// What the listeners' connections are wrapped in; owned by main, read by every shard.
// Every transport made (at start, and anew for each listener at each reload) is kept for
// the process's life: connections accepted before a reload still point into theirs.
struct Transports {
  net::TlsContextSlot tls;
  std::vector<std::unique_ptr<net::TransportConfig>> configs;
  http::AdminToken admin_token;  // the admin API's bearer token
};

// The transport layers of a listener (nullptr for plain MQTT over TCP).
const net::TransportConfig* transport_for(const net::ListenUrl& url, const Options& options,
                                          Transports& transports) {
  if (!url.tls() && !url.websocket() && !url.http_api()) {
    return nullptr;
  }
  auto config = std::make_unique<net::TransportConfig>();
  config->tls = url.tls() ? &transports.tls : nullptr;
  config->http = url.websocket() || url.http_api();
  config->alpn = config->http ? "http/1.1" : "mqtt";
  config->bound_to_broker = !url.broker.empty();
  http::BridgeConfig& bridge = config->bridge;
  bridge.serve_api = url.http_api();
  bridge.websocket_path = url.path;
  bridge.limits.max_head_bytes = options.http.max_head_bytes;
  // An upgrade request has no body; POST bodies are messages.
  bridge.limits.max_body_bytes = url.http_api() ? options.http.max_body_bytes : 0;
  bridge.request_timeout_ms = options.http.request_timeout_ms;
  bridge.idle_timeout_ms = options.http.idle_timeout_ms;
  bridge.sse_keepalive_ms = options.http.sse_keepalive_ms;
  bridge.allowed_origins = options.http.allowed_origins;
  bridge.max_packet_size = options.limits.max_packet_size;
  // The admin API: on loopback listeners, or every HTTP one when allowed.
  if (url.http_api() && !transports.admin_token.current().empty() &&
      (url.loopback() || options.admin.allow_remote)) {
    bridge.admin_token = &transports.admin_token;
  }
  const uint64_t packet_room = uint64_t{options.limits.max_packet_size} + 65536;
  const WebSocketOptions& ws = options.websocket;
  config->websocket_limits.max_frame_bytes = ws.max_frame_bytes ? ws.max_frame_bytes : packet_room;
  config->websocket_limits.max_message_bytes =
      ws.max_message_bytes ? ws.max_message_bytes : packet_room;
  transports.configs.push_back(std::move(config));
  return transports.configs.back().get();
}

// One SO_REUSEPORT socket per shard for the listener `text`, as listener `index`: false
// (logged) if its URL is bad or its port is taken; `out[s]` gets shard s's socket.
bool open_listener(const std::string& text, const Options& options, uint16_t shards,
                   Transports& transports, uint16_t index,
                   std::vector<std::vector<broker::ShardListener>>& out,
                   uint32_t* max_connections, bool* tls) {
  std::string why;
  auto url = net::parse_listen_url(text, &why);
  if (!url) {
    PG_ERROR("bad listener %s: %s", text.c_str(), why.c_str());
    return false;
  }
  *tls = url->tls();
  // A process killed a moment ago (kill -9, a watchdog) can hold its listening sockets
  // a little longer while the kernel tears its rings down: a restart waits that out
  // (up to 3 s, at start only) before it takes a listener there for another instance.
  bool free = net::port_is_free(*url, &why);
  for (int tries = 0; !free && tries < 60; ++tries) {
    if (tries == 0) {
      PG_INFO("%s; waiting up to 3 s in case it is a process that just ended", why.c_str());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    free = net::port_is_free(*url, &why);
  }
  if (!free) {
    PG_ERROR("%s", why.c_str());
    return false;
  }
  const net::TransportConfig* transport = transport_for(*url, options, transports);
  std::vector<int> fds;
  for (uint16_t s = 0; s < shards; ++s) {
    const int fd = net::open_listener(*url, &why);
    if (fd < 0) {
      PG_ERROR("%s", why.c_str());
      for (int opened : fds) {
        ::close(opened);
      }
      return false;
    }
    fds.push_back(fd);
  }
  for (uint16_t s = 0; s < shards; ++s) {
    out[s].push_back({fds[s], url->text, transport, false, index, url->broker});
  }
  *max_connections = url->max_connections;
  return true;
}

// One SO_REUSEPORT socket per shard for every listener URL.
bool open_listeners(const Options& options, uint16_t shards, Transports& transports,
                    std::vector<std::vector<broker::ShardListener>>& per_shard,
                    std::vector<uint32_t>& max_connections) {
  per_shard.assign(shards, {});
  max_connections.clear();
  bool any_tls = false;
  if (options.listen.size() > broker::ConnectionSlots::kMaxListeners) {
    PG_ERROR("at most %u listeners", broker::ConnectionSlots::kMaxListeners);
    return false;
  }
  for (const std::string& text : options.listen) {
    uint32_t max = 0;
    bool tls = false;
    if (!open_listener(text, options, shards, transports,
                       static_cast<uint16_t>(max_connections.size()), per_shard, &max, &tls)) {
      return false;
    }
    any_tls |= tls;
    max_connections.push_back(max);
  }
  if (any_tls) {
    std::string why;
    auto context = net::TlsContext::create(options.tls, &why);
    if (!context) {
      PG_ERROR("tls: %s", why.c_str());
      return false;
    }
    transports.tls.install(std::move(context));
  }
  return true;
}

// SIGHUP: certificates and keys are read again for new connections; live ones keep
// theirs. A broken file keeps the old context.
void reload_tls(const Options& options, Transports& transports) {
  if (transports.tls.current() == nullptr) {
    PG_INFO("SIGHUP: no TLS listener, nothing to reload");
    return;
  }
  std::string why;
  auto context = net::TlsContext::create(options.tls, &why);
  if (!context) {
    PG_ERROR("SIGHUP: TLS reload failed, keeping the current certificates: %s", why.c_str());
    return;
  }
  transports.tls.install(std::move(context));
  PG_INFO("SIGHUP: TLS certificates reloaded for new connections");
}

// Anonymous access unless configured: only when no listener is reachable from another
// host (Mosquitto 2's rule).
bool anonymous_allowed(const Options& options) {
  switch (options.auth.allow_anonymous) {
    case AnonymousAccess::kAllowed: return true;
    case AnonymousAccess::kRefused: return false;
    case AnonymousAccess::kLoopbackListeners: break;
  }
  return std::all_of(options.listen.begin(), options.listen.end(), [](const std::string& text) {
    std::string why;
    const auto url = net::parse_listen_url(text, &why);
    return url && url->loopback();
  });
}

bool make_authenticator(const Options& options,
                        std::unique_ptr<auth::ConnectAuthenticatorFactory>& out) {
  auth::AuthSettings settings;
  settings.allow_anonymous = anonymous_allowed(options);
  std::string why;
  if (!auth::load_key_files(options.auth.jwt, settings.jwt_keys, why)) {
    PG_ERROR("auth.jwt.keys: %s", why.c_str());
    return false;
  }
  settings.jwt_policy.leeway_s = options.auth.jwt.leeway_s;
  settings.jwt_policy.issuer = options.auth.jwt.issuer;
  settings.jwt_policy.audience = options.auth.jwt.audience;
  settings.token_cache_entries = options.auth.jwt.cache_entries;
  for (const ScramUser& user : options.auth.scram_sha256) {
    settings.scram_users.push_back(user.username);
  }
  if (!options.auth.password_file.empty()) {
    std::string text;
    if (!auth::read_small_file(options.auth.password_file, text, why)) {
      PG_ERROR("auth.password_file: %s", why.c_str());
      return false;
    }
    settings.passwords = auth::PasswordFile::parse(text, why);
    if (!settings.passwords) {
      PG_ERROR("auth.password_file: %s:%s", options.auth.password_file.c_str(), why.c_str());
      return false;
    }
  }
  std::string kids;
  for (const auth::JwsKey& key : settings.jwt_keys) {
    kids += std::string(kids.empty() ? "" : ", ") + key.kid + " (" +
            std::string(auth::algorithm_name(key.alg)) + ")";
  }
  PG_INFO("auth: anonymous clients %s; password file users: %zu; JWT keys: %s",
          settings.allow_anonymous
              ? (options.auth.allow_anonymous == AnonymousAccess::kAllowed
                     ? "allowed (auth.allow_anonymous)"
                     : "allowed (every listener is on loopback)")
              : "refused",
          settings.passwords ? settings.passwords->size() : size_t{0},
          kids.empty() ? "none" : kids.c_str());
  out = std::make_unique<auth::ConnectAuthenticatorFactory>(std::move(settings));
  return true;
}

// state_dir: the option, else systemd's $STATE_DIRECTORY, else ./peregrine-state; made
// 0700 if missing.
bool prepare_state_dir(Options& options) {
  if (options.state_dir.empty()) {
    const char* systemd = std::getenv("STATE_DIRECTORY");
    options.state_dir = systemd != nullptr && systemd[0] != '\0' ? systemd : "./peregrine-state";
  }
  if (::mkdir(options.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    PG_ERROR("state_dir %s: %s", options.state_dir.c_str(), std::strerror(errno));
    return false;
  }
  return true;
}

// Logs written with another shard count hold each retained topic and session in the shard
// that owned it then: every record goes to its owner under `shards` before any shard starts.
bool move_logs_to_shard_count(const std::string& state_dir, uint16_t shards,
                              std::string& error) {
  const uint16_t before = store::recorded_shard_count(state_dir);
  if (before == 0 || before == shards) {
    return true;
  }
  const int64_t now_wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const auto owner = [&](uint8_t type, std::span<const uint8_t> body,
                         std::string& stop) -> std::optional<uint64_t> {
    if (!broker::known_record_type(type)) {
      // A newer broker's record: dropping it would lose state silently.
      stop = "a log record of unknown type " + std::to_string(type) +
             ": state_dir was written by a newer peregrine";
      return std::nullopt;
    }
    std::string why;  // unreadable: logged when replayed as it is
    return broker::record_owners(type, body, shards, now_wall_ms, why);
  };
  store::Redistribution report;
  const uint64_t started = base::monotonic_ns();
  if (!store::redistribute(state_dir, before, shards, owner, report, error)) {
    return false;
  }
  PG_WARN("persistence: the logs of %u shards moved to %u in %.2f s: %zu records, %zu dropped "
          "(expired)",
          before, shards, static_cast<double>(base::monotonic_ns() - started) / 1e9,
          report.records, report.dropped);
  return true;
}

// The admin API's bearer token: admin.token_file's first line, else state_dir/admin.token,
// made on first start (32 random bytes, base64url, mode 0600). Never logged.
bool load_admin_token(const Options& options, std::string& token) {
  std::string why;
  const std::string path = !options.admin.token_file.empty()
                               ? options.admin.token_file
                               : options.state_dir + "/admin.token";
  if (options.admin.token_file.empty() && ::access(path.c_str(), F_OK) != 0) {
    std::string random(32, '\0');
    if (getrandom(random.data(), random.size(), 0) != static_cast<ssize_t>(random.size())) {
      PG_ERROR("cannot draw an admin token");
      return false;
    }
    if (!store::StateWriter::write_atomically(path, auth::base64url_encode(random) + "\n", &why)) {
      PG_ERROR("admin token: %s", why.c_str());
      return false;
    }
    PG_INFO("admin API token made in %s (mode 0600)", path.c_str());
  }
  std::string text;
  if (!auth::read_small_file(path, text, why)) {
    PG_ERROR("admin token: %s", why.c_str());
    return false;
  }
  token = text.substr(0, text.find_first_of("\r\n"));
  if (token.size() < 16) {
    PG_ERROR("admin token in %s: shorter than 16 characters", path.c_str());
    return false;
  }
  return true;
}

// What a reload builds anew; every generation is kept for the process's life, since live
// clients and shards may still point into an older one (a few KB each). And what a
// reload changes of the listeners.
// The virtual brokers' settings of the control plane that come from the config.
void set_tenant_settings(const Options& options, broker::ControlSettings& control) {
  control.configured_tenants = broker::configured_tenants(options);
  control.refuse_unmatched = options.unmatched_broker == "refuse";
  control.max_namespaces = options.limits.max_namespaces;
  control.max_brokers_per_namespace = options.limits.max_brokers_per_namespace;
}

struct ReloadKept {
  std::vector<std::unique_ptr<auth::AclAuthorizer>> acls;
  std::vector<std::unique_ptr<auth::ScramSha256>> scrams;
  std::vector<std::unique_ptr<auth::ConnectAuthenticatorFactory>> authenticators;
  std::vector<std::unique_ptr<auth::Ed25519TokenIssuer>> issuers;
  std::vector<std::unique_ptr<broker::ProcessFacts>> facts;
  struct Listener {
    std::string written;  // its URL as the config says it
    uint16_t index = 0;   // the shards' and the connection slots' name for it
  };
  std::vector<Listener> listening;  // open now
  uint16_t next_listener = 0;       // the index the next listener opened gets
  uint16_t shards = 0;
  broker::ConnectionSlots* slots = nullptr;
};

// What identifies a listener across reloads: the address its socket binds. Its scheme,
// path and options may change while the socket (and its connections) stay.
std::string bind_address(const std::string& text) {
  std::string why;
  const auto url = net::parse_listen_url(text, &why);
  return url ? url->host + " " + std::to_string(url->port) : text;
}

// [[auth.jwt.keys]] as the admin API's key list shows them: kid and algorithm.
std::vector<std::pair<std::string, std::string>> configured_key_list(
    const auth::ConnectAuthenticatorFactory& authenticator) {
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auth::JwsKey& key : authenticator.settings().jwt_keys) {
    keys.emplace_back(key.kid, auth::algorithm_name(key.alg));
  }
  return keys;
}

// SCRAM users' salted keys, made at start and at each reload; nullptr when none.
std::unique_ptr<auth::ScramSha256> make_scram(const Options& options) {
  if (options.auth.scram_sha256.empty()) {
    return nullptr;
  }
  auto scram = std::make_unique<auth::ScramSha256>();
  for (const ScramUser& user : options.auth.scram_sha256) {
    std::vector<uint8_t> salt(16);
    if (getrandom(salt.data(), salt.size(), 0) != static_cast<ssize_t>(salt.size())) {
      PG_ERROR("cannot draw a salt for SCRAM users");
      return nullptr;
    }
    scram->add_user(user.username,
                    auth::ScramSha256::derive(user.password, std::move(salt), user.iterations));
  }
  return scram;
}

// SIGHUP's listeners, matched by the address they bind: those no longer listed close
// (their connections stay); those still listed keep their socket and take a new transport
// (scheme, path, `?` options, [http], [websocket], the admin API's reach) for connections
// accepted from now on; new ones open on every shard (one that cannot is logged and
// skipped). Returns the URLs listened on now, as written.
std::vector<std::string> reload_listeners(const Options& next, ReloadKept& kept,
                                          Transports& transports, shard::ShardGroup& group) {
  std::vector<std::string> wanted = next.listen;
  if (wanted.empty()) {
    wanted.push_back("mqtt://127.0.0.1:1883");
  }
  const auto wanted_at = [&](const std::string& address) {
    return std::any_of(wanted.begin(), wanted.end(),
                       [&](const std::string& w) { return bind_address(w) == address; });
  };
  std::vector<uint16_t> removed;
  std::vector<ReloadKept::Listener> listening;
  for (const ReloadKept::Listener& running : kept.listening) {
    if (wanted_at(bind_address(running.written))) {
      listening.push_back(running);
    } else {
      removed.push_back(running.index);
      PG_INFO("SIGHUP: no longer listening on %s (its connections stay)",
              running.written.c_str());
    }
  }
  std::vector<std::vector<broker::ShardListener>> added(kept.shards);
  std::vector<broker::ShardListener> changed;
  std::vector<ReloadKept::Listener> opened;
  bool any_tls = false;
  for (const std::string& text : wanted) {
    const std::string address = bind_address(text);
    const auto same = [&](const ReloadKept::Listener& l) {
      return bind_address(l.written) == address;
    };
    if (auto it = std::find_if(listening.begin(), listening.end(), same);
        it != listening.end()) {
      std::string why;
      const auto url = net::parse_listen_url(text, &why);
      PG_ASSERT(url.has_value());  // the config's validation parsed it
      changed.push_back(
          {-1, url->text, transport_for(*url, next, transports), false, it->index, url->broker});
      kept.slots->set_listener_limit(it->index, url->max_connections);
      any_tls |= url->tls();
      if (it->written != text) {
        PG_INFO("SIGHUP: listener %s is now %s", it->written.c_str(), text.c_str());
        it->written = text;
      }
      continue;
    }
    if (kept.next_listener >= broker::ConnectionSlots::kMaxListeners) {
      PG_ERROR("SIGHUP: listener %s not opened: %u listeners opened since start is the most",
               text.c_str(), broker::ConnectionSlots::kMaxListeners);
      continue;
    }
    uint32_t max = 0;
    bool tls = false;
    if (!open_listener(text, next, kept.shards, transports, kept.next_listener, added, &max,
                       &tls)) {
      PG_ERROR("SIGHUP: listener %s not opened (above)", text.c_str());
      continue;
    }
    kept.slots->set_listener_limit(kept.next_listener, max);
    opened.push_back({text, kept.next_listener++});
    any_tls |= tls;
  }
  if (any_tls && transports.tls.current() == nullptr) {
    std::string why;
    auto context = net::TlsContext::create(next.tls, &why);
    if (context) {
      transports.tls.install(std::move(context));
    } else {
      PG_ERROR("SIGHUP: tls: %s (new TLS listeners refuse handshakes)", why.c_str());
    }
  }
  group.run_on_each(
      [&](shard::ShardService& service) {
        auto& broker = static_cast<broker::ShardBroker&>(service);
        broker.change_listeners(std::move(added[broker.shard_id()]), removed, changed);
      },
      10'000);
  std::vector<std::string> urls;
  for (const ReloadKept::Listener& listener : listening) {
    urls.push_back(listener.written);
  }
  for (const ReloadKept::Listener& listener : opened) {
    PG_INFO("SIGHUP: listening on %s", listener.written.c_str());
    urls.push_back(listener.written);
  }
  listening.insert(listening.end(), opened.begin(), opened.end());
  kept.listening = std::move(listening);
  return urls;
}

// SIGHUP: the admin token file (or state_dir/admin.token) is read again; a token that
// cannot be read keeps the running one.
void reload_admin_token(const Options& next, Transports& transports) {
  std::string token;
  if (!load_admin_token(next, token)) {
    PG_ERROR("SIGHUP: the admin API keeps its running token");
    return;
  }
  if (transports.admin_token.install(std::move(token))) {
    PG_INFO("SIGHUP: admin API token replaced");
  }
}

// SIGHUP: the config file and the flags are read again. A file that does not load or
// validate keeps the running configuration (its FILE:LINE:COL logged); keys that need a
// restart keep their running values (logged); the rest applies: log level, TLS files,
// the admin token, listeners, and on every shard limits, $SYS, the ACL, authentication
// (and the issuer's claims), the drain and rehoming. Returns "" or what failed, for the
// service manager's status line.
std::string reload(int argc, char** argv, const Options& loaded, Options& running,
                   broker::BrokerConfig& config, Transports& transports, ReloadKept& kept,
                   shard::ShardGroup& group) {
  std::string config_path;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string_view(argv[i]) == "--config") {
      config_path = argv[i + 1];
    } else if (std::string_view(argv[i]).starts_with("--config=")) {
      config_path = argv[i] + 9;
    }
  }
  Options next;
  std::vector<std::string> warnings;
  std::string error;
  if (auto code = config::load_options(argc, argv, next, &warnings, &error); code && *code != 0) {
    if (error.empty()) {
      error = "the command line does not parse";
    }
    PG_ERROR("SIGHUP: %s; keeping the running configuration", error.c_str());
    return "reload failed: " + error;
  }
  for (const std::string& warning : warnings) {
    PG_WARN("%s", warning.c_str());
  }
  for (const std::string& key : config::hold_restart_keys(loaded, next)) {
    PG_WARN("SIGHUP: '%s' changed: it takes effect at the next restart", key.c_str());
  }
  // Checked whole (names, hostnames, every listener's ?broker=) before anything changes.
  if (broker::make_virtual_brokers(next, &error) == nullptr) {
    PG_ERROR("SIGHUP: %s; keeping the running configuration", error.c_str());
    return "reload failed: " + error;
  }
  // From here on the new configuration is valid: what cannot be built keeps the old part.
  base::set_log_level(*base::parse_log_level(next.log_level));
  reload_tls(next, transports);
  reload_admin_token(next, transports);
  kept.slots->set_total_limit(next.limits.max_connections);
  kept.slots->addresses().set_limits(next.limits.max_connections_per_address,
                                     next.limits.max_new_connections_per_address);
  broker::BrokerConfig applied = config;
  kept.facts.push_back(std::make_unique<broker::ProcessFacts>(*config.process));
  kept.facts.back()->listeners = reload_listeners(next, kept, transports, group);
  applied.process = kept.facts.back().get();
  applied.limits = next.limits;
  applied.limits.mailbox_capacity = config.limits.mailbox_capacity;  // fixed at start
  applied.limits.mailbox_overflow_limit = config.limits.mailbox_overflow_limit;
  applied.sys = next.sys;
  applied.acl = next.acl;
  applied.drain_timeout_ms = next.drain_timeout_ms;
  applied.rehome_publishers = next.rehome_publishers;
  // Connections keep the broker they were given; new ones are chosen from the config's
  // brokers now and those the admin API made (each shard's control plane).
  set_tenant_settings(next, applied.control);
  if (!next.acl.deny.empty()) {
    kept.acls.push_back(std::make_unique<auth::AclAuthorizer>(next.acl));
    applied.authorizer = kept.acls.back().get();
  } else {
    applied.authorizer = nullptr;
  }
  std::unique_ptr<auth::ConnectAuthenticatorFactory> authenticator;
  if (make_authenticator(next, authenticator)) {
    applied.authenticator = authenticator.get();
    // Tokens the broker issues carry the iss and aud its verifier now expects.
    kept.issuers.push_back(
        std::make_unique<auth::Ed25519TokenIssuer>(authenticator->settings().jwt_policy));
    applied.control.issuer = kept.issuers.back().get();
    applied.control.configured_keys = configured_key_list(*authenticator);
    kept.authenticators.push_back(std::move(authenticator));
    applied.auth_methods.clear();
    if (auto scram = make_scram(next)) {
      applied.auth_methods.push_back(scram.get());
      kept.scrams.push_back(std::move(scram));
    } else if (!next.auth.scram_sha256.empty()) {
      applied.auth_methods = config.auth_methods;  // no salt drawn: the running users stay
    }
  } else {
    PG_ERROR("SIGHUP: authentication keeps its running settings");
  }
  if (!group.run_on_each(
          [&applied](shard::ShardService& shard) {
            static_cast<broker::ShardBroker&>(shard).reconfigure(applied);
          },
          10'000)) {
    PG_ERROR("SIGHUP: a shard did not take the new configuration within 10 s");
    return "reload stuck";
  }
  config = applied;
  running = next;
  PG_INFO("SIGHUP: configuration reloaded%s%s", config_path.empty() ? "" : " from ",
          config_path.c_str());
  return "";
}

int run(Options options, int argc, char** argv) {
  // First: a SIGTERM during start-up waits for the shutdown loop, which drains as always.
  // Blocked only after the listeners opened (as it was), one that came once a client
  // could connect but before the mask killed the process outright (exit by signal 15;
  // seen in CI when a test stopped a broker right after its port answered).
  daemon::block_signals();
  const Options loaded = options;  // as read, before the defaults below: what reloads compare
  if (options.listen.empty()) {
    options.listen.push_back("mqtt://127.0.0.1:1883");
  }
  if (!prepare_state_dir(options)) {
    return 1;
  }
  // One process per state_dir: two would write one set of files.
  store::StateDirLock state_lock;
  {
    std::string why;
    if (!state_lock.acquire(options.state_dir, why)) {
      PG_ERROR("%s", why.c_str());
      return 1;
    }
  }

  io::Backend backend = io::Backend::kEpoll;
  if (!choose_backend(options.io, &backend)) {
    return 1;
  }
  const uint16_t shards = options.shards != 0 ? options.shards : available_cpus();
  {
    // Each shard keeps a few descriptors of its own (its ring, listeners, log, timers):
    // the rest is room for connections.
    const daemon::OpenFilesLimit files = daemon::raise_open_files_limit();
    const uint64_t own = 64 + 16ull * shards;
    char raised[48] = "";
    if (files.now != files.before) {
      std::snprintf(raised, sizeof raised, " (raised from %llu)",
                    static_cast<unsigned long long>(files.before));
    }
    PG_INFO("open files: %llu%s: room for about %llu connections",
            static_cast<unsigned long long>(files.now), raised,
            static_cast<unsigned long long>(files.now > own ? files.now - own : 0));
  }
  std::vector<std::vector<broker::ShardListener>> listeners;
  Transports transports;  // outlives the shards
  {
    std::string token;
    if (!load_admin_token(options, token)) {
      return 1;
    }
    transports.admin_token.install(std::move(token));
  }
  std::vector<uint32_t> listener_max_connections;
  if (!open_listeners(options, shards, transports, listeners, listener_max_connections)) {
    return 1;
  }
  broker::ConnectionSlots slots;  // outlives the shards
  slots.set_limits(options.limits.max_connections, listener_max_connections);

  // The config file's ACL, when it has rules; shared read-only by every shard.
  std::unique_ptr<auth::AclAuthorizer> acl;
  if (!options.acl.deny.empty()) {
    acl = std::make_unique<auth::AclAuthorizer>(options.acl);
  }
  broker::BrokerConfig config{options.limits, options.sys, options.acl, acl.get(), {}};
  // The config's virtual brokers are checked whole here (names, hostnames, every
  // listener's ?broker=); each shard's control plane builds its own directory of them.
  if (std::string why; broker::make_virtual_brokers(options, &why) == nullptr) {
    PG_ERROR("%s", why.c_str());
    return 1;
  }
  set_tenant_settings(options, config.control);
  config.rehome_publishers = options.rehome_publishers;
  config.drain_timeout_ms = options.drain_timeout_ms;
  // What /metrics and /status say the process is.
  broker::ProcessFacts process;
  process.version = PEREGRINE_VERSION;
  process.io_backend = io::backend_name(backend);
  process.tls_library = net::describe(net::tls_library());
  process.listeners = options.listen;
  process.started_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  config.process = &process;
  config.slots = &slots;
  slots.addresses().set_limits(options.limits.max_connections_per_address,
                               options.limits.max_new_connections_per_address);
  // Enhanced authentication methods, shared read-only by every shard.
  std::unique_ptr<auth::ScramSha256> scram = make_scram(options);
  if (!options.auth.scram_sha256.empty() && scram == nullptr) {
    return 1;
  }
  if (scram != nullptr) {
    config.auth_methods.push_back(scram.get());
  }
  // Authentication: tokens and the anonymous policy; each shard makes its own checker.
  std::unique_ptr<auth::ConnectAuthenticatorFactory> authenticator;
  if (!make_authenticator(options, authenticator)) {
    return 1;
  }
  config.authenticator = authenticator.get();
  // The control plane's state: revoked tokens, saved in state_dir by shard 0 through the
  // store's writer thread. A damaged file stops the start: revoked tokens must stay so.
  store::ControlFileStore control_store(options.state_dir);
  {
    std::string why;
    if (!control_store.load_revocations(config.control.revoked, why)) {
      PG_ERROR("revocations: %s (fix or remove the file; tokens it revoked would work again)",
               why.c_str());
      return 1;
    }
  }
  {
    // Virtual brokers made through the admin API: a damaged file stops the start (their
    // clients would land in the default broker). Shard 0's control plane says what the
    // directory holds, and which of them a config change left out.
    std::string why;
    std::ifstream in(control_store.tenants_path(), std::ios::binary);
    if (in) {
      std::ostringstream text;
      text << in.rdbuf();
      if (!broker::decode_tenants(text.str(), config.control.made_tenants, why)) {
        PG_ERROR("%s: %s (fix or remove the file)", control_store.tenants_path().c_str(),
                 why.c_str());
        return 1;
      }
    }
  }
  config.control.max_revocations = options.auth.max_revocations;
  config.control.store = &control_store;
  if (config.control.revoked.size() > options.auth.max_revocations) {
    PG_WARN("%zu revoked tokens, more than auth.max_revocations (%u): no more can be added",
            config.control.revoked.size(), options.auth.max_revocations);
  }
  // The broker's own signing keys (made through the admin API): a damaged or exposed
  // key file stops the start, as tokens it signed are out there.
  auth::Ed25519TokenIssuer issuer(authenticator->settings().jwt_policy);
  {
    std::string why;
    if (!auth::load_broker_key_file(control_store.broker_keys_path(),
                                    config.control.broker_keys, why)) {
      PG_ERROR("signing keys: %s", why.c_str());
      return 1;
    }
  }
  config.control.issuer = &issuer;
  config.control.configured_keys = configured_key_list(*authenticator);
  if (!config.control.broker_keys.empty()) {
    PG_INFO("auth: %zu signing key(s) of the broker's own", config.control.broker_keys.size());
  }
  // Durable state: each shard's log in state_dir/shard-N, checked here so that a shard
  // never finds out at its start that it cannot write.
  std::unique_ptr<store::ShardLogFactory> durable;
  if (options.persistence) {
    std::string why;
    if (!store::finish_interrupted_redistribution(options.state_dir, why) ||
        !move_logs_to_shard_count(options.state_dir, shards, why) ||
        !store::prepare_shard_dirs(options.state_dir, shards, why)) {
      PG_ERROR("persistence: %s", why.c_str());
      return 1;
    }
    const store::FsyncPolicy fsync = options.fsync == "always"  ? store::FsyncPolicy::kAlways
                                     : options.fsync == "never" ? store::FsyncPolicy::kNever
                                                                : store::FsyncPolicy::kInterval;
    durable = std::make_unique<store::ShardLogFactory>(
        options.state_dir, fsync, options.fsync_interval_ms, options.log_compact_bytes);
    config.durable_log = durable.get();
    PG_INFO("persistence: retained messages and sessions in %s/shard-N (fsync %s%s)",
            options.state_dir.c_str(), options.fsync.c_str(),
            options.fsync == "interval"
                ? (", every " + std::to_string(options.fsync_interval_ms) + " ms").c_str()
                : "");
  } else {
    PG_INFO("persistence: off (state is kept in memory only)");
  }
  std::vector<std::unique_ptr<broker::ShardBroker>> brokers;
  std::vector<shard::ShardService*> services;
  for (uint16_t s = 0; s < shards; ++s) {
    brokers.push_back(std::make_unique<broker::ShardBroker>(config, std::move(listeners[s])));
    services.push_back(brokers.back().get());
  }
  shard::ShardGroupOptions group_options;
  group_options.shards = shards;
  group_options.backend = backend;
  group_options.pin_threads = options.pin_shards;
  group_options.mailbox_capacity = options.limits.mailbox_capacity != 0
                                       ? options.limits.mailbox_capacity
                                       : default_mailbox_capacity(shards);
  // systemd: READY=1 once every shard listens, the watchdog fed while every shard turns.
  daemon::ServiceManager service;
  shard::ShardPulse pulse;
  if (service.check_interval_ms() != 0) {
    // A few beats per check, so one late wake-up does not starve the watchdog.
    pulse.beat_ms = static_cast<uint32_t>(
        std::clamp<uint64_t>(service.check_interval_ms() / 4, 10, 1000));
  }
  group_options.pulse = &pulse;
  shard::ShardGroup group(group_options);
  std::string why;
  if (!group.start(services, &why)) {
    PG_ERROR("cannot start shards: %s", why.c_str());
    return 1;
  }
  PG_INFO("peregrine %s running: io=%s shards=%u%s", PEREGRINE_VERSION,
          io::backend_name(backend), shards, options.pin_shards ? " pinned" : "");
  for (const std::string& url : options.listen) {
    PG_INFO("listening on %s", url.c_str());
  }
  PG_INFO("tls: %s", net::describe(net::tls_library()).c_str());

  const std::string ready_status = "ready (shards: " + std::to_string(shards) +
                                   ", listeners: " + std::to_string(options.listen.size()) +
                                   ")";
  bool ready = false;
  constexpr uint64_t kStartPollMs = 20;
  const auto tick = [&]() -> uint64_t {
    const uint64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
    if (!ready && pulse.listening.load(std::memory_order_acquire) == shards) {
      ready = true;
      PG_INFO("%s (state recovered)", ready_status.c_str());
      service.ready(ready_status);
    }
    if (service.check_interval_ms() != 0) {
      // Until ready, start-up is systemd's TimeoutStartSec's to judge: a long replay
      // holds a shard in its start, not stuck in a turn.
      if (ready) {
        service.check_and_feed(pulse, shards, now);
      } else {
        service.feed();
      }
    }
    if (!ready) {
      return kStartPollMs;
    }
    return service.check_interval_ms();  // 0: nothing more to watch
  };
  ReloadKept kept;
  for (const std::string& url : options.listen) {
    kept.listening.push_back({url, kept.next_listener++});
  }
  kept.shards = shards;
  kept.slots = &slots;
  Options running = options;
  const int sig = daemon::wait_for_shutdown_signal(
      [&] {
        service.reloading();
        const std::string failed =
            reload(argc, argv, loaded, running, config, transports, kept, group);
        const std::string status = ready ? ready_status : "starting";
        service.reloaded(failed.empty() ? status : status + "; " + failed);
      },
      tick, kStartPollMs);
  PG_INFO("%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  service.stopping("draining clients (drain_timeout_ms " +
                   std::to_string(options.drain_timeout_ms) + ")");
  group.request_stop();
  group.join();
  control_store.stop();
  broker::BrokerStats total;
  for (auto& b : brokers) {
    total.add(b->stats());
  }
  PG_INFO("counters: %s", total.format().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Send queues and input buffers grow and shrink with bursts (a retained scan's batch, a
  // slow reader's backlog): with glibc's defaults each burst past 128 KiB was a fresh
  // mmap and each quiet turn a trim, so the broker spent its time in page faults
  // (retained-storm: 8 % of samples in exc_page_fault and clear_page). Keep freed memory
  // in the arenas for reuse; what stays resident is bounded by the same limits that bound
  // the queues.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  peregrine::Options options;
  std::vector<std::string> warnings;
  if (auto exit_code = peregrine::config::load_options(argc, argv, options, &warnings)) {
    return *exit_code;
  }
  peregrine::base::set_log_level(*peregrine::base::parse_log_level(options.log_level));
  peregrine::base::set_log_format(*peregrine::base::parse_log_format(options.log_format));
  for (const std::string& warning : warnings) {
    PG_WARN("%s", warning.c_str());
  }
  return run(std::move(options), argc, argv);
}
