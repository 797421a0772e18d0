#include "src/config/options_loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <toml++/toml.h>
#include <type_traits>
#include <variant>

#include "src/base/assert.h"
#include "src/config/config_keys.h"
#include "src/config/limits_profile.h"
#include "src/base/log.h"
#include "src/mqtt/codec.h"
#include "src/net/listener.h"
#include "src/net/tls_context.h"
#include "src/net/tls_library.h"

namespace peregrine::config {

namespace {

constexpr uint32_t kMaxShards = 64;

const char kUsage[] =
    "usage: peregrine [--config FILE] [--listen URL]... [--shards N]\n"
    "                 [--tls-cert FILE --tls-key FILE [--tls-ca FILE]]\n"
    "                 [--io auto|uring|epoll] [--log-level LEVEL] [--state-dir DIR]\n"
    "                 [--version] [--help]\n"
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
    "  --state-dir DIR    state that outlives the process (default: $STATE_DIRECTORY,\n"
    "                     else ./peregrine-state)\n"
    "  --version          print the version and exit\n"
    "  --help             print this help and exit\n";

std::string where(const std::string& path, const toml::source_region& source) {
  return path + ":" + std::to_string(source.begin.line) + ":" +
         std::to_string(source.begin.column);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string choices_text(std::span<const std::string_view> choices) {
  std::string out;
  for (size_t i = 0; i < choices.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ");
    out += choices[i];
  }
  return out;
}

// Reads `node` into the option `key` names; false and `error` ("FILE:L:C: 'key' ...").
bool read_key(const std::string& path, const ConfigKey& key, const toml::node& node,
              Options& out, Origins* origins, std::string* error) {
  const std::string at = where(path, node.source());
  const std::string name = "'" + std::string(key.name) + "'";
  switch (key.kind) {
    case KeyKind::kInteger: {
      const auto* value = node.as_integer();
      const int64_t v = value != nullptr ? value->get() : -1;
      if (value == nullptr || v < 0 || static_cast<uint64_t>(v) < key.low ||
          static_cast<uint64_t>(v) > key.high) {
        *error = at + ": " + name + " expects an integer in [" + std::to_string(key.low) +
                 ", " + std::to_string(key.high) + "]";
        return false;
      }
      if (key.check != nullptr) {
        if (const char* why = key.check(static_cast<uint64_t>(v))) {
          *error = at + ": " + name + " " + why;
          return false;
        }
      }
      std::visit(
          [&](auto* target) {
            if constexpr (std::is_integral_v<std::remove_pointer_t<decltype(target)>> &&
                          !std::is_same_v<decltype(target), bool*>) {
              *target = static_cast<std::remove_pointer_t<decltype(target)>>(v);
            } else {
              PG_ASSERT_MSG(false, "an integer key bound to a non-integer option");
            }
          },
          key.target(out));
      break;
    }
    case KeyKind::kBoolean: {
      const auto* value = node.as_boolean();
      if (value == nullptr) {
        *error = at + ": " + name + " expects true or false";
        return false;
      }
      *std::get<bool*>(key.target(out)) = value->get();
      break;
    }
    case KeyKind::kString:
    case KeyKind::kChoice: {
      const auto* value = node.as_string();
      if (value == nullptr) {
        *error = at + ": " + name + " expects a string" +
                 (key.kind == KeyKind::kChoice ? ": " + choices_text(key.choices) : "");
        return false;
      }
      std::string text = value->get();
      if (key.kind == KeyKind::kChoice) {
        text = lower(text);
        if (std::find(key.choices.begin(), key.choices.end(), text) == key.choices.end()) {
          *error = at + ": " + name + " is " + choices_text(key.choices) + ", not '" +
                   value->get() + "'";
          return false;
        }
      }
      *std::get<std::string*>(key.target(out)) = std::move(text);
      break;
    }
    case KeyKind::kCustom:
      if (!key.read(path, node, out, origins, error)) {
        if (error->find(path + ":") != 0) {
          *error = at + ": " + name + " " + *error;  // the reader's words, located here
        }
        return false;
      }
      break;
  }
  if (origins != nullptr) {
    (*origins)[std::string(key.name)] = at;
  }
  return true;
}

std::string mode_text(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// A file that cannot be read, in words ("No such file or directory").
std::optional<std::string> unreadable(const std::string& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return std::string(std::strerror(errno));
  }
  ::close(fd);
  return std::nullopt;
}

// Where the option `dotted` was set, for an error about its value: "FILE:L:C: " or
// "--flag: ", or nothing for a default.
std::string origin_of(const Origins* origins, const std::string& dotted) {
  if (origins == nullptr) {
    return "";
  }
  auto it = origins->find(dotted);
  return it == origins->end() ? "" : it->second + ": ";
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

// The keys of `table`, whose dotted names start with `prefix`: a key of the table of keys
// is read; a name that prefixes keys ([auth], [auth.jwt]) is a section, read in turn.
static bool read_table(const std::string& path, const std::string& prefix, const toml::table& table,
                Options& out, std::string* error, Origins* origins) {
  for (auto&& [key, node] : table) {
    const std::string name = prefix + std::string(key.str());
    if (const ConfigKey* entry = find_config_key(name)) {
      if (!read_key(path, *entry, node, out, origins, error)) {
        return false;
      }
      continue;
    }
    const bool section = std::any_of(config_keys().begin(), config_keys().end(),
                                     [&](const ConfigKey& k) {
                                       return k.name.starts_with(name + ".");
                                     });
    if (!section) {
      *error = where(path, key.source()) + ": unknown key '" + name + "'";
      return false;
    }
    const auto* inner = node.as_table();
    if (inner == nullptr) {
      *error = where(path, node.source()) + ": '" + name + "' expects a table";
      return false;
    }
    if (!read_table(path, name + ".", *inner, out, error, origins)) {
      return false;
    }
  }
  return true;
}

bool load_config_file(const std::string& path, Options& out, std::string* error,
                      Origins* origins) {
  if (auto why = unreadable(path)) {
    *error = path + ": cannot read the configuration file: " + *why;
    return false;
  }
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    *error = where(path, e.source()) + ": " + std::string(e.description());
    return false;
  }
  // A profile replaces the defaults first, whatever its place in the file: the file's
  // [limits] keys, read next, win over it.
  if (const toml::node* profile = root.get("limits_profile")) {
    if (const auto* name = profile->as_string();
        name != nullptr && !apply_limits_profile(name->get(), out)) {
      *error = where(path, profile->source()) + ": 'limits_profile' is default or cloudflare";
      return false;
    }
  }
  return read_table(path, "", root, out, error, origins);
}

bool validate_options(const Options& options, std::string* error, const Origins* origins,
                      std::vector<std::string>* warnings) {
  if (options.io != "auto" && options.io != "uring" && options.io != "epoll") {
    *error = origin_of(origins, "io") + "io must be auto, uring or epoll, not '" + options.io +
             "'";
    return false;
  }
  if (!base::parse_log_level(options.log_level)) {
    *error = origin_of(origins, "log_level") + "unknown log level '" + options.log_level +
             "' (trace, debug, info, warn, error or off)";
    return false;
  }
  if (options.shards > kMaxShards) {
    *error = "shards must be between 1 and 64";
    return false;
  }
  const Limits& limits = options.limits;
  if (limits.min_keep_alive != 0 && limits.max_keep_alive != 0 &&
      limits.min_keep_alive > limits.max_keep_alive) {
    *error = origin_of(origins, "limits.min_keep_alive") + "'limits.min_keep_alive' (" +
             std::to_string(limits.min_keep_alive) + ") is above 'limits.max_keep_alive' (" +
             std::to_string(limits.max_keep_alive) + ")";
    return false;
  }
  for (size_t i = 0; i < options.listen.size(); ++i) {
    const std::string& url = options.listen[i];
    const std::string at = origin_of(origins, "listen[" + std::to_string(i) + "]");
    std::string why;
    const auto parsed = net::parse_listen_url(url, &why);
    if (!parsed) {
      *error = at + "bad listener '" + url + "': " + why;
      return false;
    }
    if (parsed->tls() && (options.tls.cert_file.empty() || options.tls.key_file.empty())) {
      *error = at + "listener '" + url +
               "' needs [tls] cert_file and key_file (or --tls-cert/--tls-key)";
      return false;
    }
  }
  const TlsOptions& tls = options.tls;
  for (const auto& [dotted, file] : {std::pair<const char*, const std::string*>{
                                         "tls.cert_file", &tls.cert_file},
                                     {"tls.key_file", &tls.key_file},
                                     {"tls.ca_file", &tls.ca_file}}) {
    if (file->empty()) {
      continue;
    }
    if (auto why = unreadable(*file)) {
      *error = origin_of(origins, dotted) + "'" + dotted + "': cannot read '" + *file +
               "': " + *why;
      return false;
    }
  }
  if (!tls.cert_file.empty() || !tls.key_file.empty()) {
    // Checked whether or not a listener uses TLS now: a pair that does not match fails
    // here, not at the first reload that adds a TLS listener.
    std::string why;
    if (tls.cert_file.empty() || tls.key_file.empty()) {
      *error = origin_of(origins, tls.cert_file.empty() ? "tls.key_file" : "tls.cert_file") +
               "tls needs both cert_file and key_file";
      return false;
    }
    if (net::TlsContext::create(tls, &why) == nullptr) {
      *error = origin_of(origins, "tls.key_file") + "tls: " + why;
      return false;
    }
  }
  if (warnings != nullptr) {
    struct stat st {};
    if (!tls.key_file.empty() && ::stat(tls.key_file.c_str(), &st) == 0 &&
        (st.st_mode & 077) != 0) {
      warnings->push_back("TLS key '" + tls.key_file + "' is readable by group or others "
                          "(mode " + mode_text(st.st_mode) + "): chmod 600 it");
    }
  }
  return true;
}

std::optional<int> load_options(int argc, char** argv, Options& out,
                                std::vector<std::string>* warnings, std::string* error_out) {
  const auto report = [error_out](const std::string& error) {
    if (error_out != nullptr) {
      *error_out = error;
    } else {
      std::fprintf(stderr, "peregrine: %s\n", error.c_str());
    }
  };
  Origins origins;
  std::string config_path;
  // The config file first, so that flags override it wherever they appear.
  for (int i = 1; i < argc; ++i) {
    if (matches(argv[i], "--config")) {
      std::string path;
      if (!take_value(argc, argv, i, "--config", path)) {
        std::fprintf(stderr, "peregrine: --config needs a FILE\n%s", kUsage);
        return 2;
      }
      std::string error;
      if (!load_config_file(path, out, &error, &origins)) {
        report(error);
        return 2;
      }
      config_path = path;
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
      std::printf("peregrine %s\ntls: %s\n", PEREGRINE_VERSION,
                  net::describe(net::tls_library()).c_str());
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
      origins["listen[" + std::to_string(out.listen.size()) + "]"] = "--listen";
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
      origins["io"] = "--io";
    } else if (matches(arg, "--tls-cert")) {
      if (!need("--tls-cert")) {
        return 2;
      }
      out.tls.cert_file = value;
      origins["tls.cert_file"] = "--tls-cert";
    } else if (matches(arg, "--tls-key")) {
      if (!need("--tls-key")) {
        return 2;
      }
      out.tls.key_file = value;
      origins["tls.key_file"] = "--tls-key";
    } else if (matches(arg, "--tls-ca")) {
      if (!need("--tls-ca")) {
        return 2;
      }
      out.tls.ca_file = value;
      origins["tls.ca_file"] = "--tls-ca";
    } else if (matches(arg, "--log-level")) {
      if (!need("--log-level")) {
        return 2;
      }
      out.log_level = value;
      origins["log_level"] = "--log-level";
    } else if (matches(arg, "--state-dir")) {
      if (!need("--state-dir")) {
        return 2;
      }
      out.state_dir = value;
      origins["state_dir"] = "--state-dir";
    } else {
      std::fprintf(stderr, "peregrine: unknown argument '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  std::string error;
  if (!validate_options(out, &error, &origins, warnings)) {
    report(error);
    return 2;
  }
  struct stat st {};
  if (warnings != nullptr && !config_path.empty() && !out.auth.scram_sha256.empty() &&
      ::stat(config_path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    warnings->push_back("configuration file '" + config_path + "' holds SCRAM passwords and "
                        "is readable by group or others (mode " + mode_text(st.st_mode) +
                        "): chmod 600 it");
  }
  return std::nullopt;
}

}  // namespace peregrine::config
