// peregrine-ctl: the operator's command line. Verbs after `wrangler pubsub broker`'s
// (issue, revoke, unrevoke, show-revocations, public-keys) and `keys` talk to a running
// broker's admin API; `passwd`
// edits a Mosquitto-format password file. Human output by default, --json for the API's
// own answer. Exit status: 0 done, 1 refused or failed, 2 bad usage.
#include <picojson.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "src/auth/key_files.h"
#include "src/auth/password_file.h"
#include "src/ctl/admin_client.h"
#include "src/store/state_writer.h"
#include "src/base/parse_json.h"

namespace {

using namespace peregrine;

constexpr const char* kUsage = R"(usage: peregrine-ctl [--url URL] [--token-file FILE] [--json] VERB [ARGS]

Talks to a running broker's admin API (an http:// or https:// listener), or edits files.

verbs
  issue [--number N] [--expiration D] [--client-id ID]... [--topic-acl FILTER]...
        [--pub FILTER]... [--sub FILTER]... [--kid KID]
                                      issue tokens signed by the broker's newest key:
                                      prints "CLIENT_ID TOKEN" lines
  keys create                         make a new Ed25519 signing key (kept in state_dir)
  keys list                           the broker's keys and the configured ones
  keys delete KID                     delete a key: tokens it signed stop working and
                                      live connections using them are closed
  public-keys                         the broker's public keys as a JWKS
  namespace create|list|describe|delete [NAME] [--description D]
                                      virtual brokers' namespaces
  broker create|update|list|describe|delete [NAME] --namespace NS [--description D]
        [--hostname H]... [--no-hostnames]
                                      virtual brokers: made, changed and deleted live on
                                      every shard, kept in state_dir (brokers.json)
  revoke --jti JTI [--jti JTI]...     revoke tokens by their jti: new CONNECTs with them are
                                      refused and live connections using them are closed
  unrevoke --jti JTI [--jti JTI]...   take revocations back
  show-revocations                    list the revoked token ids
  passwd FILE USER                    add or change USER in a Mosquitto-format password
                                      file ($7$, PBKDF2-SHA512); the password is asked for
                                      twice on a terminal, or read as one line from stdin
  passwd -D FILE USER                 remove USER
  help [VERB]                         this text, or one verb's

options
  --url URL          the admin API, http://HOST:PORT or https://HOST:PORT (default:
                     $PEREGRINE_ADMIN_URL)
  --ca-file FILE     CA certificates (PEM) an https:// broker's certificate is checked
                     against, with its name against the URL's host (default:
                     $PEREGRINE_ADMIN_CA_FILE, else /etc/ssl/certs/ca-certificates.crt)
  --token-file FILE  its bearer token (default: $PEREGRINE_ADMIN_TOKEN_FILE, else
                     $STATE_DIRECTORY/admin.token, else ./peregrine-state/admin.token)
  --json             print the API's JSON answer as it came
)";

