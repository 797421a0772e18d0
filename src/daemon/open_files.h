// The process's open-files limit. Every connection is a descriptor, and the soft limit a
// service manager or shell hands down (1,024 is common) would stall accepting at about a
// thousand clients while the hard limit allows far more.
#pragma once

#include <cstdint>

namespace peregrine::daemon {

struct OpenFilesLimit {
  uint64_t before = 0;  // the soft limit handed down
  uint64_t now = 0;     // the soft limit from here on
};

// Raises the soft limit to the hard one (to fs.nr_open where the hard one is unlimited).
// Call at start, before any thread.
OpenFilesLimit raise_open_files_limit();

}  // namespace peregrine::daemon
