// ControlPlane: virtual brokers through the admin API (wrangler pubsub's verbs). Reads are
// answered from this shard's replica; a change goes to the leader, which checks it
// against its own (the config's brokers and the API's, and the API's bounds), changes
// the API's set, broadcasts the whole set (every shard builds its directory again; a
// deleted broker's connections are closed and its state goes: ControlEvents::
// broker_removed) and saves brokers.json once every shard has it.
#include <picojson.h>

#include <algorithm>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/broker/control_plane.h"

namespace peregrine::broker {

namespace {

using Op = http::AdminCall::Op;

picojson::value parsed(const std::string& json) {
  picojson::value v;
  picojson::parse(v, json);
  return v;
}

std::string full_name(std::string_view broker, std::string_view ns) {
  return std::string(broker) + "." + std::string(ns);
}

}  // namespace

bool ControlPlane::rebuild_brokers() {
  std::string why;
  std::vector<std::string> skipped;
  auto next = build_virtual_brokers(_configured_tenants, _made_tenants, _refuse_unmatched, &why,
                                    &skipped);
  if (next == nullptr) {
    PG_ERROR("virtual brokers: %s; the directory stays as it was", why.c_str());
    return false;
  }
  for (const std::string& left : skipped) {
    // A reload's config took a name or hostname an API-made broker had (shard 0 says it).
    if (_self == kLeader) {
      PG_WARN("virtual brokers: one made through the admin API is left out: %s", left.c_str());
    }
  }
  _brokers = std::move(next);
  return true;
}

std::string ControlPlane::namespace_json(const NamespaceSpec& ns) const {
  picojson::object o;
  o["name"] = picojson::value(ns.name);
  o["description"] = picojson::value(ns.description);
  o["source"] = picojson::value(ns.from_config ? "config" : "api");
  double brokers = 0;
  for (const auto& broker : _brokers->brokers()) {
    brokers += broker->spec.ns == ns.name ? 1 : 0;
  }
  o["brokers"] = picojson::value(brokers);
  return picojson::value(o).serialize();
}

std::string ControlPlane::broker_json(const VirtualBrokerSpec& broker) const {
  picojson::object o;
  o["name"] = picojson::value(broker.name);
  o["namespace"] = picojson::value(broker.ns);
  o["full_name"] = picojson::value(full_name(broker.name, broker.ns));
  o["description"] = picojson::value(broker.description);
  picojson::array hostnames;
  for (const std::string& h : broker.hostnames) {
    hostnames.emplace_back(h);
  }
  o["hostnames"] = picojson::value(hostnames);
  o["source"] = picojson::value(broker.from_config ? "config" : "api");
  return picojson::value(o).serialize();
}

void ControlPlane::answer_tenant_read(uint64_t waiter, const http::AdminCall& call) {
  const VirtualBrokers& directory = *_brokers;
  const auto not_found = [&](const char* what) {
    _answers.push_back({waiter, 404, http::admin_error(10041, what)});
  };
  const auto find_namespace = [&]() -> const NamespaceSpec* {
    for (const NamespaceSpec& ns : directory.namespaces()) {
      if (ns.name == call.namespace_name) {
        return &ns;
      }
    }
    return nullptr;
  };
  switch (call.op) {
    case Op::kListNamespaces: {
      picojson::array list;
      for (const NamespaceSpec& ns : directory.namespaces()) {
        list.push_back(parsed(namespace_json(ns)));
      }
      _answers.push_back({waiter, 200, http::admin_success(picojson::value(list).serialize())});
      return;
    }
    case Op::kDescribeNamespace: {
      const NamespaceSpec* ns = find_namespace();
      if (ns == nullptr) {
        return not_found("no such namespace");
      }
      _answers.push_back({waiter, 200, http::admin_success(namespace_json(*ns))});
      return;
    }
    case Op::kListBrokers: {
      if (find_namespace() == nullptr) {
        return not_found("no such namespace");
      }
      picojson::array list;
      for (const auto& broker : directory.brokers()) {
        if (broker->spec.ns == call.namespace_name) {
          list.push_back(parsed(broker_json(broker->spec)));
        }
      }
      _answers.push_back({waiter, 200, http::admin_success(picojson::value(list).serialize())});
      return;
    }
    case Op::kDescribeBroker: {
      const VirtualBroker* broker =
          directory.find(full_name(call.broker_name, call.namespace_name));
      if (broker == nullptr) {
        return not_found("no such broker in that namespace");
      }
      _answers.push_back({waiter, 200, http::admin_success(broker_json(broker->spec))});
      return;
    }
    default:
      PG_ASSERT_MSG(false, "not a read of virtual brokers");
  }
}

void ControlPlane::lead_tenants(AdminOp* op) {
  const http::AdminCall& call = op->call;
  const auto refuse = [&](int status, int code, const std::string& why) {
    op->status = status;
    op->body = http::admin_error(code, why);
    finish(op);
  };
  const std::string& ns_name = call.namespace_name;
  const std::string name = full_name(call.broker_name, ns_name);
  const auto configured_ns = [&] {
    return std::any_of(_configured_tenants.namespaces.begin(), _configured_tenants.namespaces.end(),
                       [&](const NamespaceSpec& n) { return n.name == ns_name; });
  };
  const auto configured_broker = [&] {
    return std::any_of(_configured_tenants.brokers.begin(), _configured_tenants.brokers.end(),
                       [&](const VirtualBrokerSpec& b) {
                         return b.name == call.broker_name && b.ns == ns_name;
                       });
  };
  TenantSet next = _made_tenants;
  auto made_ns = std::find_if(next.namespaces.begin(), next.namespaces.end(),
                              [&](const NamespaceSpec& n) { return n.name == ns_name; });
  auto made_broker = std::find_if(next.brokers.begin(), next.brokers.end(),
                                  [&](const VirtualBrokerSpec& b) {
                                    return b.name == call.broker_name && b.ns == ns_name;
                                  });
  const bool ns_exists = configured_ns() || made_ns != next.namespaces.end();
  std::string removed_scope;
  switch (call.op) {
    case Op::kCreateNamespace: {
      if (!VirtualBrokers::valid_name(ns_name)) {
        return refuse(400, 10042, "a namespace's name is 1 to 63 of a-z, 0-9 and '-'");
      }
      if (ns_exists) {
        return refuse(409, 10043, "namespace '" + ns_name + "' exists");
      }
      if (_brokers->namespaces().size() >= _max_namespaces) {
        return refuse(409, 10044, "the most namespaces (" + std::to_string(_max_namespaces) +
                                      ", limits.max_namespaces) exist: delete one first");
      }
      next.namespaces.push_back({ns_name, call.description.value_or(""), false});
      op->body = http::admin_success(namespace_json(next.namespaces.back()));
      break;
    }
    case Op::kDeleteNamespace: {
      if (!ns_exists) {
        return refuse(404, 10041, "no such namespace");
      }
      if (made_ns == next.namespaces.end()) {
        return refuse(409, 10045, "a namespace from the config file: remove it there");
      }
      for (const auto& broker : _brokers->brokers()) {
        if (broker->spec.ns == ns_name) {
          return refuse(409, 10046, "namespace '" + ns_name + "' has brokers: delete them first");
        }
      }
      op->body = http::admin_success(namespace_json(*made_ns));
      next.namespaces.erase(made_ns);
      break;
    }
    case Op::kCreateBroker: {
      if (!ns_exists) {
        return refuse(404, 10041, "no such namespace");
      }
      if (!VirtualBrokers::valid_name(call.broker_name)) {
        return refuse(400, 10042, "a broker's name is 1 to 63 of a-z, 0-9 and '-'");
      }
      if (_brokers->find(name) != nullptr) {
        return refuse(409, 10043, "broker '" + name + "' exists");
      }
      size_t in_namespace = 0;
      for (const auto& broker : _brokers->brokers()) {
        in_namespace += broker->spec.ns == ns_name ? 1 : 0;
      }
      if (in_namespace >= _max_brokers_per_namespace) {
        return refuse(409, 10044,
                      "namespace '" + ns_name + "' has the most brokers (" +
                          std::to_string(_max_brokers_per_namespace) +
                          ", limits.max_brokers_per_namespace): delete one first");
      }
      next.brokers.push_back({call.broker_name, ns_name, call.description.value_or(""),
                              call.hostnames.value_or(std::vector<std::string>{}), false});
      break;
    }
    case Op::kUpdateBroker:
    case Op::kDeleteBroker: {
      if (_brokers->find(name) == nullptr) {
        return refuse(404, 10041, "no such broker in that namespace");
      }
      if (configured_broker() || made_broker == next.brokers.end()) {
        return refuse(409, 10045, "a broker from the config file: change it there");
      }
      if (call.op == Op::kDeleteBroker) {
        op->body = http::admin_success(broker_json(*made_broker));
        removed_scope = _brokers->find(name)->scope;
        next.brokers.erase(made_broker);
        break;
      }
      if (call.description) {
        made_broker->description = *call.description;
      }
      if (call.hostnames) {
        made_broker->hostnames = *call.hostnames;
      }
      break;
    }
    default:
      PG_ASSERT_MSG(false, "not a change of virtual brokers");
  }
  // Checked whole, as every shard will build it: names and hostnames free, well formed.
  std::string why;
  std::vector<std::string> skipped;
  auto trial = build_virtual_brokers(_configured_tenants, next, _refuse_unmatched, &why, &skipped);
  if (trial == nullptr || !skipped.empty()) {
    return refuse(400, 10047, trial == nullptr ? why : skipped.front());
  }
  if (call.op == Op::kCreateBroker || call.op == Op::kUpdateBroker) {
    const VirtualBroker* made = trial->find(name);
    op->body = http::admin_success(broker_json(made->spec));
  }
  _made_tenants = std::move(next);
  PG_INFO("virtual brokers: %s %s", http::admin_op_name(call.op),
          call.op == Op::kCreateNamespace || call.op == Op::kDeleteNamespace ? ns_name.c_str()
                                                                             : name.c_str());
  broadcast(op, ControlChange::Kind::kTenants, {}, std::move(removed_scope));
}

}  // namespace peregrine::broker
