#include "src/auth/connect_authenticator.h"

#include <algorithm>
#include <ctime>
#include <deque>
#include <unordered_set>

#include "src/auth/jws_verifier.h"
#include "src/auth/token_cache.h"
#include "src/auth/token_issuer.h"

namespace peregrine::auth {

namespace {

int64_t real_clock() { return static_cast<int64_t>(std::time(nullptr)); }

bool token_shaped(std::string_view password) {
  const size_t first = password.find('.');
  return first != std::string_view::npos && password.find('.', first + 1) != std::string_view::npos;
}

AuthResult refuse(AuthResult::Outcome outcome, AuthRefusal refusal) {
  AuthResult result;
  result.outcome = outcome;
  result.refusal = refusal;
  return result;
}

class ConnectAuthenticator final : public Authenticator {
 public:
  explicit ConnectAuthenticator(const AuthSettings& settings)
      : _settings(settings),
        _verifier(std::make_unique<JwsVerifier>(settings.jwt_keys)),
        _cache(settings.token_cache_entries),
        _clock(settings.clock != nullptr ? settings.clock : real_clock) {}

  int64_t now_s() const override { return _clock(); }

  void use_broker_keys(const std::vector<BrokerKey>& keys) override {
    std::vector<JwsKey> named_only;
    _broker_kids.clear();
    for (const BrokerKey& key : keys) {
      named_only.push_back(verification_key(key));
      _broker_kids.insert(key.kid);
    }
    _verifier = std::make_unique<JwsVerifier>(_settings.jwt_keys, std::move(named_only));
    // A remembered verdict may rest on a key that is gone, or on one that was missing.
    _cache.clear();
  }

  AuthResult authenticate(const Credentials& c) override {
    if (c.username && known_user(*c.username)) {
      return check_password(c);
    }
    if (c.password && token_shaped(*c.password)) {
      return check_token(c);
    }
    if (c.certificate || c.enhanced) {
      return {};  // proven by the TLS layer, or about to be by the AUTH exchange
    }
    if (_settings.allow_anonymous) {
      return {};
    }
    return refuse(AuthResult::Outcome::kBadCredentials, AuthRefusal::kNoCredentials);
  }

 private:
  AuthResult check_token(const Credentials& c) {
    const std::string_view token = *c.password;
    const int64_t now = _clock();
    const TokenCache::Digest key = TokenCache::digest(token);
    TokenRefusal refusal;
    TokenClaims claims;
    if (const TokenCache::Entry* seen = _cache.find(key, now)) {
      refusal = seen->refusal;
      claims = seen->claims;
    } else {
      refusal = verify_jwt(token, *_verifier, _settings.jwt_policy, now, claims);
      _cache.remember(key, refusal, claims);
    }
    if (refusal != TokenRefusal::kNone) {
      return refuse(AuthResult::Outcome::kBadCredentials, auth_refusal(refusal));
    }
    if (!claims.subject.empty() &&
        ((!c.client_id.empty() && c.client_id != claims.subject) ||
         (c.username && *c.username != claims.subject))) {
      return refuse(AuthResult::Outcome::kNotAuthorized, AuthRefusal::kSubjectMismatch);
    }
    AuthResult result;
    result.outcome = AuthResult::Outcome::kVerified;
    result.subject = claims.subject;
    result.username = claims.subject;
    result.token_id = std::move(claims.token_id);
    if (_broker_kids.contains(claims.key_id)) {
      result.broker_key_id = std::move(claims.key_id);
    }
    result.expires_at_s = claims.expires_at.value_or(0);
    result.grant = std::move(claims.grant);
    return result;
  }

  bool known_user(std::string_view username) const {
    return (_settings.passwords && _settings.passwords->knows(username)) ||
           std::find(_settings.scram_users.begin(), _settings.scram_users.end(), username) !=
               _settings.scram_users.end();
  }

  AuthResult check_password(const Credentials& c) {
    if (c.enhanced) {
      return {};  // the AUTH exchange decides (a SCRAM user, usually)
    }
    const std::string_view user = *c.username;
    if (!c.password || !_settings.passwords || !_settings.passwords->knows(user)) {
      return refuse(AuthResult::Outcome::kBadCredentials, AuthRefusal::kBadPassword);
    }
    // Successful checks are remembered by SHA-256 of user and password, so a client
    // reconnecting costs a hash rather than a PBKDF2; failures are never remembered.
    std::string both(user);
    both.push_back('\0');
    both.append(*c.password);
    const TokenCache::Digest key = TokenCache::digest(both);
    if (!_good_passwords.contains(key)) {
      if (!_settings.passwords->check(user, *c.password)) {
        return refuse(AuthResult::Outcome::kBadCredentials, AuthRefusal::kBadPassword);
      }
      remember_password(key);
    }
    AuthResult result;
    result.outcome = AuthResult::Outcome::kVerified;
    result.username = std::string(user);
    return result;
  }

  void remember_password(const TokenCache::Digest& key) {
    if (_settings.token_cache_entries == 0) {
      return;
    }
    _good_passwords.insert(key);
    _password_order.push_back(key);
    if (_password_order.size() > _settings.token_cache_entries) {
      _good_passwords.erase(_password_order.front());
      _password_order.pop_front();
    }
  }

  const AuthSettings& _settings;
  std::unique_ptr<JwsVerifier> _verifier;  // the configured keys, then the broker's own
  std::unordered_set<std::string> _broker_kids;
  TokenCache _cache;
  // Passwords that checked out, bounded like the token cache (oldest out first).
  std::unordered_set<TokenCache::Digest, TokenCache::DigestHash> _good_passwords;
  std::deque<TokenCache::Digest> _password_order;
  int64_t (*_clock)();
};

}  // namespace

AuthRefusal auth_refusal(TokenRefusal refusal) {
  switch (refusal) {
    case TokenRefusal::kNone: return AuthRefusal::kNone;
    case TokenRefusal::kTooLarge:
    case TokenRefusal::kMalformed:
    case TokenRefusal::kHeader: return AuthRefusal::kTokenMalformed;
    case TokenRefusal::kAlgorithm:
    case TokenRefusal::kUnknownKey: return AuthRefusal::kTokenKey;
    case TokenRefusal::kSignature: return AuthRefusal::kTokenSignature;
    case TokenRefusal::kExpired: return AuthRefusal::kTokenExpired;
    case TokenRefusal::kNotYetValid: return AuthRefusal::kTokenNotYetValid;
    case TokenRefusal::kClaims:
    case TokenRefusal::kIssuer:
    case TokenRefusal::kAudience: return AuthRefusal::kTokenClaims;
  }
  return AuthRefusal::kTokenMalformed;
}

std::unique_ptr<Authenticator> ConnectAuthenticatorFactory::make() const {
  return std::make_unique<ConnectAuthenticator>(_settings);
}

}  // namespace peregrine::auth
