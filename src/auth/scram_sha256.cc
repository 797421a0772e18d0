#include "src/auth/scram_sha256.h"

#include <sys/random.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/pwdbased.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <string_view>

#include "src/base/constant_time.h"

namespace peregrine::auth {

namespace {

using Digest = std::array<uint8_t, 32>;

Digest hmac(std::span<const uint8_t> key, std::string_view message) {
  Digest out{};
  Hmac h;
  wc_HmacInit(&h, nullptr, INVALID_DEVID);
  wc_HmacSetKey(&h, WC_SHA256, key.data(), static_cast<word32>(key.size()));
  wc_HmacUpdate(&h, reinterpret_cast<const byte*>(message.data()),
                static_cast<word32>(message.size()));
  wc_HmacFinal(&h, out.data());
  wc_HmacFree(&h);
  return out;
}

Digest sha256(std::span<const uint8_t> data) {
  Digest out{};
  wc_Sha256Hash(data.data(), static_cast<word32>(data.size()), out.data());
  return out;
}

std::string base64(std::span<const uint8_t> data) {
  word32 size = static_cast<word32>((data.size() + 2) / 3 * 4 + 1);
  std::string out(size, '\0');
  if (Base64_Encode_NoNl(data.data(), static_cast<word32>(data.size()),
                         reinterpret_cast<byte*>(out.data()), &size) != 0) {
    return {};
  }
  out.resize(size);
  return out;
}

bool unbase64(std::string_view text, std::vector<uint8_t>& out) {
  word32 size = static_cast<word32>(text.size());
  out.resize(size);
  if (Base64_Decode(reinterpret_cast<const byte*>(text.data()), static_cast<word32>(text.size()),
                    out.data(), &size) != 0) {
    return false;
  }
  out.resize(size);
  return true;
}

// "k=value" attribute at the start of `part`.
bool attribute(std::string_view part, char key, std::string_view& value) {
  if (part.size() < 2 || part[0] != key || part[1] != '=') {
    return false;
  }
  value = part.substr(2);
  return true;
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    parts.push_back(s.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) {
      return parts;
    }
    start = comma + 1;
  }
}

// saslname decoding: "=2C" → ',', "=3D" → '='; any other '=' is malformed.
bool decode_name(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '=') {
      out += in[i];
    } else if (in.substr(i, 3) == "=2C") {
      out += ',';
      i += 2;
    } else if (in.substr(i, 3) == "=3D") {
      out += '=';
      i += 2;
    } else {
      return false;
    }
  }
  return !out.empty();
}

bool equal_constant_time(const Digest& a, const Digest& b) {
  return base::constant_time_equal(a.data(), b.data(), a.size());
}

std::vector<uint8_t> as_vector(std::string_view s) { return {s.begin(), s.end()}; }

std::string random_nonce() {
  uint8_t bytes[18];
  if (getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    return {};
  }
  return base64(bytes);
}

class ScramExchange final : public AuthExchange {
 public:
  ScramExchange(const ScramSha256& method, std::string server_nonce)
      : _method(method), _server_nonce(std::move(server_nonce)) {}

  AuthStep step(std::span<const uint8_t> client_data) override {
    const std::string_view text(reinterpret_cast<const char*>(client_data.data()),
                                client_data.size());
    AuthStep result;
    if (_state == State::kFirst) {
      result = client_first(text);
    } else if (_state == State::kFinal) {
      result = client_final(text);
    }
    if (result.outcome == AuthStep::Outcome::kFailure) {
      _state = State::kDone;
    }
    return result;
  }

 private:
  enum class State : uint8_t { kFirst, kFinal, kDone };

