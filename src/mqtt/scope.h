// Virtual brokers' scopes: how one process keeps many brokers' topic spaces and sessions
// apart with one routing table, one retained store and one session table.
//
// Inside the broker a key of a virtual broker other than the default one — a topic, a
// topic filter, a client id — starts with its scope: the level "$\xFF<name>" and a '/'.
// No client can write one: 0xFF is never part of well-formed UTF-8, which every topic,
// filter and client id is checked to be before it reaches the broker. The default
// broker's keys carry none, so a single-broker config is what it always was.
//
// What follows from the form, and what the rest of the broker relies on:
// - the scope is a first level that starts with '$': no filter of the default broker
//   whose first level is a wildcard reaches a scoped topic [MQTT-4.7.2-1], and no literal
//   first level can name one;
// - a scoped filter's first level is its scope, matched literally, so it reaches only its
//   own broker's topics; the `$` rule applies again at the level after the scope (a
//   virtual broker's `#` does not see its `$SYS`);
// - hashing a scoped key hashes (broker, key): home shards and topic owners spread per
//   broker with no change to how they are chosen.
// Clients never see a scope: everything that leaves (topics, assigned client ids, logs of
// a client's own names) is unscoped() first.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace peregrine::mqtt {

inline constexpr std::string_view kScopeMark = "$\xFF";

// Bytes of `key`'s scope, its '/' included; 0 for the default broker's keys.
inline size_t scope_length(std::string_view key) {
  if (key.size() < 3 || key[0] != '$' || key[1] != '\xFF') {
    return 0;
  }
  const size_t slash = key.find('/', 2);
  return slash == std::string_view::npos ? 0 : slash + 1;
}

// The scope of `key` ("" for the default broker).
inline std::string_view scope_of(std::string_view key) { return key.substr(0, scope_length(key)); }

// The name of the virtual broker `key` belongs to ("" for the default broker).
inline std::string_view scope_name(std::string_view key) {
  const size_t n = scope_length(key);
  return n == 0 ? std::string_view() : key.substr(2, n - 3);
}

// `key` as its broker's clients write it.
inline std::string_view unscoped(std::string_view key) { return key.substr(scope_length(key)); }

// The scope of the virtual broker `name` ("" for the default broker). `name` has no '/'.
inline std::string make_scope(std::string_view name) {
  if (name.empty()) {
    return {};
  }
  std::string scope;
  scope.reserve(name.size() + 3);
  scope.append(kScopeMark).append(name).push_back('/');
  return scope;
}

// `key` for a log line: a virtual broker's as "<key as written>@<broker>", the default
// broker's as it is (a scope's 0xFF byte is no text).
inline std::string printable(std::string_view key) {
  const size_t n = scope_length(key);
  std::string out(key.substr(n));
  if (n != 0) {
    out.push_back('@');
    out.append(key.substr(2, n - 3));
  }
  return out;
}

// `key` of the broker whose scope is `scope`.
inline std::string scoped(std::string_view scope, std::string_view key) {
  std::string out;
  out.reserve(scope.size() + key.size());
  out.append(scope).append(key);
  return out;
}

}  // namespace peregrine::mqtt
