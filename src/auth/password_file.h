// Password files in Mosquitto's format, so operators bring their mosquitto_passwd files:
// one `username:hash` per line, where hash is
//   $7$ITERATIONS$SALT$HASH  PBKDF2-HMAC-SHA512 (mosquitto_passwd's default since 2.0)
//   $6$SALT$HASH             SHA-512 of the password then the salt (older files)
// with SALT and HASH in standard base64. Blank lines and lines starting with '#' are
// skipped. Written by `peregrine-ctl passwd` ($7$ only).
//
// Immutable once loaded and checked by every shard at once (check() keeps no state).
// A check costs one PBKDF2 (101 iterations by default: ~0.1 ms); the authenticator
// remembers successful ones, and a file whose iterations could stall a shard (over
// kMaxIterations) is refused at load.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace peregrine::auth {

class PasswordFile {
 public:
  static constexpr uint32_t kMaxIterations = 100'000;
  static constexpr uint32_t kDefaultIterations = 101;  // mosquitto_passwd's

  // Parses the file's text; nullopt with `error` ("LINE: why") on the first bad line.
  static std::optional<PasswordFile> parse(std::string_view text, std::string& error);

  bool knows(std::string_view username) const { return _users.contains(std::string(username)); }
  // Whether `password` is `username`'s (false for an unknown user).
  bool check(std::string_view username, std::string_view password) const;
  size_t size() const { return _users.size(); }

  // A $7$ line's hash part for `password`, with a fresh random salt (12 bytes).
  static std::string hash(std::string_view password, uint32_t iterations = kDefaultIterations);

 private:
  struct Entry {
    uint32_t iterations = 0;  // 0: the $6$ scheme
    std::string salt;
    std::string hash;
  };
  std::unordered_map<std::string, Entry> _users;
};

}  // namespace peregrine::auth
