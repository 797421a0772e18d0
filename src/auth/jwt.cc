#include "src/auth/jwt.h"

#include <cmath>

#include "src/auth/base64url.h"
#include "src/auth/strict_json.h"
#include "src/mqtt/codec.h"

namespace peregrine::auth {

namespace {

constexpr size_t kMaxKidBytes = 256;
constexpr size_t kMaxTopicFilters = 256;

// Header members naming keys or changing what is signed: never followed, so refused.
constexpr const char* kRefusedHeaders[] = {"crit", "jwk", "jku", "x5u", "x5c", "b64", "zip"};

const picojson::value* member(const picojson::object& o, const char* name) {
  const auto it = o.find(name);
  return it == o.end() ? nullptr : &it->second;
}

// A NumericDate (RFC 7519 §2): a JSON number of seconds, possibly fractional; floored.
bool numeric_date(const picojson::value* v, std::optional<int64_t>& out) {
  if (v == nullptr) {
    return true;
  }
  if (!v->is<double>()) {
    return false;
  }
  const double d = v->get<double>();
  if (!(d > -9.0e15 && d < 9.0e15)) {
    return false;
  }
  out = static_cast<int64_t>(std::floor(d));
  return true;
}

bool optional_string(const picojson::value* v, std::string& out) {
  if (v == nullptr) {
    return true;
  }
  if (!v->is<std::string>()) {
    return false;
  }
  out = v->get<std::string>();
  return true;
}

// A string or an array of strings, appended to `out`; `filters`: each must be a valid
// topic filter, and all of them together at most kMaxTopicFilters.
bool string_list(const picojson::value* v, std::vector<std::string>& out, bool filters) {
  if (v == nullptr) {
    return true;
  }
  auto take = [&](const picojson::value& item) {
    if (!item.is<std::string>()) {
      return false;
    }
    const std::string& s = item.get<std::string>();
    if (filters && (!mqtt::valid_topic_filter(s) || out.size() >= kMaxTopicFilters)) {
      return false;
    }
    out.push_back(s);
    return true;
  };
  if (v->is<picojson::array>()) {
    for (const picojson::value& item : v->get<picojson::array>()) {
      if (!take(item)) {
        return false;
      }
    }
    return true;
  }
  return take(*v);
}

TokenRefusal read_topic_claims(const picojson::object& claims, TokenClaims& out) {
  const picojson::value* acl = member(claims, "topicAcl");
  const picojson::value* read = member(claims, "x-fastly-read");
  const picojson::value* write = member(claims, "x-fastly-write");
  const picojson::value* ours = member(claims, "peregrine");
  if (acl == nullptr && read == nullptr && write == nullptr && ours == nullptr) {
    return TokenRefusal::kNone;
  }
  TopicGrant grant;
  bool ok = string_list(acl, grant.publish, true) && string_list(acl, grant.subscribe, true) &&
            string_list(read, grant.subscribe, true) && string_list(write, grant.publish, true);
  if (ours != nullptr) {
    if (!ours->is<picojson::object>()) {
      return TokenRefusal::kClaims;
    }
    const picojson::object& o = ours->get<picojson::object>();
    ok = ok && string_list(member(o, "pub"), grant.publish, true) &&
         string_list(member(o, "sub"), grant.subscribe, true);
  }
  if (!ok) {
    return TokenRefusal::kClaims;
  }
  out.grant = std::move(grant);
  return TokenRefusal::kNone;
}

TokenRefusal read_claims(const picojson::object& claims, const JwtPolicy& policy, int64_t now_s,
                         TokenClaims& out) {
  std::optional<int64_t> not_before;
  std::string issuer;
  if (!numeric_date(member(claims, "exp"), out.expires_at) ||
      !numeric_date(member(claims, "nbf"), not_before) ||
      !numeric_date(member(claims, "iat"), out.issued_at) ||
      !optional_string(member(claims, "sub"), out.subject) ||
      !optional_string(member(claims, "jti"), out.token_id) ||
      !optional_string(member(claims, "iss"), issuer)) {
    return TokenRefusal::kClaims;
  }
  // "The current date/time MUST be before the expiration date/time" (RFC 7519 §4.1.4).
  if (out.expires_at && now_s >= *out.expires_at + policy.leeway_s) {
    return TokenRefusal::kExpired;
  }
  if (not_before && now_s + policy.leeway_s < *not_before) {
    return TokenRefusal::kNotYetValid;
  }
  if (!policy.issuer.empty() && (member(claims, "iss") == nullptr || issuer != policy.issuer)) {
    return TokenRefusal::kIssuer;
  }
  if (const picojson::value* aud = member(claims, "aud")) {
    std::vector<std::string> audiences;
    if (!string_list(aud, audiences, false)) {
      return TokenRefusal::kClaims;
    }
    bool named = false;
    for (const std::string& a : audiences) {
      named = named || (!policy.audience.empty() && a == policy.audience);
    }
    if (!named) {
      return TokenRefusal::kAudience;
    }
  } else if (!policy.audience.empty()) {
    return TokenRefusal::kAudience;
  }
  return read_topic_claims(claims, out);
}

}  // namespace

const char* refusal_name(TokenRefusal refusal) {
  switch (refusal) {
    case TokenRefusal::kNone: return "none";
    case TokenRefusal::kTooLarge: return "too_large";
    case TokenRefusal::kMalformed: return "malformed";
    case TokenRefusal::kHeader: return "header";
    case TokenRefusal::kAlgorithm: return "algorithm";
    case TokenRefusal::kUnknownKey: return "unknown_key";
    case TokenRefusal::kSignature: return "signature";
    case TokenRefusal::kClaims: return "claims";
    case TokenRefusal::kExpired: return "expired";
    case TokenRefusal::kNotYetValid: return "not_yet_valid";
    case TokenRefusal::kIssuer: return "issuer";
    case TokenRefusal::kAudience: return "audience";
  }
  return "?";
}

TokenRefusal verify_jwt(std::string_view token, JwsVerifier& verifier, const JwtPolicy& policy,
                        int64_t now_s, TokenClaims& claims) {
  if (token.size() > kMaxTokenBytes) {
    return TokenRefusal::kTooLarge;
  }
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return TokenRefusal::kMalformed;
  }
  const std::optional<std::string> header_text = base64url_decode(token.substr(0, first));
  const std::optional<std::string> claims_text =
      base64url_decode(token.substr(first + 1, second - first - 1));
  const std::optional<std::string> signature = base64url_decode(token.substr(second + 1));
  if (!header_text || !claims_text || !signature) {
    return TokenRefusal::kMalformed;
  }
  const std::optional<picojson::object> header = parse_strict_object(*header_text, 4);
  if (!header) {
    return TokenRefusal::kMalformed;
  }
  for (const char* refused : kRefusedHeaders) {
    if (header->count(refused) != 0) {
      return TokenRefusal::kHeader;
    }
  }
  const picojson::value* alg = member(*header, "alg");
  const picojson::value* kid = member(*header, "kid");
  if (alg == nullptr || !alg->is<std::string>()) {
    return TokenRefusal::kAlgorithm;
  }
  if (kid != nullptr && (!kid->is<std::string>() || kid->get<std::string>().size() > kMaxKidBytes)) {
    return TokenRefusal::kHeader;
  }
  const std::optional<JwsAlgorithm> named = jws_algorithm(alg->get<std::string>());
  if (!named) {
    return TokenRefusal::kAlgorithm;  // "none" among them
  }
  const std::optional<size_t> key = verifier.select(
      kid != nullptr ? std::optional<std::string_view>(kid->get<std::string>()) : std::nullopt);
  if (!key) {
    return TokenRefusal::kUnknownKey;
  }
  if (verifier.key(*key).alg != *named) {
    return TokenRefusal::kAlgorithm;  // the key pins its algorithm, never the token
  }
  if (!verifier.verify(*key, token.substr(0, second), *signature)) {
    return TokenRefusal::kSignature;
  }
  const std::optional<picojson::object> body = parse_strict_object(*claims_text, 8);
  if (!body) {
    return TokenRefusal::kMalformed;
  }
  claims.key_id = verifier.key(*key).kid;
  return read_claims(*body, policy, now_s, claims);
}

}  // namespace peregrine::auth
