// Peregrine's run-time options: what the command line and the TOML config file set.
// Plain values, filled once at startup on the main thread and read-only afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace peregrine {

struct Limits {
  // Largest packet accepted, fixed header included; larger ones are refused from the
  // fixed header alone (v5: 0x95) before any byte of the body is buffered.
  uint32_t max_packet_size = 1 << 20;
  // A socket that has not completed CONNECT by then is closed.
  uint32_t connect_timeout_ms = 10'000;
  // Bytes queued for one slow reader; QoS 0 messages beyond it are dropped and counted.
  uint64_t outbound_buffer_bytes = 4 << 20;
  // QoS 1/2 messages in flight to one client: its Receive Maximum, capped by this.
  uint32_t max_inflight = 1024;
  // Our Receive Maximum, told in CONNACK: QoS 2 messages a client may have awaiting
  // PUBREL; beyond it, DISCONNECT 0x93.
  uint32_t receive_maximum = 1024;
  // Messages waiting for one session (offline, or its window full): count and bytes
  // (topic + payload). Beyond either, new messages are dropped and counted.
  uint32_t max_queued_messages = 1000;
  uint64_t max_queued_bytes = 64 << 20;
  // QoS 1/2 bytes one session holds (topic + payload), in flight until acknowledged and
  // queued: beyond, new messages for it are dropped and counted (one message is always
  // taken by a session holding nothing). The default keeps 1,000 sessions that stopped
  // reading within 4 GiB.
  uint64_t max_session_bytes = 4 << 20;
  // All sessions' held bytes, broker-wide (each shard an equal share): at the bound,
  // sessions holding more than their fair share lose new QoS 1/2 messages (counted);
  // publishers are unaffected (src/broker/held_budget.h). 0: no budget.
  uint64_t held_bytes_budget = uint64_t{1} << 30;
  // Longest session expiry granted (seconds); longer requests are clamped and told in
  // CONNACK. 3.1.1 persistent sessions get this.
  uint32_t max_session_expiry = 7 * 24 * 3600;
  // Retained messages across the broker (each shard holds its share of topics): count
  // and bytes (topic + payload). Beyond, a new retained topic is refused and counted.
  uint32_t max_retained_messages = 1'000'000;
  uint64_t max_retained_bytes = uint64_t{1} << 30;
  // Topic aliases a v5 client may set (our Topic Alias Maximum; 0: none), and how many
  // this broker assigns towards a client at most (also bounded by the client's maximum).
  uint16_t topic_alias_maximum = 64;
  uint16_t outbound_topic_aliases = 64;
  // Keep alive: longer (or zero) requests of v5 clients are lowered to this and told in
  // CONNACK as Server Keep Alive; 0 means no maximum.
  uint16_t max_keep_alive = 60;
  // Envelopes per mailbox (one per ordered pair of shards; a power of two), and how many
  // QoS 1/2 messages and control envelopes may wait beyond full mailboxes on one shard
  // before it stops reading PUBLISH packets (back-pressure; resumes once below).
  // 0: by shard count, 65,536 for two shards down to 4,096 from 32 shards (a loop turn
  // can read thousands of messages for one shard; QoS 0 beyond a full mailbox is dropped).
  uint32_t mailbox_capacity = 0;
  // Connections that may linger after their goodbye on one shard (net::Connection::
  // close_after_flush: reading and discarding what the peer still sends for up to 2 s, so
  // that it reads our last packet); past it a connection closes as soon as it is written.
  uint32_t max_lingering = 1024;
  uint32_t mailbox_overflow_limit = 8192;
  // MQTT clients connected at once over all listeners (a listener's own bound is its
  // URL's ?max_connections=N); past it a CONNECT is refused: v5 0x97, 3.1.1 3. 0: none.
  uint32_t max_connections = 0;
  // What one client may say in CONNECT (bytes): a longer client id is refused with
  // CONNACK 0x85 (3.1.1: 2), a longer username or password with 0x86 (3.1.1: 4). An empty
  // client id is not "given": it is assigned (or refused as MQTT has it).
  uint32_t max_client_id_length = 65535;
  uint32_t max_username_length = 65535;
  uint32_t max_password_length = 65535;
  // Topic names and filters: bytes, and depth as the count of '/' in it (Cloudflare's
  // measure: depth 8 allows nine levels; a shared filter's $share/<group>/ not counted).
  // A PUBLISH (or will) past either: DISCONNECT 0x90 Topic Name invalid (will: CONNACK
  // 0x90; 3.1.1 closes); a SUBSCRIBE filter: SUBACK 0x8F (3.1.1: 0x80). Depth 0: none.
  uint32_t max_topic_length = 65535;
  uint32_t max_topic_depth = 0;
  // Packets a client may send per second once connected (a token bucket of
  // packet_burst, refilled at this rate; burst 0: one second's worth). Past it: v5
  // DISCONNECT 0x96 Message rate too high; 3.1.1: the connection closes. 0: no limit.
  uint32_t max_packets_per_second = 0;
  uint32_t packet_burst = 0;
  // Keep alive below this (and not 0) is raised to it, told in CONNACK as Server Keep
  // Alive (v5; a 3.1.1 client is timed on the larger of the two). 0: no minimum.
  uint16_t min_keep_alive = 0;
  // Per source address (IPv4 address, or IPv6 /64): MQTT clients connected at once
  // (past it CONNACK 0x97, 3.1.1: 3), and new connections per second (past it the socket
  // closes before any CONNACK). 0: no limit. src/broker/address_counts.h says how
  // they are counted across shards.
  uint32_t max_connections_per_address = 0;
  uint32_t max_new_connections_per_address = 0;
  // Sessions subscribed to one topic filter across the broker (a shared group's members
  // count towards its $share/<group>/<filter>); a SUBSCRIBE past it gets SUBACK 0x97
  // Quota exceeded (3.1.1: 0x80) for that filter. Counted on the filter's owner shard,
  // asked by mail (src/broker/filter_counts.h). 0: no limit. Set at start only: the
  // counting runs from the start or not at all.
  uint32_t max_subscribers_per_filter = 0;
  // Virtual brokers the admin API may make: namespaces, and brokers in one namespace
  // (those of the config file count too); beyond, the API answers 409.
  uint32_t max_namespaces = 1000;
  uint32_t max_brokers_per_namespace = 1000;
};

