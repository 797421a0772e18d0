// SCRAM-SHA-256 (RFC 5802, RFC 7677) as an enhanced authentication method, on wolfCrypt.
// Credentials are kept only as salt, iteration count, StoredKey and ServerKey. No channel
// binding ("n,," or "y,," GS2 headers). An unknown user is walked through the exchange
// with a fake salt and refused at the end, so that usernames cannot be probed.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "include/peregrine/enhanced_auth.h"

namespace peregrine::auth {

struct ScramCredential {
  std::vector<uint8_t> salt;
  uint32_t iterations = 4096;
  std::array<uint8_t, 32> stored_key{};
  std::array<uint8_t, 32> server_key{};
};

class ScramSha256 final : public EnhancedAuthMethod {
 public:
  static constexpr std::string_view kName = "SCRAM-SHA-256";

  // Derives a credential from a password (PBKDF2-HMAC-SHA-256).
  static ScramCredential derive(std::string_view password, std::vector<uint8_t> salt,
                                uint32_t iterations);

  void add_user(std::string username, ScramCredential credential);
  std::string_view name() const override { return kName; }
  std::unique_ptr<AuthExchange> begin() const override;
  // For tests (RFC 7677's example): a fixed server nonce instead of a random one.
  std::unique_ptr<AuthExchange> begin_with_nonce(std::string server_nonce) const;

  const ScramCredential* find(const std::string& username) const;
  const ScramCredential& decoy() const { return _decoy; }

 private:
  std::unordered_map<std::string, ScramCredential> _users;
  ScramCredential _decoy;
};

}  // namespace peregrine::auth
