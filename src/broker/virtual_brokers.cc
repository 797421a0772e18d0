#include "src/broker/virtual_brokers.h"

#include <algorithm>

#include "src/mqtt/scope.h"
#include "src/net/listener.h"

namespace peregrine::broker {

namespace {

bool label_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

// A Host header's name: without its port, and the brackets of an IPv6 literal kept.
std::string_view host_name(std::string_view host) {
  if (host.starts_with('[')) {
    const size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  const size_t colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

}  // namespace

bool VirtualBrokers::valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes || name.front() == '-' || name.back() == '-') {
    return false;
  }
  return std::all_of(name.begin(), name.end(), label_char);
}

bool VirtualBrokers::valid_hostname(std::string_view pattern) {
  if (pattern.starts_with("*.")) {
    pattern.remove_prefix(2);
  }
  if (pattern.empty() || pattern.size() > 253) {
    return false;
  }
  size_t start = 0;
  while (start <= pattern.size()) {
    const size_t dot = pattern.find('.', start);
    const std::string_view label =
        pattern.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!valid_name(label)) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
  return false;
}

bool VirtualBrokers::add_namespace(NamespaceSpec spec, std::string* why) {
  if (!valid_name(spec.name)) {
    *why = "namespace name '" + spec.name + "' is not 1 to 63 of a-z, 0-9 and '-'";
    return false;
  }
  if (std::any_of(_namespaces.begin(), _namespaces.end(),
                  [&](const NamespaceSpec& n) { return n.name == spec.name; })) {
    *why = "namespace '" + spec.name + "' is defined twice";
    return false;
  }
  if (_namespaces.size() >= kMaxNamespaces) {
    *why = "more than " + std::to_string(kMaxNamespaces) + " namespaces";
    return false;
  }
  _namespaces.push_back(std::move(spec));
  return true;
}

bool VirtualBrokers::add_broker(VirtualBrokerSpec spec, std::string* why) {
  if (!valid_name(spec.name)) {
    *why = "broker name '" + spec.name + "' is not 1 to 63 of a-z, 0-9 and '-'";
    return false;
  }
  if (std::none_of(_namespaces.begin(), _namespaces.end(),
                   [&](const NamespaceSpec& n) { return n.name == spec.ns; })) {
    *why = "broker '" + spec.name + "' names namespace '" + spec.ns + "', which is not defined";
    return false;
  }
  if (_brokers.size() >= kMaxBrokers) {
    *why = "more than " + std::to_string(kMaxBrokers) + " brokers";
    return false;
  }
  auto broker = std::make_unique<VirtualBroker>();
  broker->full_name = spec.name + "." + spec.ns;
  if (_by_name.contains(broker->full_name)) {
    *why = "broker '" + broker->full_name + "' is defined twice";
    return false;
  }
  for (std::string& hostname : spec.hostnames) {
    hostname = lowercase(hostname);
    if (!valid_hostname(hostname)) {
      *why = "broker '" + broker->full_name + "': '" + hostname + "' is not a hostname";
      return false;
    }
    const bool wild = hostname.starts_with("*.");
    auto& table = wild ? _wildcard : _exact;
    const std::string key = wild ? hostname.substr(2) : hostname;
    if (table.contains(key)) {
      *why = "hostname '" + hostname + "' belongs to two brokers";
      return false;
    }
  }
  broker->scope = mqtt::make_scope(broker->full_name);
  broker->spec = std::move(spec);
  const VirtualBroker* entry = broker.get();
  for (const std::string& hostname : entry->spec.hostnames) {
    if (hostname.starts_with("*.")) {
      _wildcard.emplace(hostname.substr(2), entry);
    } else {
      _exact.emplace(hostname, entry);
    }
  }
  _by_name.emplace(entry->full_name, entry);
  _brokers.push_back(std::move(broker));
  return true;
}

const VirtualBroker* VirtualBrokers::find(std::string_view full_name) const {
  auto it = _by_name.find(std::string(full_name));
  return it == _by_name.end() ? nullptr : it->second;
}

const VirtualBroker* VirtualBrokers::by_hostname(std::string_view host) const {
  if (host.empty() || host.size() > 253 || _brokers.empty()) {
    return nullptr;
  }
  const std::string name = lowercase(host);
  if (auto it = _exact.find(name); it != _exact.end()) {
    return it->second;
  }
  // "*.example" covers "a.example" and "a.b.example": the longest suffix first.
  for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
    if (auto it = _wildcard.find(name.substr(dot + 1)); it != _wildcard.end()) {
      return it->second;
    }
  }
  return nullptr;
}

BrokerChoice VirtualBrokers::choose(std::string_view bound, std::string_view server_name,
                                    std::string_view host) const {
  if (!bound.empty()) {
    const VirtualBroker* broker = find(bound);
    return {broker == nullptr, broker};  // a listener's broker deleted since: refused
  }
  if (const VirtualBroker* broker = by_hostname(server_name)) {
    return {false, broker};
  }
  if (const VirtualBroker* broker = by_hostname(host_name(host))) {
    return {false, broker};
  }
  return {_refuse_unmatched, nullptr};
}

std::unique_ptr<VirtualBrokers> make_virtual_brokers(const Options& options, std::string* why) {
  auto brokers = std::make_unique<VirtualBrokers>();
  for (const NamespaceOptions& ns : options.namespaces) {
    if (!brokers->add_namespace({ns.name, ns.description}, why)) {
      return nullptr;
    }
  }
  for (const BrokerOptions& broker : options.brokers) {
    if (!brokers->add_broker({broker.name, broker.ns, broker.description, broker.hostnames},
                             why)) {
      return nullptr;
    }
  }
  brokers->set_refuse_unmatched(options.unmatched_broker == "refuse");
  for (const std::string& text : options.listen) {
    std::string bad;
    const auto url = net::parse_listen_url(text, &bad);
    if (url && !url->broker.empty() && brokers->find(url->broker) == nullptr) {
      *why = "listener " + text + " names broker '" + url->broker +
             "', which no [[broker]] defines (name.namespace)";
      return nullptr;
    }
  }
  return brokers;
}

}  // namespace peregrine::broker
