#include "src/store/control_file_store.h"

#include <picojson.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "src/base/parse_json.h"

namespace peregrine::store {

std::string encode_revocations(const std::vector<std::string>& token_ids) {
  picojson::array ids;
  ids.reserve(token_ids.size());
  for (const std::string& id : token_ids) {
    ids.emplace_back(id);
  }
  picojson::object root;
  root["version"] = picojson::value(1.0);
  root["revoked"] = picojson::value(ids);
  return picojson::value(root).serialize() + "\n";
}

bool decode_revocations(const std::string& text, std::vector<std::string>& out,
                        std::string& error) {
  picojson::value root;
  const std::string parse_error = base::parse_json(root, text);
  if (!parse_error.empty() || !root.is<picojson::object>()) {
    error = "not a JSON object";
    return false;
  }
  const picojson::object& o = root.get<picojson::object>();
  const auto version = o.find("version");
  const auto revoked = o.find("revoked");
  if (version == o.end() || !version->second.is<double>() || version->second.get<double>() != 1 ||
      revoked == o.end() || !revoked->second.is<picojson::array>()) {
    error = "not version 1 with a \"revoked\" list";
    return false;
  }
  std::vector<std::string> ids;
  for (const picojson::value& id : revoked->second.get<picojson::array>()) {
    if (!id.is<std::string>() || id.get<std::string>().empty()) {
      error = "a revoked id that is not a non-empty string";
      return false;
    }
    ids.push_back(id.get<std::string>());
  }
  out = std::move(ids);
  return true;
}

bool ControlFileStore::load_revocations(std::vector<std::string>& out, std::string& error) const {
  const std::string path = revocations_path();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) {
      out.clear();
      return true;
    }
    error = path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (!decode_revocations(text.str(), out, error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}

bool ControlFileStore::save_revocations(const std::vector<std::string>& token_ids,
                                        uint64_t ticket) {
  return _writer.submit(ticket, revocations_path(), encode_revocations(token_ids));
}

}  // namespace peregrine::store
