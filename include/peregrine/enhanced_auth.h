// Enhanced authentication (MQTT 5 §4.12): a method named in CONNECT's Authentication
// Method runs a challenge/response exchange through AUTH packets. A method is shared,
// read-only, by all shards; begin() makes the per-connection state, which lives on the
// connection's shard.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace peregrine {

struct AuthStep {
  enum class Outcome : uint8_t {
    kContinue,  // send `data` in AUTH 0x18 and wait for the client's next AUTH
    kSuccess,   // authenticated as `username`; `data` goes in CONNACK (or AUTH 0x00)
    kFailure,   // CONNACK 0x87 (or DISCONNECT 0x87 on re-authentication)
  };
  Outcome outcome = Outcome::kFailure;
  std::vector<uint8_t> data;
  std::string username;
};

class AuthExchange {
 public:
  virtual ~AuthExchange() = default;
  // The client's Authentication Data of CONNECT (first call) or of its next AUTH.
  virtual AuthStep step(std::span<const uint8_t> client_data) = 0;
};

class EnhancedAuthMethod {
 public:
  virtual ~EnhancedAuthMethod() = default;
  virtual std::string_view name() const = 0;
  virtual std::unique_ptr<AuthExchange> begin() const = 0;
};

}  // namespace peregrine
