// The admin API's calls as the HTTP bridge hands them to the broker, authenticated and
// parsed: `/admin/revocations` (Cloudflare's revocations: list, revoke, unrevoke by jti),
// `/admin/keys` (the broker's own signing keys: list, create, delete by kid),
// `/admin/publickeys` (their public halves as a JWKS), `/admin/credentials` (tokens
// issued with them) and `/admin/namespaces[/NS[/brokers[/BROKER]]]` (virtual brokers).
// Plain values; the answer comes back as an HTTP status and a JSON body.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "include/peregrine/token_issuer.h"

namespace peregrine::http {

struct AdminCall {
  enum class Op : uint8_t {
    kListRevocations,
    kRevoke,
    kUnrevoke,
    kListKeys,
    kCreateKey,
    kDeleteKey,
    kPublicKeys,
    kIssue,
    // Virtual brokers, with wrangler pubsub's verbs: /admin/namespaces[/NS[/brokers[/B]]].
    kListNamespaces,
    kCreateNamespace,
    kDescribeNamespace,
    kDeleteNamespace,
    kListBrokers,
    kCreateBroker,
    kDescribeBroker,
    kUpdateBroker,
    kDeleteBroker,
  };
  Op op = Op::kListRevocations;
  std::vector<std::string> token_ids;  // jti values (kRevoke, kUnrevoke), each checked
  std::string key_id;                  // kDeleteKey
  CredentialRequest credentials;       // kIssue, checked
  // Namespaces and brokers: names from the path; fields from the query (checked by the
  // broker: a name's form, hostnames' form). An update changes what it names only.
  std::string namespace_name;
  std::string broker_name;
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> hostnames;  // `hostname=` repeated
};
constexpr size_t kMaxDescriptionBytes = 1024;
constexpr size_t kMaxHostnamesPerBroker = 64;

// The op as a log line says it ("create broker").
const char* admin_op_name(AdminCall::Op op);

// Whether `op` reads or changes virtual brokers (answered by their own code).
inline bool is_tenant_op(AdminCall::Op op) {
  return op >= AdminCall::Op::kListNamespaces;
}
inline bool is_tenant_read(AdminCall::Op op) {
  return op == AdminCall::Op::kListNamespaces || op == AdminCall::Op::kDescribeNamespace ||
         op == AdminCall::Op::kListBrokers || op == AdminCall::Op::kDescribeBroker;
}

// Limits on what one call may carry.
constexpr size_t kMaxTokenIdBytes = 256;
constexpr size_t kMaxTokenIdsPerCall = 1000;
constexpr size_t kMaxClientIdBytes = 256;           // an issued token's client id
constexpr int64_t kMaxExpirationS = 100LL * 366 * 86400;

// Cloudflare's API envelope: {"success":true,"errors":[],"messages":[],"result":RESULT}.
std::string admin_success(const std::string& result_json);
// {"success":false,"errors":[{"code":CODE,"message":MESSAGE}],"messages":[],"result":null}.
std::string admin_error(int code, const std::string& message);

// A duration as wrangler takes it: seconds ("3600"), or a number with one unit of s, m,
// h, d or w ("48h", "7d"); "-1" means no expiry (nullopt inside). false: not one, zero,
// or over kMaxExpirationS.
bool parse_expiration(std::string_view text, std::optional<int64_t>& out);

}  // namespace peregrine::http