struct VerbHelp {
  const char* verb;
  const char* text;
};
constexpr VerbHelp kVerbs[] = {
    {"issue",
     "usage: peregrine-ctl [--url URL] [--token-file FILE] [--json] issue [--number N]\n"
     "         [--expiration D] [--client-id ID]... [--topic-acl FILTER]...\n"
     "         [--pub FILTER]... [--sub FILTER]... [--kid KID]\n"
     "Issues up to 100 tokens (JWTs signed with EdDSA by the broker's newest key, or KID),\n"
     "one per --client-id given, else --number of them (default 1) for client ids the\n"
     "broker makes (23 characters of 0-9A-Z). Each token has sub (its client id), a fresh\n"
     "jti (for revoke), iat, and exp when --expiration is given: seconds, or a number with\n"
     "s, m, h, d or w (48h, 7d); without it, or with -1, the token does not expire.\n"
     "--topic-acl limits publish and subscribe to the filters given (Cloudflare's\n"
     "topicAcl); --pub and --sub limit one direction each; with none the token limits no\n"
     "topics. Prints \"CLIENT_ID TOKEN\" lines; --json prints the API's answer, a map of\n"
     "client id to token as Cloudflare's credentials call gives. A client connects with\n"
     "the client id and the token as its password (the username, if given, must be the\n"
     "client id).\n"},
    {"keys",
     "usage: peregrine-ctl [--url URL] [--token-file FILE] [--json] keys create|list|delete KID\n"
     "create: makes an Ed25519 signing key, saved in the broker's state_dir\n"
     "(signing-keys.json, mode 0600) before it is used; at most 16.\n"
     "list: the broker's keys (source broker) and the [[auth.jwt.keys]] of its config\n"
     "(source config, which only the config file changes).\n"
     "delete KID: deletes a broker key on every shard: tokens it signed are refused from\n"
     "then on, and live connections that used one are closed (v5: DISCONNECT 0x98).\n"},
    {"namespace",
     "usage: peregrine-ctl [--url URL] [--token-file FILE] [--json] namespace create NAME\n"
     "         [--description D] | namespace list | namespace describe NAME |\n"
     "         namespace delete NAME\n"
     "A namespace holds virtual brokers (wrangler pubsub's model); NAME is 1 to 63 of a-z,\n"
     "0-9 and '-'. Those of the config file ([[namespace]]) are listed with source config\n"
     "and change only there. A namespace is deleted once it has no brokers.\n"},
    {"broker",
     "usage: peregrine-ctl [--url URL] [--token-file FILE] [--json] broker create NAME\n"
     "         --namespace NS [--description D] [--hostname H]... |\n"
     "         broker update NAME --namespace NS [--description D] [--hostname H]...\n"
     "         [--no-hostnames] | broker list --namespace NS |\n"
     "         broker describe NAME --namespace NS | broker delete NAME --namespace NS\n"
     "A virtual broker NAME.NS: its own topics, retained messages, sessions and $SYS\n"
     "events. A connection is given to it by its listener (?broker=NAME.NS), the TLS SNI\n"
     "or the HTTP Host matching one of its hostnames (*.example covers subdomains).\n"
     "Applied on every shard at once and kept in the broker's state_dir. update replaces\n"
     "what it names (--hostname lists the new hostnames; --no-hostnames clears them).\n"
     "delete closes its clients (v5: DISCONNECT 0x98) and frees its sessions and retained\n"
     "messages.\n"},
    {"public-keys",
     "usage: peregrine-ctl [--url URL] [--token-file FILE] [--json] public-keys\n"
     "Prints the broker's public keys as a JWKS (RFC 7517), for anyone who verifies the\n"
     "tokens it issues.\n"},
    {"revoke",
     "usage: peregrine-ctl [--url URL] [--token-file FILE] [--json] revoke --jti JTI [--jti JTI]...\n"
     "Revokes tokens by jti on every shard of the broker, and saves the list in its\n"
     "state_dir: a CONNECT with one gets 0x86 (HTTP 401), live connections that used one\n"
     "are closed (v5: DISCONNECT 0x98). Prints the ids newly revoked.\n"},
    {"unrevoke",
     "usage: peregrine-ctl [--url URL] [--token-file FILE] [--json] unrevoke --jti JTI [--jti JTI]...\n"
     "Takes revocations back; prints the ids no longer revoked.\n"},
    {"show-revocations",
     "usage: peregrine-ctl [--url URL] [--token-file FILE] [--json] show-revocations\n"
     "Lists the revoked token ids, one a line, oldest first.\n"},
    {"passwd",
     "usage: peregrine-ctl passwd FILE USER | passwd -D FILE USER\n"
     "Adds or changes USER in FILE (made if missing, written atomically with mode 0600) with\n"
     "a $7$ PBKDF2-SHA512 hash (101 iterations, as mosquitto_passwd), which peregrine's\n"
     "auth.password_file and Mosquitto both read. The password is asked for twice on a\n"
     "terminal, or read as one line from stdin. -D removes USER.\n"},
};

[[noreturn]] void usage_exit(const std::string& why) {
  if (!why.empty()) {
    std::fprintf(stderr, "peregrine-ctl: %s\n", why.c_str());
  }
  std::fputs(kUsage, stderr);
  std::exit(2);
}

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

