// The admin API's calls as the HTTP bridge hands them to the broker, authenticated and
// parsed: `/admin/revocations` (Cloudflare's revocations: list, revoke, unrevoke by jti).
// Plain values; the answer comes back as an HTTP status and a JSON body.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace peregrine::http {

struct AdminCall {
  enum class Op : uint8_t { kListRevocations, kRevoke, kUnrevoke };
  Op op = Op::kListRevocations;
  std::vector<std::string> token_ids;  // jti values (kRevoke, kUnrevoke), each checked
};

// Limits on what one call may carry.
constexpr size_t kMaxTokenIdBytes = 256;
constexpr size_t kMaxTokenIdsPerCall = 1000;

// Cloudflare's API envelope: {"success":true,"errors":[],"messages":[],"result":RESULT}.
std::string admin_success(const std::string& result_json);
// {"success":false,"errors":[{"code":CODE,"message":MESSAGE}],"messages":[],"result":null}.
std::string admin_error(int code, const std::string& message);

}  // namespace peregrine::http
