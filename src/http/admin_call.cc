#include "src/http/admin_call.h"

#include <picojson.h>

namespace peregrine::http {

std::string admin_success(const std::string& result_json) {
  return "{\"success\":true,\"errors\":[],\"messages\":[],\"result\":" + result_json + "}";
}

const char* admin_op_name(AdminCall::Op op) {
  using Op = AdminCall::Op;
  switch (op) {
    case Op::kListRevocations: return "list revocations";
    case Op::kRevoke: return "revoke";
    case Op::kUnrevoke: return "unrevoke";
    case Op::kListKeys: return "list keys";
    case Op::kCreateKey: return "create key";
    case Op::kDeleteKey: return "delete key";
    case Op::kPublicKeys: return "public keys";
    case Op::kIssue: return "issue";
    case Op::kListNamespaces: return "list namespaces";
    case Op::kCreateNamespace: return "create namespace";
    case Op::kDescribeNamespace: return "describe namespace";
    case Op::kDeleteNamespace: return "delete namespace";
    case Op::kListBrokers: return "list brokers";
    case Op::kCreateBroker: return "create broker";
    case Op::kDescribeBroker: return "describe broker";
    case Op::kUpdateBroker: return "update broker";
    case Op::kDeleteBroker: return "delete broker";
  }
  return "?";
}

std::string admin_error(int code, const std::string& message) {
  picojson::object error;
  error["code"] = picojson::value(static_cast<double>(code));
  error["message"] = picojson::value(message);
  return "{\"success\":false,\"errors\":[" + picojson::value(error).serialize() +
         "],\"messages\":[],\"result\":null}";
}

}  // namespace peregrine::http

namespace peregrine::http {

bool parse_expiration(std::string_view text, std::optional<int64_t>& out) {
  if (text == "-1") {
    out = std::nullopt;
    return true;
  }
  int64_t unit = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      case 'w': unit = 7 * 86400; break;
      default: unit = 0; break;
    }
    if (unit != 0) {
      text.remove_suffix(1);
    } else {
      unit = 1;
    }
  }
  if (text.empty() || text.size() > 12) {
    return false;
  }
  int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + (c - '0');
  }
  if (value == 0 || value > kMaxExpirationS / unit) {
    return false;
  }
  out = value * unit;
  return true;
}

}  // namespace peregrine::http