std::string admin_token(const std::string& token_file) {
  std::string path = token_file;
  if (path.empty()) {
    path = env("PEREGRINE_ADMIN_TOKEN_FILE");
  }
  if (path.empty()) {
    const std::string state = env("STATE_DIRECTORY");
    path = (state.empty() ? std::string("./peregrine-state") : state) + "/admin.token";
  }
  std::string text;
  std::string error;
  if (!auth::read_small_file(path, text, error)) {
    std::fprintf(stderr, "peregrine-ctl: admin token: %s (give --token-file)\n", error.c_str());
    std::exit(1);
  }
  return text.substr(0, text.find_first_of("\r\n"));
}

// The API's answer: its JSON printed with --json; otherwise `human` prints the result.
template <typename Human>
int show(const ctl::Reply& reply, bool json, Human human) {
  if (reply.status == 0) {
    std::fprintf(stderr, "peregrine-ctl: %s\n", reply.error.c_str());
    return 1;
  }
  if (json) {
    std::fputs(reply.body.c_str(), stdout);
    std::fputc('\n', stdout);
    return reply.status < 400 ? 0 : 1;
  }
  picojson::value root;
  const std::string parse_error = base::parse_json(root, reply.body);
  if (!parse_error.empty() || !root.is<picojson::object>()) {
    std::fprintf(stderr, "peregrine-ctl: HTTP %d and no JSON answer\n", reply.status);
    return 1;
  }
  const picojson::object& o = root.get<picojson::object>();
  if (reply.status >= 400) {
    std::string message = "HTTP " + std::to_string(reply.status);
    const auto errors = o.find("errors");
    if (errors != o.end() && errors->second.is<picojson::array>() &&
        !errors->second.get<picojson::array>().empty()) {
      message += ": " + errors->second.get<picojson::array>()[0].get("message").to_str();
    }
    std::fprintf(stderr, "peregrine-ctl: %s\n", message.c_str());
    return 1;
  }
  const auto result = o.find("result");
  human(result != o.end() ? result->second : picojson::value());
  return 0;
}

std::vector<std::string> strings_of(const picojson::value& result) {
  std::vector<std::string> out;
  if (result.is<picojson::array>()) {
    for (const picojson::value& v : result.get<picojson::array>()) {
      out.push_back(v.to_str());
    }
  }
  return out;
}

// What every API verb needs: the URL and the token.
// Where the admin API is and how to talk to it (the options before or after the verb).
struct Api {
  std::string url;
  std::string token_file;
  std::string ca_file;
  bool json = false;
};

std::string require_token(const Api& api) {
  if (api.url.empty()) {
    usage_exit("give --url (or set PEREGRINE_ADMIN_URL)");
  }
  return admin_token(api.token_file);
}

ctl::Reply call(const Api& api, const std::string& method, const std::string& target,
                const std::string& token) {
  return ctl::admin_request(api.url, method, target, token, api.ca_file);
}

// `--name VALUE` or `--name=VALUE` at args[i]; true with `value` (and i moved past it).
bool option(const std::vector<std::string>& args, size_t& i, const std::string& name,
            std::string& value) {
  if (args[i] == name && i + 1 < args.size()) {
    value = args[++i];
    return true;
  }
  if (args[i].starts_with(name + "=")) {
    value = args[i].substr(name.size() + 1);
    return true;
  }
  return false;
}

