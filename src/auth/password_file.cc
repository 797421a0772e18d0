#include "src/auth/password_file.h"

#include <sys/random.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/pwdbased.h>
#include <wolfssl/wolfcrypt/sha512.h>

#include <array>
#include <charconv>
#include <vector>

#include "src/base/constant_time.h"

namespace peregrine::auth {

namespace {

constexpr size_t kSaltBytes = 12;
constexpr size_t kHashBytes = WC_SHA512_DIGEST_SIZE;

const byte* bytes_of(std::string_view s) { return reinterpret_cast<const byte*>(s.data()); }

std::optional<std::string> base64_decode(std::string_view text) {
  std::string out(text.size(), '\0');
  word32 size = static_cast<word32>(out.size());
  if (text.empty() || Base64_Decode(bytes_of(text), static_cast<word32>(text.size()),
                                    reinterpret_cast<byte*>(out.data()), &size) != 0) {
    return std::nullopt;
  }
  out.resize(size);
  return out;
}

std::string base64_encode(std::string_view bytes) {
  word32 size = static_cast<word32>((bytes.size() + 2) / 3 * 4 + 1);
  std::string out(size, '\0');
  Base64_Encode_NoNl(bytes_of(bytes), static_cast<word32>(bytes.size()),
                     reinterpret_cast<byte*>(out.data()), &size);
  out.resize(size);
  return out;
}

std::array<byte, kHashBytes> digest(std::string_view password, const std::string& salt,
                                    uint32_t iterations) {
  std::array<byte, kHashBytes> out{};
  if (iterations == 0) {
    wc_Sha512 sha;
    wc_InitSha512(&sha);
    wc_Sha512Update(&sha, bytes_of(password), static_cast<word32>(password.size()));
    wc_Sha512Update(&sha, bytes_of(salt), static_cast<word32>(salt.size()));
    wc_Sha512Final(&sha, out.data());
    wc_Sha512Free(&sha);
  } else {
    wc_PBKDF2(out.data(), bytes_of(password), static_cast<int>(password.size()), bytes_of(salt),
              static_cast<int>(salt.size()), static_cast<int>(iterations), kHashBytes,
              WC_SHA512);
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) {
      return parts;
    }
    start = end + 1;
  }
}

}  // namespace

std::optional<PasswordFile> PasswordFile::parse(std::string_view text, std::string& error) {
  PasswordFile file;
  size_t line_number = 0;
  for (std::string_view line : split(text, '\n')) {
    line_number++;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty() || line.front() == '#') {
      continue;
    }
    auto fail = [&](const char* why) {
      error = std::to_string(line_number) + ": " + why;
      return std::nullopt;
    };
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return fail("not username:hash");
    }
    const std::string user(line.substr(0, colon));
    const std::vector<std::string_view> parts = split(line.substr(colon + 1), '$');
    Entry entry;
    std::optional<std::string> salt;
    std::optional<std::string> hash;
    if (parts.size() == 4 && parts[0].empty() && parts[1] == "6") {
      salt = base64_decode(parts[2]);
      hash = base64_decode(parts[3]);
    } else if (parts.size() == 5 && parts[0].empty() && parts[1] == "7") {
      const auto [end, rc] = std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(),
                                             entry.iterations);
      if (rc != std::errc() || end != parts[2].data() + parts[2].size() ||
          entry.iterations == 0) {
        return fail("bad iteration count");
      }
      if (entry.iterations > kMaxIterations) {
        return fail("more than 100000 iterations: every first login would stall a shard");
      }
      salt = base64_decode(parts[3]);
      hash = base64_decode(parts[4]);
    } else {
      return fail("not a $6$ or $7$ hash (a plain-text password? hash it with peregrine-ctl "
                  "passwd or mosquitto_passwd -U)");
    }
    if (!salt || !hash || hash->size() != kHashBytes) {
      return fail("salt or hash is not base64, or the hash is not 64 bytes");
    }
    entry.salt = std::move(*salt);
    entry.hash = std::move(*hash);
    if (!file._users.emplace(user, std::move(entry)).second) {
      return fail("the user appears twice");
    }
  }
  return file;
}

bool PasswordFile::check(std::string_view username, std::string_view password) const {
  const auto it = _users.find(std::string(username));
  if (it == _users.end()) {
    return false;
  }
  const Entry& entry = it->second;
  const std::array<byte, kHashBytes> got = digest(password, entry.salt, entry.iterations);
  return base::constant_time_equal(got.data(), entry.hash.data(), kHashBytes);
}

std::string PasswordFile::hash(std::string_view password, uint32_t iterations) {
  std::string salt(kSaltBytes, '\0');
  if (getrandom(salt.data(), salt.size(), 0) != static_cast<ssize_t>(salt.size())) {
    return {};
  }
  const std::array<byte, kHashBytes> out = digest(password, salt, iterations);
  return "$7$" + std::to_string(iterations) + "$" + base64_encode(salt) + "$" +
         base64_encode(std::string_view(reinterpret_cast<const char*>(out.data()), out.size()));
}

}  // namespace peregrine::auth
