#include "src/auth/connect_authenticator.h"

#include <ctime>

#include "src/auth/jws_verifier.h"
#include "src/auth/token_cache.h"

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
        _verifier(settings.jwt_keys),
        _cache(settings.token_cache_entries),
        _clock(settings.clock != nullptr ? settings.clock : real_clock) {}

  int64_t now_s() const override { return _clock(); }

  AuthResult authenticate(const Credentials& c) override {
    if (!_verifier.empty() && c.password && token_shaped(*c.password)) {
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
      refusal = verify_jwt(token, _verifier, _settings.jwt_policy, now, claims);
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
    result.expires_at_s = claims.expires_at.value_or(0);
    result.grant = std::move(claims.grant);
    return result;
  }

  const AuthSettings& _settings;
  JwsVerifier _verifier;
  TokenCache _cache;
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
