#include "src/broker/virtual_brokers.h"

#include <picojson.h>

#include <algorithm>

#include "src/mqtt/scope.h"
#include "src/net/listener.h"
#include "src/base/parse_json.h"

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

}  // namespace

std::string_view VirtualBrokers::host_name(std::string_view host) {
  if (host.starts_with('[')) {
    const size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  const size_t colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

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

TenantSet configured_tenants(const Options& options) {
  TenantSet set;
  for (const NamespaceOptions& ns : options.namespaces) {
    set.namespaces.push_back({ns.name, ns.description, true});
  }
  for (const BrokerOptions& broker : options.brokers) {
    set.brokers.push_back({broker.name, broker.ns, broker.description, broker.hostnames, true});
  }
  return set;
}

std::unique_ptr<VirtualBrokers> build_virtual_brokers(const TenantSet& configured,
                                                      const TenantSet& made, bool refuse_unmatched,
                                                      std::string* why,
                                                      std::vector<std::string>* skipped) {
  auto brokers = std::make_unique<VirtualBrokers>();
  for (const NamespaceSpec& ns : configured.namespaces) {
    if (!brokers->add_namespace(ns, why)) {
      return nullptr;
    }
  }
  for (const VirtualBrokerSpec& broker : configured.brokers) {
    if (!brokers->add_broker(broker, why)) {
      return nullptr;
    }
  }
  std::string left_out;
  for (const NamespaceSpec& ns : made.namespaces) {
    if (!brokers->add_namespace(ns, &left_out) && skipped != nullptr) {
      skipped->push_back(left_out);
    }
  }
  for (const VirtualBrokerSpec& broker : made.brokers) {
    if (!brokers->add_broker(broker, &left_out) && skipped != nullptr) {
      skipped->push_back(left_out);
    }
  }
  brokers->set_refuse_unmatched(refuse_unmatched);
  return brokers;
}

std::unique_ptr<VirtualBrokers> make_virtual_brokers(const Options& options, std::string* why) {
  auto brokers = build_virtual_brokers(configured_tenants(options), {},
                                       options.unmatched_broker == "refuse", why, nullptr);
  if (brokers == nullptr) {
    return nullptr;
  }
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

std::string encode_tenants(const TenantSet& set) {
  picojson::array namespaces;
  for (const NamespaceSpec& ns : set.namespaces) {
    picojson::object o;
    o["name"] = picojson::value(ns.name);
    o["description"] = picojson::value(ns.description);
    namespaces.emplace_back(o);
  }
  picojson::array brokers;
  for (const VirtualBrokerSpec& broker : set.brokers) {
    picojson::object o;
    o["name"] = picojson::value(broker.name);
    o["namespace"] = picojson::value(broker.ns);
    o["description"] = picojson::value(broker.description);
    picojson::array hostnames;
    for (const std::string& h : broker.hostnames) {
      hostnames.emplace_back(h);
    }
    o["hostnames"] = picojson::value(hostnames);
    brokers.emplace_back(o);
  }
  picojson::object root;
  root["version"] = picojson::value(1.0);
  root["namespaces"] = picojson::value(namespaces);
  root["brokers"] = picojson::value(brokers);
  return picojson::value(root).serialize() + "\n";
}

namespace {

bool string_field(const picojson::object& o, const char* name, std::string& out) {
  const auto it = o.find(name);
  if (it == o.end() || !it->second.is<std::string>()) {
    return false;
  }
  out = it->second.get<std::string>();
  return true;
}

}  // namespace

bool decode_tenants(const std::string& text, TenantSet& out, std::string& why) {
  picojson::value root;
  if (!base::parse_json(root, text).empty() || !root.is<picojson::object>()) {
    why = "not a JSON object";
    return false;
  }
  const picojson::object& o = root.get<picojson::object>();
  const auto version = o.find("version");
  const auto namespaces = o.find("namespaces");
  const auto brokers = o.find("brokers");
  if (version == o.end() || !version->second.is<double>() || version->second.get<double>() != 1 ||
      namespaces == o.end() || !namespaces->second.is<picojson::array>() ||
      brokers == o.end() || !brokers->second.is<picojson::array>()) {
    why = "not version 1 with \"namespaces\" and \"brokers\" lists";
    return false;
  }
  TenantSet set;
  for (const picojson::value& item : namespaces->second.get<picojson::array>()) {
    NamespaceSpec ns;
    if (!item.is<picojson::object>() || !string_field(item.get<picojson::object>(), "name", ns.name) ||
        !string_field(item.get<picojson::object>(), "description", ns.description)) {
      why = "a namespace without a name and a description";
      return false;
    }
    set.namespaces.push_back(std::move(ns));
  }
  for (const picojson::value& item : brokers->second.get<picojson::array>()) {
    VirtualBrokerSpec broker;
    if (!item.is<picojson::object>()) {
      why = "a broker that is not an object";
      return false;
    }
    const picojson::object& b = item.get<picojson::object>();
    const auto hostnames = b.find("hostnames");
    if (!string_field(b, "name", broker.name) || !string_field(b, "namespace", broker.ns) ||
        !string_field(b, "description", broker.description) || hostnames == b.end() ||
        !hostnames->second.is<picojson::array>()) {
      why = "a broker without name, namespace, description and hostnames";
      return false;
    }
    for (const picojson::value& h : hostnames->second.get<picojson::array>()) {
      if (!h.is<std::string>()) {
        why = "a hostname that is not a string";
        return false;
      }
      broker.hostnames.push_back(h.get<std::string>());
    }
    set.brokers.push_back(std::move(broker));
  }
  out = std::move(set);
  return true;
}

}  // namespace peregrine::broker
