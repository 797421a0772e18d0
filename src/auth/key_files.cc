#include "src/auth/key_files.h"

#include "src/auth/token_issuer.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace peregrine::auth {

namespace {

constexpr size_t kMaxKeyFileBytes = 1 << 20;

}  // namespace

bool read_small_file(const std::string& path, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot read";
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  out = text.str();
  if (out.size() > kMaxKeyFileBytes) {
    error = path + ": larger than 1 MiB";
    return false;
  }
  return true;
}

bool load_key_files(const JwtOptions& options, std::vector<JwsKey>& out, std::string& error) {
  std::vector<JwsKey> keys;
  for (const JwtKeyFile& entry : options.keys) {
    std::string text;
    if (!read_small_file(entry.file.empty() ? entry.secret_file : entry.file, text, error)) {
      return false;
    }
    std::string why;
    if (!entry.secret_file.empty()) {
      // One trailing newline is the editor's, not the secret's.
      if (text.ends_with("\r\n")) {
        text.resize(text.size() - 2);
      } else if (text.ends_with('\n')) {
        text.pop_back();
      }
      JwsKey key;
      if (!hmac_key(text, entry.kid, key, why)) {
        error = entry.secret_file + ": " + why;
        return false;
      }
      keys.push_back(std::move(key));
      continue;
    }
    const std::optional<JwsAlgorithm> alg =
        entry.alg.empty() ? std::nullopt : jws_algorithm(entry.alg);
    if (!load_jws_keys(text, alg, entry.kid, keys, why)) {
      error = entry.file + ": " + why;
      return false;
    }
  }
  std::set<std::string> kids;
  for (const JwsKey& key : keys) {
    if (!kids.insert(key.kid).second) {
      error = "two JWT keys have the kid '" + key.kid + "': a token could not choose";
      return false;
    }
  }
  out = std::move(keys);
  return true;
}

}  // namespace peregrine::auth

namespace peregrine::auth {

bool load_broker_key_file(const std::string& path, std::vector<BrokerKey>& out,
                          std::string& error) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      out.clear();
      return true;
    }
    error = path + ": " + std::strerror(errno);
    return false;
  }
  // Private keys: refused, as ssh refuses them, when others may read them.
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    error = path + ": private keys readable by others (mode " + mode + "): chmod 600 it";
    return false;
  }
  std::string text;
  if (!read_small_file(path, text, error)) {
    return false;
  }
  if (!decode_key_file(text, out, error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}

}  // namespace peregrine::auth