int issue(const std::vector<std::string>& args, const Api& api) {
  std::string query;
  auto add = [&](const char* key, const std::string& value) {
    query += query.empty() ? '?' : '&';
    query.append(key).append("=").append(ctl::query_escape(value));
  };
  // Each option and the credentials call's query parameter it becomes.
  static constexpr std::pair<const char*, const char*> kOptions[] = {
      {"--number", "number"}, {"--expiration", "expiration"}, {"--client-id", "clientid"},
      {"--topic-acl", "topicAcl"}, {"--pub", "pub"}, {"--sub", "sub"}, {"--kid", "kid"}};
  for (size_t i = 0; i < args.size(); i++) {
    std::string value;
    const auto* known = std::find_if(std::begin(kOptions), std::end(kOptions),
                                     [&](const auto& o) { return option(args, i, o.first, value); });
    if (known == std::end(kOptions)) {
      usage_exit("issue: unexpected '" + args[i] + "'");
    }
    add(known->second, value);
  }
  const std::string token = require_token(api);
  return show(call(api, "POST", "/admin/credentials" + query, token), api.json,
              [](const picojson::value& result) {
                if (!result.is<picojson::object>()) {
                  return;
                }
                for (const auto& [client_id, jwt] : result.get<picojson::object>()) {
                  std::printf("%s %s\n", client_id.c_str(), jwt.to_str().c_str());
                }
              });
}

int keys(const std::vector<std::string>& args, const Api& api) {
  const std::string what = args.empty() ? "" : args[0];
  if (what == "create" && args.size() == 1) {
    const std::string token = require_token(api);
    return show(call(api, "POST", "/admin/keys", token), api.json,
                [](const picojson::value& key) {
                  std::printf("created key %s (%s)\n", key.get("kid").to_str().c_str(),
                              key.get("alg").to_str().c_str());
                });
  }
  if (what == "list" && args.size() == 1) {
    const std::string token = require_token(api);
    return show(call(api, "GET", "/admin/keys", token), api.json,
                [](const picojson::value& result) {
                  if (!result.is<picojson::array>()) {
                    return;
                  }
                  std::printf("%-44s %-6s %-7s %s\n", "KID", "ALG", "SOURCE", "CREATED");
                  for (const picojson::value& key : result.get<picojson::array>()) {
                    const picojson::value& created = key.get("created_on");
                    std::printf("%-44s %-6s %-7s %s\n", key.get("kid").to_str().c_str(),
                                key.get("alg").to_str().c_str(),
                                key.get("source").to_str().c_str(),
                                created.is<std::string>() ? created.to_str().c_str() : "-");
                  }
                });
  }
  if (what == "delete" && args.size() == 2) {
    const std::string token = require_token(api);
    return show(
        call(api, "DELETE", "/admin/keys?kid=" + ctl::query_escape(args[1]), token),
        api.json, [](const picojson::value& key) {
          std::printf("deleted key %s: its tokens no longer work\n",
                      key.get("kid").to_str().c_str());
        });
  }
  usage_exit("keys create | keys list | keys delete KID");
}

void print_namespace(const picojson::value& ns) {
  std::printf("%-24s %-7s %8s  %s\n", ns.get("name").to_str().c_str(),
              ns.get("source").to_str().c_str(), ns.get("brokers").to_str().c_str(),
              ns.get("description").to_str().c_str());
}

void print_broker(const picojson::value& broker) {
  std::string hostnames;
  if (broker.get("hostnames").is<picojson::array>()) {
    for (const picojson::value& h : broker.get("hostnames").get<picojson::array>()) {
      if (!hostnames.empty()) {
        hostnames += ',';
      }
      hostnames += h.to_str();
    }
  }
  std::printf("%-32s %-7s %-40s %s\n", broker.get("full_name").to_str().c_str(),
              broker.get("source").to_str().c_str(), hostnames.empty() ? "-" : hostnames.c_str(),
              broker.get("description").to_str().c_str());
}

