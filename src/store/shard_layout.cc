#include "src/store/shard_layout.h"

#include <fcntl.h>
#include <picojson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "src/store/state_writer.h"
#include "src/base/parse_json.h"

namespace peregrine::store {

uint16_t recorded_shard_count(const std::string& state_dir) {
  std::ifstream in(state_dir + "/layout.json");
  if (!in) {
    return 0;
  }
  std::ostringstream text;
  text << in.rdbuf();
  picojson::value root;
  if (!base::parse_json(root, text.str()).empty() || !root.is<picojson::object>()) {
    return 0;
  }
  const picojson::value& shards = root.get("shards");
  if (!shards.is<double>() || shards.get<double>() < 1 || shards.get<double>() > 65535) {
    return 0;
  }
  return static_cast<uint16_t>(shards.get<double>());
}

bool record_shard_count(const std::string& state_dir, uint16_t shards, std::string& error) {
  return StateWriter::write_atomically(
      state_dir + "/layout.json",
      "{\"version\":1,\"shards\":" + std::to_string(shards) + "}\n", &error);
}

bool prepare_shard_dirs(const std::string& state_dir, uint16_t shards, std::string& error) {
  const uint16_t before = recorded_shard_count(state_dir);
  if (before != 0 && before != shards) {
    error = state_dir + " holds the logs of " + std::to_string(before) +
            " shards: redistribute them first (redistribute.h)";
    return false;
  }
  for (uint16_t s = 0; s < shards; s++) {
    const std::string dir = state_dir + "/shard-" + std::to_string(s);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      error = dir + ": " + std::strerror(errno);
      return false;
    }
    // Each shard makes a segment at start: it must be able to, or it would stop there.
    const std::string probe = dir + "/.probe";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      error = dir + ": cannot make files there: " + std::strerror(errno);
      return false;
    }
    ::close(fd);
    ::unlink(probe.c_str());
  }
  return before == shards || record_shard_count(state_dir, shards, error);
}

}  // namespace peregrine::store
