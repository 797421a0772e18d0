// log_format = "json": whatever bytes a log message carries (a client id, a peer, a bad
// packet's text), its line is one valid JSON object with the fixed fields.
#include <picojson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "src/base/assert.h"
#include "src/base/log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  const std::string line = peregrine::base::format_json_line(
      "2026-01-01T00:00:00.000Z", peregrine::base::LogLevel::kInfo, size % 3 == 0 ? -1 : 1,
      message);
  PG_ASSERT(!line.empty() && line.back() == '\n');
  PG_ASSERT(line.find('\n') == line.size() - 1);
  picojson::value value;
  const std::string error = picojson::parse(value, line);
  PG_ASSERT(error.empty());
  PG_ASSERT(value.is<picojson::object>());
  const picojson::object& o = value.get<picojson::object>();
  for (const char* field : {"time", "level", "shard", "event", "msg"}) {
    PG_ASSERT(o.count(field) == 1);
  }
  PG_ASSERT(o.at("msg").is<std::string>());
  return 0;
}