int namespaces(const std::vector<std::string>& args, const Api& api) {
  const std::string what = args.empty() ? "" : args[0];
  std::string description;
  bool described = false;
  std::vector<std::string> rest;
  for (size_t i = 1; i < args.size(); i++) {
    if (option(args, i, "--description", description)) {
      described = true;
    } else {
      rest.push_back(args[i]);
    }
  }
  const auto one_name = [&](const char* verb) {
    if (rest.size() != 1) {
      usage_exit(std::string("namespace ") + verb + " NAME");
    }
    return ctl::query_escape(rest[0]);
  };
  if (what == "list" && rest.empty() && !described) {
    const std::string token = require_token(api);
    return show(call(api, "GET", "/admin/namespaces", token), api.json,
                [](const picojson::value& list) {
                  std::printf("%-24s %-7s %8s  %s\n", "NAMESPACE", "SOURCE", "BROKERS",
                              "DESCRIPTION");
                  if (list.is<picojson::array>()) {
                    for (const picojson::value& ns : list.get<picojson::array>()) {
                      print_namespace(ns);
                    }
                  }
                });
  }
  if (what == "create") {
    std::string target = "/admin/namespaces?name=" + one_name("create");
    if (described) {
      target += "&description=" + ctl::query_escape(description);
    }
    const std::string token = require_token(api);
    return show(call(api, "POST", target, token), api.json, [](const picojson::value& ns) {
      std::printf("created namespace %s\n", ns.get("name").to_str().c_str());
    });
  }
  if ((what == "describe" || what == "delete") && !described) {
    const std::string target = "/admin/namespaces/" + one_name(what.c_str());
    const std::string token = require_token(api);
    const bool del = what == "delete";
    return show(call(api, del ? "DELETE" : "GET", target, token), api.json,
                [del](const picojson::value& ns) {
                  if (del) {
                    std::printf("deleted namespace %s\n", ns.get("name").to_str().c_str());
                  } else {
                    print_namespace(ns);
                  }
                });
  }
  usage_exit("namespace create NAME [--description D] | list | describe NAME | delete NAME");
}

int brokers(const std::vector<std::string>& args, const Api& api) {
  const std::string what = args.empty() ? "" : args[0];
  std::string ns;
  std::string description;
  bool described = false;
  bool clear_hostnames = false;
  std::vector<std::string> hostnames;
  std::vector<std::string> rest;
  for (size_t i = 1; i < args.size(); i++) {
    std::string value;
    if (option(args, i, "--namespace", value)) {
      ns = value;
    } else if (option(args, i, "--description", value)) {
      description = value;
      described = true;
    } else if (option(args, i, "--hostname", value)) {
      hostnames.push_back(value);
    } else if (args[i] == "--no-hostnames") {
      clear_hostnames = true;
    } else {
      rest.push_back(args[i]);
    }
  }
  if (ns.empty()) {
    usage_exit("broker " + what + ": give --namespace NS");
  }
  const bool writes = what == "create" || what == "update";
  if (!writes && (described || !hostnames.empty() || clear_hostnames)) {
    usage_exit("broker " + what + " takes no --description, --hostname or --no-hostnames");
  }
  if (clear_hostnames && (what != "update" || !hostnames.empty())) {
    usage_exit("--no-hostnames goes with update alone, without --hostname");
  }
  const std::string base = "/admin/namespaces/" + ctl::query_escape(ns) + "/brokers";
  std::string query;
  const auto add = [&](const char* key, const std::string& value) {
    query += query.empty() ? '?' : '&';
    query.append(key).append("=").append(ctl::query_escape(value));
  };
  if (described) {
    add("description", description);
  }
  for (const std::string& h : hostnames) {
    add("hostname", h);
  }
  if (clear_hostnames) {
    add("hostname", "");
  }
  if (what == "list" && rest.empty()) {
    const std::string token = require_token(api);
    return show(call(api, "GET", base, token), api.json, [](const picojson::value& list) {
      std::printf("%-32s %-7s %-40s %s\n", "BROKER", "SOURCE", "HOSTNAMES", "DESCRIPTION");
      if (list.is<picojson::array>()) {
        for (const picojson::value& broker : list.get<picojson::array>()) {
          print_broker(broker);
        }
      }
    });
  }
  if (rest.size() != 1 ||
      (what != "create" && what != "update" && what != "describe" && what != "delete")) {
    usage_exit("broker create|update|describe|delete NAME --namespace NS, or broker list "
               "--namespace NS");
  }
  const std::string name = ctl::query_escape(rest[0]);
  std::string method = "GET";
  std::string target = base + "/" + name + query;
  if (what == "create") {
    method = "POST";
    target = base + (query.empty() ? "?" : query + "&") + "name=" + name;
  } else if (what == "update") {
    method = "PATCH";
  } else if (what == "delete") {
    method = "DELETE";
  }
  const std::string token = require_token(api);
  return show(call(api, method, target, token), api.json, [what](const picojson::value& broker) {
    if (what == "describe") {
      print_broker(broker);
    } else {
      std::printf("%s broker %s\n",
                  what == "create" ? "created" : what == "update" ? "updated" : "deleted",
                  broker.get("full_name").to_str().c_str());
    }
  });
}

