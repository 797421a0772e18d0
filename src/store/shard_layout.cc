#include "src/store/shard_layout.h"

#include <dirent.h>
#include <fcntl.h>
#include <picojson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "src/store/state_writer.h"

namespace peregrine::store {

namespace {

// Whether `dir` holds a segment with anything past its header.
bool has_records(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return false;
  }
  bool found = false;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    struct stat st {};
    if (name.ends_with(".log") && ::stat((dir + "/" + name).c_str(), &st) == 0 &&
        st.st_size > 24) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

// The shard count layout.json records; 0 when there is none (or it does not read).
uint16_t recorded_shards(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return 0;
  }
  std::ostringstream text;
  text << in.rdbuf();
  picojson::value root;
  if (!picojson::parse(root, text.str()).empty() || !root.is<picojson::object>()) {
    return 0;
  }
  const picojson::value& shards = root.get("shards");
  if (!shards.is<double>() || shards.get<double>() < 1 || shards.get<double>() > 65535) {
    return 0;
  }
  return static_cast<uint16_t>(shards.get<double>());
}

}  // namespace

bool prepare_shard_dirs(const std::string& state_dir, uint16_t shards, std::string& error) {
  const std::string layout = state_dir + "/layout.json";
  const uint16_t before = recorded_shards(layout);
  if (before != 0 && before != shards) {
    for (uint16_t s = 0; s < before; s++) {
      if (has_records(state_dir + "/shard-" + std::to_string(s))) {
        error = state_dir + " holds the logs of " + std::to_string(before) +
                " shards: start with --shards " + std::to_string(before) +
                " (moving state to another shard count is not built yet), or with "
                "persistence = false, or with another state_dir";
        return false;
      }
    }
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
  if (before != shards) {
    const std::string text = "{\"version\":1,\"shards\":" + std::to_string(shards) + "}\n";
    if (!StateWriter::write_atomically(layout, text, &error)) {
      return false;
    }
  }
  return true;
}

}  // namespace peregrine::store