  AuthStep client_first(std::string_view text) {
    // gs2-header: "n,," or "y,," (no channel binding, no authzid).
    if (!(text.starts_with("n,,") || text.starts_with("y,,")) || _server_nonce.empty()) {
      return {};
    }
    _gs2_header = std::string(text.substr(0, 3));
    _client_first_bare = std::string(text.substr(3));
    const auto parts = split(_client_first_bare);
    std::string_view name;
    std::string_view nonce;
    if (parts.size() < 2 || !attribute(parts[0], 'n', name) || !attribute(parts[1], 'r', nonce) ||
        nonce.empty() || !decode_name(name, _username)) {
      return {};
    }
    _credential = _method.find(_username);
    const ScramCredential& shown = _credential != nullptr ? *_credential : _method.decoy();
    _nonce = std::string(nonce) + _server_nonce;
    _server_first = "r=" + _nonce + ",s=" + base64(shown.salt) +
                    ",i=" + std::to_string(shown.iterations);
    _state = State::kFinal;
    return {AuthStep::Outcome::kContinue, as_vector(_server_first), {}};
  }

  AuthStep client_final(std::string_view text) {
    _state = State::kDone;
    const size_t proof_at = text.rfind(",p=");
    if (proof_at == std::string_view::npos) {
      return {};
    }
    const std::string_view without_proof = text.substr(0, proof_at);
    const auto parts = split(without_proof);
    std::string_view binding;
    std::string_view nonce;
    if (parts.size() < 2 || !attribute(parts[0], 'c', binding) ||
        !attribute(parts[1], 'r', nonce) || nonce != _nonce ||
        binding != base64(as_vector(_gs2_header))) {
      return {};
    }
    std::vector<uint8_t> proof;
    if (!unbase64(text.substr(proof_at + 3), proof) || proof.size() != 32 ||
        _credential == nullptr) {
      return {};
    }
    const std::string auth_message =
        _client_first_bare + "," + _server_first + "," + std::string(without_proof);
    const Digest client_signature = hmac(_credential->stored_key, auth_message);
    Digest client_key{};
    for (size_t i = 0; i < client_key.size(); ++i) {
      client_key[i] = static_cast<uint8_t>(proof[i] ^ client_signature[i]);
    }
    if (!equal_constant_time(sha256(client_key), _credential->stored_key)) {
      return {};
    }
    const Digest server_signature = hmac(_credential->server_key, auth_message);
    return {AuthStep::Outcome::kSuccess, as_vector("v=" + base64(server_signature)), _username};
  }

  const ScramSha256& _method;
  std::string _server_nonce;
  State _state = State::kFirst;
  std::string _gs2_header;
  std::string _client_first_bare;
  std::string _server_first;
  std::string _nonce;
  std::string _username;
  const ScramCredential* _credential = nullptr;
};

}  // namespace

ScramCredential ScramSha256::derive(std::string_view password, std::vector<uint8_t> salt,
                                    uint32_t iterations) {
  ScramCredential credential;
  credential.salt = std::move(salt);
  credential.iterations = iterations;
  Digest salted{};
  wc_PBKDF2(salted.data(), reinterpret_cast<const byte*>(password.data()),
            static_cast<int>(password.size()), credential.salt.data(),
            static_cast<int>(credential.salt.size()), static_cast<int>(iterations),
            static_cast<int>(salted.size()), WC_SHA256);
  const Digest client_key = hmac(salted, "Client Key");
  credential.stored_key = sha256(client_key);
  credential.server_key = hmac(salted, "Server Key");
  return credential;
}

void ScramSha256::add_user(std::string username, ScramCredential credential) {
  if (_decoy.salt.empty()) {
    _decoy.salt.assign(16, 0);
    if (getrandom(_decoy.salt.data(), _decoy.salt.size(), 0) < 0) {
      _decoy.salt.assign(16, 0x5a);
    }
    _decoy.iterations = credential.iterations;
  }
  _users[std::move(username)] = std::move(credential);
}

const ScramCredential* ScramSha256::find(const std::string& username) const {
  auto it = _users.find(username);
  return it == _users.end() ? nullptr : &it->second;
}

std::unique_ptr<AuthExchange> ScramSha256::begin() const {
  return std::make_unique<ScramExchange>(*this, random_nonce());
}

std::unique_ptr<AuthExchange> ScramSha256::begin_with_nonce(std::string server_nonce) const {
  return std::make_unique<ScramExchange>(*this, std::move(server_nonce));
}

}  // namespace peregrine::auth