int public_keys(const std::vector<std::string>& args, const Api& api) {
  if (!args.empty()) {
    usage_exit("public-keys takes no arguments");
  }
  const std::string token = require_token(api);
  return show(call(api, "GET", "/admin/publickeys", token), api.json,
              [](const picojson::value& jwks) {
                std::printf("%s\n", jwks.serialize(true).c_str());
              });
}

int revocations(const std::string& verb, const std::vector<std::string>& args, const Api& api) {
  std::vector<std::string> ids;
  for (size_t i = 0; i < args.size(); i++) {
    if (args[i] == "--jti" && i + 1 < args.size()) {
      ids.push_back(args[++i]);
    } else if (args[i].starts_with("--jti=")) {
      ids.push_back(args[i].substr(6));
    } else {
      usage_exit(verb + ": unexpected '" + args[i] + "'");
    }
  }
  const std::string token = require_token(api);
  if (verb == "show-revocations") {
    if (!ids.empty()) {
      usage_exit("show-revocations takes no --jti");
    }
    return show(call(api, "GET", "/admin/revocations", token), api.json,
                [](const picojson::value& result) {
                  for (const std::string& id : strings_of(result)) {
                    std::printf("%s\n", id.c_str());
                  }
                });
  }
  if (ids.empty()) {
    usage_exit(verb + " needs --jti");
  }
  std::string target = "/admin/revocations";
  for (size_t i = 0; i < ids.size(); i++) {
    target += (i == 0 ? "?jti=" : "&jti=") + ctl::query_escape(ids[i]);
  }
  const bool revoke = verb == "revoke";
  return show(call(api, revoke ? "POST" : "DELETE", target, token), api.json,
              [&](const picojson::value& result) {
                const std::vector<std::string> changed = strings_of(result);
                std::printf("%s %zu token%s%s", revoke ? "revoked" : "unrevoked",
                            changed.size(), changed.size() == 1 ? "" : "s",
                            changed.empty() ? "" : ":");
                for (const std::string& id : changed) {
                  std::printf(" %s", id.c_str());
                }
                if (changed.size() < ids.size()) {
                  std::printf(" (%zu already %s)", ids.size() - changed.size(),
                              revoke ? "revoked" : "not revoked");
                }
                std::printf("\n");
              });
}

std::string read_password() {
  if (!::isatty(STDIN_FILENO)) {
    std::string line;
    std::getline(std::cin, line);
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    return line;
  }
  termios saved{};
  ::tcgetattr(STDIN_FILENO, &saved);
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  std::string first;
  std::string second;
  ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  std::fprintf(stderr, "Password: ");
  std::getline(std::cin, first);
  std::fprintf(stderr, "\nReenter password: ");
  std::getline(std::cin, second);
  std::fprintf(stderr, "\n");
  ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  if (first != second) {
    std::fprintf(stderr, "peregrine-ctl: the passwords differ\n");
    std::exit(1);
  }
  return first;
}

