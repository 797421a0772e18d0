#include "src/broker/broker_stats.h"

namespace peregrine::broker {

void BrokerStats::add(const BrokerStats& o) {
#define PEREGRINE_COUNTER_ADD(name, meaning) name += o.name;
  PEREGRINE_BROKER_COUNTERS(PEREGRINE_COUNTER_ADD)
#undef PEREGRINE_COUNTER_ADD
  for (size_t i = 0; i < rejected.size(); ++i) {
    rejected[i] += o.rejected[i];
  }
}

uint64_t& BrokerStats::refused(AuthRefusal refusal) {
  switch (refusal) {
    case AuthRefusal::kNoCredentials: return auth_no_credentials;
    case AuthRefusal::kTokenMalformed: return auth_token_malformed;
    case AuthRefusal::kTokenKey: return auth_token_key;
    case AuthRefusal::kTokenSignature: return auth_token_signature;
    case AuthRefusal::kTokenExpired: return auth_token_expired;
    case AuthRefusal::kTokenNotYetValid: return auth_token_not_yet_valid;
    case AuthRefusal::kTokenClaims: return auth_token_claims;
    case AuthRefusal::kTokenRevoked: return auth_token_revoked;
    case AuthRefusal::kSubjectMismatch: return auth_subject_mismatch;
    case AuthRefusal::kBadPassword:
    case AuthRefusal::kNone: break;
  }
  return auth_bad_password;
}

std::string BrokerStats::format() const {
  std::string out;
  for_each([&](const std::string& name, uint64_t value) {
    if (!out.empty()) {
      out += ' ';
    }
    out += name + '=' + std::to_string(value);
  });
  return out;
}

}  // namespace peregrine::broker