// $SYS topics: Aedes' event topics under $SYS/<broker_id>/ and Mosquitto-style
// $SYS/broker/... statistics (retained).
struct SysTopics {
  std::string broker_id;              // empty → the host name
  uint32_t interval_ms = 10'000;      // $SYS/broker/... statistics; 0: off
  uint32_t heartbeat_ms = 60'000;     // $SYS/<broker_id>/heartbeat; 0: off
  bool events = true;                 // new/clients, disconnect/clients, new/(un)subscribes
};

// The config file's access rules (the built-in Authorizer): deny rules, first match wins.
// [[namespace]] and [[broker]]: the virtual brokers one process serves
// (src/broker/virtual_brokers.h).
struct NamespaceOptions {
  std::string name;
  std::string description;
};
struct BrokerOptions {
  std::string name;        // unique within its namespace
  std::string ns;          // `namespace = "..."`
  std::string description;
  std::vector<std::string> hostnames;  // chosen by TLS SNI or HTTP Host; "*.x" covers x's subdomains
};

struct AclRule {
  std::string topic;  // a topic filter
  bool read = false;  // denies subscribing to what it covers, and receiving it
  bool write = false;  // denies publishing to what it covers
  std::string client_id;  // empty: any
  std::string username;   // empty: any
};

struct Acl {
  std::vector<AclRule> deny;
  // v5 SUBACK code for a denied filter: 0x87 Not authorized, or 0x80 (v3 always 0x80).
  uint8_t subscribe_denied_code = 0x87;
  // A denied PUBLISH: false → acknowledged with 0x87 (v5; v3 PUBACK) and dropped;
  // true → the client is disconnected (v5 DISCONNECT 0x87).
  bool disconnect_on_denied_publish = false;
};

// Enhanced authentication: SCRAM-SHA-256 users (the password is turned into salted keys at
// start-up and not kept).
struct ScramUser {
  std::string username;
  std::string password;
  uint32_t iterations = 4096;
};

// A JWT verification key: a PEM public key, JWK or JWKS file, or an HS256 secret file.
struct JwtKeyFile {
  std::string kid;          // empty: the JWK's own, else the key's RFC 7638 thumbprint
  std::string alg;          // EdDSA | ES256 | RS256 | PS256 | HS256; pins the key
  std::string file;         // PEM, JWK or JWKS
  std::string secret_file;  // HS256: the secret's bytes (one trailing newline dropped)
};

// Tokens in the CONNECT password and the HTTP bearer (src/auth/jwt.h).
struct JwtOptions {
  std::vector<JwtKeyFile> keys;  // none: tokens are not verified (nor accepted)
  uint32_t leeway_s = 0;         // clock skew allowed on exp and nbf
  std::string issuer;            // non-empty: iss must be it
  std::string audience;          // non-empty: aud must name it
  uint32_t cache_entries = 4096;  // verified tokens remembered per shard
};

// Anonymous access: a client that proves nothing (no token, certificate or SCRAM).
enum class AnonymousAccess : uint8_t {
  kLoopbackListeners,  // the default: allowed only if every listener is on loopback
  kAllowed,
  kRefused,
};

struct Authentication {
  std::vector<ScramUser> scram_sha256;
  AnonymousAccess allow_anonymous = AnonymousAccess::kLoopbackListeners;
  std::string password_file;  // Mosquitto's format ($7$, $6$); empty: none
  // Revoked tokens kept (by jti); beyond, a revocation is refused until some are removed.
  uint32_t max_revocations = 10'000;
  JwtOptions jwt;
};