int passwd(std::vector<std::string> args) {
  bool remove = false;
  if (!args.empty() && args[0] == "-D") {
    remove = true;
    args.erase(args.begin());
  }
  if (args.size() != 2) {
    usage_exit("passwd FILE USER");
  }
  const std::string& path = args[0];
  const std::string& user = args[1];
  if (user.empty() || user.find_first_of(":\r\n") != std::string::npos) {
    usage_exit("a user name is not empty and holds no ':' or line break");
  }
  std::string text;
  std::string error;
  if (::access(path.c_str(), F_OK) == 0 && !auth::read_small_file(path, text, error)) {
    std::fprintf(stderr, "peregrine-ctl: %s\n", error.c_str());
    return 1;
  }
  // Every other line is kept as it was (comments too); the user's is replaced in place.
  std::string out;
  bool found = false;
  std::string line_hash;
  if (!remove) {
    const std::string password = read_password();
    if (password.empty()) {
      std::fprintf(stderr, "peregrine-ctl: an empty password\n");
      return 1;
    }
    line_hash = user + ":" + auth::PasswordFile::hash(password) + "\n";
  }
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end + 1;
    const std::string line = text.substr(start, end - start);
    if (line.starts_with(user + ":")) {
      found = true;
      out += line_hash;  // empty when removing
    } else {
      out += line;
      if (!line.ends_with('\n')) {
        out += '\n';
      }
    }
    start = end;
  }
  if (remove && !found) {
    std::fprintf(stderr, "peregrine-ctl: no user '%s' in %s\n", user.c_str(), path.c_str());
    return 1;
  }
  if (!found) {
    out += line_hash;
  }
  std::string check_error;
  if (!auth::PasswordFile::parse(out, check_error)) {
    std::fprintf(stderr, "peregrine-ctl: %s would not load (line %s); left unchanged\n",
                 path.c_str(), check_error.c_str());
    return 1;
  }
  if (!store::StateWriter::write_atomically(path, out, &error)) {
    std::fprintf(stderr, "peregrine-ctl: %s\n", error.c_str());
    return 1;
  }
  std::printf("%s %s in %s\n", remove ? "removed" : found ? "changed" : "added", user.c_str(),
              path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Api api;
  api.url = env("PEREGRINE_ADMIN_URL");
  api.ca_file = env("PEREGRINE_ADMIN_CA_FILE");
  if (api.ca_file.empty()) {
    api.ca_file = ctl::kSystemCaFile;
  }
  std::string& url = api.url;
  std::string& token_file = api.token_file;
  bool& json = api.json;
  int i = 1;
  for (; i < argc; i++) {
    const std::string arg = argv[i];
    if (arg == "--url" && i + 1 < argc) {
      url = argv[++i];
    } else if (arg == "--token-file" && i + 1 < argc) {
      token_file = argv[++i];
    } else if (arg == "--ca-file" && i + 1 < argc) {
      api.ca_file = argv[++i];
    } else if (arg == "--json") {
      json = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg.starts_with("-")) {
      usage_exit("unknown option '" + arg + "'");
    } else {
      break;
    }
  }
  if (i == argc) {
    usage_exit("");
  }
  const std::string verb = argv[i];
  // The options are taken after the verb too ("issue --json"), except by passwd, whose
  // arguments are file and user names.
  std::vector<std::string> args;
  for (int j = i + 1; j < argc; j++) {
    const std::string arg = argv[j];
    if (verb == "passwd") {
      args.push_back(arg);
    } else if (arg == "--json") {
      json = true;
    } else if ((arg == "--url" || arg == "--token-file" || arg == "--ca-file") && j + 1 < argc) {
      (arg == "--url" ? url : arg == "--token-file" ? token_file : api.ca_file) = argv[++j];
    } else {
      args.push_back(arg);
    }
  }
  const bool wants_help = !args.empty() && (args[0] == "--help" || args[0] == "-h");
  if (verb == "help" || wants_help) {
    const std::string about = verb == "help" ? (args.empty() ? "" : args[0]) : verb;
    for (const VerbHelp& v : kVerbs) {
      if (about == v.verb) {
        std::fputs(v.text, stdout);
        return 0;
      }
    }
    std::fputs(kUsage, stdout);
    return about.empty() ? 0 : 2;
  }
  if (verb == "revoke" || verb == "unrevoke" || verb == "show-revocations") {
    return revocations(verb, args, api);
  }
  if (verb == "passwd") {
    return passwd(args);
  }
  if (verb == "issue") {
    return issue(args, api);
  }
  if (verb == "keys") {
    return keys(args, api);
  }
  if (verb == "public-keys") {
    return public_keys(args, api);
  }
  if (verb == "namespace") {
    return namespaces(args, api);
  }
  if (verb == "broker") {
    return brokers(args, api);
  }
  usage_exit("unknown verb '" + verb + "'");
}
