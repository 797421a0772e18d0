// The virtual brokers one process serves (Cloudflare Pub/Sub's model: an account has
// namespaces, a namespace has brokers, a broker is reached at its own hostnames) and how
// a connection is given to one. Built once from the config on the main thread, then
// read-only and shared by every shard (like the Authorizer); a reload makes a new one.
//
// A broker is named "<broker>.<namespace>" — the order of its hostname
// `<broker>.<namespace>.<domain>` — and is isolated from every other by the scope its
// keys carry inside the broker floor (src/mqtt/scope.h). The default broker, which has
// no name and no scope, takes the connections that name no broker, unless the config
// says to refuse them.
//
// Choosing, before CONNECT is processed, and fixed for the connection's life: the
// listener's own broker (`?broker=` on its URL) wins; else the broker whose hostnames
// hold the TLS SNI; else the one holding the HTTP Host (WebSocket, SSE, POST); else the
// default — or a refusal. Hostnames are matched without case, exactly or by a `*.`
// wildcard covering one or more labels (the longest suffix wins).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "include/peregrine/options.h"

namespace peregrine::broker {

struct NamespaceSpec {
  std::string name;
  std::string description;
  bool from_config = false;  // [[namespace]]; else made through the admin API
};

struct VirtualBrokerSpec {
  std::string name;        // the broker's own name, unique within its namespace
  std::string ns;          // its namespace's name
  std::string description;
  std::vector<std::string> hostnames;  // "host.example", "*.example"
  bool from_config = false;  // [[broker]]; else made through the admin API
};

// A set of namespaces and brokers: the config file's, or the admin API's (kept in
// state_dir/brokers.json and replicated to every shard by the control plane).
struct TenantSet {
  std::vector<NamespaceSpec> namespaces;
  std::vector<VirtualBrokerSpec> brokers;
};
// brokers.json: {"version":1,"namespaces":[{"name","description"}],"brokers":[{"name",
// "namespace","description","hostnames":[...]}]}, and back (false with `why`).
std::string encode_tenants(const TenantSet& set);
bool decode_tenants(const std::string& text, TenantSet& out, std::string& why);

struct VirtualBroker {
  std::string full_name;  // "<broker>.<namespace>"
  std::string scope;      // mqtt::make_scope(full_name)
  VirtualBrokerSpec spec;
};

struct BrokerChoice {
  bool refused = false;
  const VirtualBroker* broker = nullptr;  // nullptr (not refused): the default broker
};

class VirtualBrokers {
 public:
  // Most of each, so that a config cannot make the directory unbounded.
  static constexpr size_t kMaxNamespaces = 10'000;
  static constexpr size_t kMaxBrokers = 100'000;
  static constexpr size_t kMaxNameBytes = 63;  // one DNS label

  // A name a namespace or broker may have: 1 to 63 of [a-z0-9-], not starting or
  // ending with '-'.
  static bool valid_name(std::string_view name);
  // A hostname pattern: a DNS name of [a-z0-9-.] labels, optionally "*." first.
  static bool valid_hostname(std::string_view pattern);

  // False with `why` when the name is bad or taken.
  bool add_namespace(NamespaceSpec spec, std::string* why);
  // False with `why` when a name is bad, its namespace unknown, the name or a hostname
  // already taken.
  bool add_broker(VirtualBrokerSpec spec, std::string* why);
  // Connections that name no broker are refused (true) or go to the default broker.
  void set_refuse_unmatched(bool refuse) { _refuse_unmatched = refuse; }
  bool refuse_unmatched() const { return _refuse_unmatched; }

  // The broker for a connection: `bound`, the listener's broker ("": none); the TLS SNI
  // ("": none); the HTTP Host ("": none; a port after it is ignored).
  BrokerChoice choose(std::string_view bound, std::string_view server_name,
                      std::string_view host) const;
  // A Host header's name: without its port (an IPv6 literal keeps its brackets).
  static std::string_view host_name(std::string_view host);
  // Whether a connection that gives `name` (an SNI, or a Host with its port) is taken:
  // it names a broker, or unmatched connections go to the default broker.
  bool serves(std::string_view name) const {
    return !_refuse_unmatched || by_hostname(host_name(name)) != nullptr;
  }
  // The broker `host` (an SNI or Host) names, if any.
  const VirtualBroker* by_hostname(std::string_view host) const;
  const VirtualBroker* find(std::string_view full_name) const;

  bool empty() const { return _brokers.empty(); }
  size_t size() const { return _brokers.size(); }
  const std::vector<NamespaceSpec>& namespaces() const { return _namespaces; }
  // In the order they were added (pointers stay valid: the directory is not changed
  // once the shards run).
  const std::vector<std::unique_ptr<VirtualBroker>>& brokers() const { return _brokers; }

 private:
  std::vector<NamespaceSpec> _namespaces;
  std::vector<std::unique_ptr<VirtualBroker>> _brokers;
  absl::flat_hash_map<std::string, const VirtualBroker*> _by_name;
  absl::flat_hash_map<std::string, const VirtualBroker*> _exact;     // lowercase hostnames
  absl::flat_hash_map<std::string, const VirtualBroker*> _wildcard;  // "*.x" as "x"
  bool _refuse_unmatched = false;
};

// The config file's set ([[namespace]], [[broker]]).
TenantSet configured_tenants(const Options& options);
// The directory `options` describes ([[namespace]], [[broker]], unmatched_broker), with
// every listener's `?broker=` checked against it; nullptr and `why` when it does not hold.
std::unique_ptr<VirtualBrokers> make_virtual_brokers(const Options& options, std::string* why);
// The directory of `configured` and then `made` (the admin API's); an entry of `made` that
// no longer fits (a reloaded config took its name or hostname) is left out, said in
// `skipped`. nullptr and `why` when `configured` itself does not hold.
std::unique_ptr<VirtualBrokers> build_virtual_brokers(const TenantSet& configured,
                                                      const TenantSet& made, bool refuse_unmatched,
                                                      std::string* why,
                                                      std::vector<std::string>* skipped);

}  // namespace peregrine::broker