// TLS for mqtts://, wss:// and https:// listeners (one configuration shared by all of
// them; SIGHUP reloads the files for new connections).
struct TlsOptions {
  std::string cert_file;  // PEM: the server certificate, then its chain
  std::string key_file;   // PEM private key
  std::string ca_file;    // PEM CAs that client certificates must chain to
  std::string client_auth = "off";  // off | optional | required (mutual TLS)
  // What a verified client certificate stands for: nothing, the MQTT username (like
  // Mosquitto's use_identity_as_username), or the client identifier.
  std::string identity = "none";     // none | username | client_id
  std::string identity_field = "cn";  // cn (subject common name) | san (first DNS name)
  std::string min_version = "1.2";   // 1.2 | 1.3
  std::string ciphers;               // wolfSSL cipher list; empty → ChaCha20 first
  bool session_tickets = true;
  uint32_t handshake_timeout_ms = 10'000;
};

// WebSocket (ws://, wss://, and the upgrade on http(s):// listeners).
struct WebSocketOptions {
  // A frame's and a message's payload; 0 → the maximum packet size plus 64 KiB.
  uint64_t max_frame_bytes = 0;
  uint64_t max_message_bytes = 0;
};

// HTTP/1.1 on ws(s):// and http(s):// listeners (the upgrade request, SSE, POST).
struct HttpOptions {
  uint32_t max_head_bytes = 8192;       // request line + headers; beyond → 431
  uint64_t max_body_bytes = 1 << 20;    // POST bodies; beyond → 413
  uint32_t request_timeout_ms = 10'000;  // a request must arrive whole within (slowloris)
  uint32_t idle_timeout_ms = 60'000;     // a kept-alive connection with no request
  uint32_t sse_keepalive_ms = 15'000;    // SSE comment lines while no event flows
  // Browser origins ("https://app.example", or "*") whose pages may use /events across
  // origins (CORS); none by default: a page of another origin is refused (403).
  std::vector<std::string> allowed_origins;
};

// The admin API under /admin/ on http(s):// listeners (revocations today).
struct AdminOptions {
  // The bearer token it requires: this file's first line; empty: state_dir/admin.token,
  // made (random, mode 0600) on first start.
  std::string token_file;
  // Served on every HTTP listener; false: only on those bound to loopback.
  bool allow_remote = false;
};

struct Options {
  std::vector<std::string> listen;  // listener URLs; empty → mqtt://127.0.0.1:1883
  uint16_t shards = 0;              // 0 → one per CPU available to the process
  std::string io = "auto";          // auto | uring | epoll
  std::string log_level = "info";   // trace | debug | info | warn | error | off
  std::string log_format = "text";  // text | json (one object per line, for journald/Loki)
  // "default", or "cloudflare": Cloudflare Pub/Sub's limits (config/limits_profile.h) in
  // place of the defaults; [limits] keys the file sets still win.
  std::string limits_profile = "default";
  // Where state that outlives the process lives (revocations, the admin token); empty:
  // $STATE_DIRECTORY (systemd's StateDirectory=), else ./peregrine-state. Made 0700.
  std::string state_dir;
  // Durable state (state_dir/shard-N/): retained messages survive a restart and kill -9.
  // false: a pure in-memory broker.
  bool persistence = true;
  // When a log write counts as done: "always" after fdatasync (nothing acknowledged is
  // lost on power failure), "interval" once the kernel has it (nothing lost on kill -9;
  // synced every fsync_interval_ms), "never" (the kernel syncs when it will).
  std::string fsync = "interval";
  uint32_t fsync_interval_ms = 1000;
  // A shard's log is compacted (a snapshot of its live state replaces what came before)
  // once what it wrote since the last snapshot passes this and twice that snapshot.
  uint64_t log_compact_bytes = uint64_t{256} << 20;
  // Move a connected publisher (no subscriptions, nothing in flight) with its session to
  // the one shard all its recent messages went to, so they stop crossing shards.
  bool rehome_publishers = true;
  // SIGTERM: how long connections may take to read their DISCONNECT and go (the peers'
  // input is discarded meanwhile, however much) before the broker exits regardless.
  uint32_t drain_timeout_ms = 5000;
  // Pin shard i to the i-th CPU the process may run on (mod their count). Off by default:
  // when clients or other services share the CPUs, a pinned shard that is woken waits
  // behind whatever runs on its CPU while another idles (bench/RESULTS.md, latency p99
  // 1.8-2.1x Mosquitto's pinned against ~1.0x free); throughput was the same either way.
  // Worth it on CPUs reserved for the broker (isolcpus, systemd CPUAffinity=).
  bool pin_shards = false;
  Limits limits;
  SysTopics sys;
  Acl acl;
  std::vector<NamespaceOptions> namespaces;
  std::vector<BrokerOptions> brokers;
  // A connection that names no virtual broker (by listener, SNI or Host): "default" puts
  // it in the default broker, "refuse" refuses it (CONNACK 0x88; 3.1.1: 3).
  std::string unmatched_broker = "default";
  Authentication auth;
  TlsOptions tls;
  WebSocketOptions websocket;
  HttpOptions http;
  AdminOptions admin;
};

}  // namespace peregrine
