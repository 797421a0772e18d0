#include "src/store/shard_layout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "src/store/redistribute.h"
#include "src/store/state_writer.h"

namespace peregrine::store {


bool prepare_shard_dirs(const std::string& state_dir, uint16_t shards, std::string& error) {
  const std::string layout = state_dir + "/layout.json";
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
  if (before != shards) {
    const std::string text = "{\"version\":1,\"shards\":" + std::to_string(shards) + "}\n";
    if (!StateWriter::write_atomically(layout, text, &error)) {
      return false;
    }
  }
  return true;
}

}  // namespace peregrine::store
