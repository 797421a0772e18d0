#include "src/http/admin_call.h"

#include <picojson.h>

namespace peregrine::http {

std::string admin_success(const std::string& result_json) {
  return "{\"success\":true,\"errors\":[],\"messages\":[],\"result\":" + result_json + "}";
}

std::string admin_error(int code, const std::string& message) {
  picojson::object error;
  error["code"] = picojson::value(static_cast<double>(code));
  error["message"] = picojson::value(message);
  return "{\"success\":false,\"errors\":[" + picojson::value(error).serialize() +
         "],\"messages\":[],\"result\":null}";
}

}  // namespace peregrine::http
