#include "src/io/ring.h"

#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "src/io/epoll_ring.h"
#include "src/io/uring_ring.h"

namespace peregrine::io {

const char* backend_name(Backend backend) {
  return backend == Backend::kUring ? "io_uring" : "epoll";
}

int FileJob::run_blocking() const {
  int result = 0;
  switch (op) {
    case Op::kOpen:
      result = ::open(path.c_str(), flags, mode);
      break;
    case Op::kFsync:
      result = ::fsync(fd);
      break;
    case Op::kRename:
      result = ::rename(path.c_str(), to.c_str());
      break;
    case Op::kUnlink:
      result = ::unlink(path.c_str());
      break;
    case Op::kClose:
      result = ::close(fd);
      break;
  }
  return result < 0 ? -errno : result;
}

bool is_resource_shortage(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

std::unique_ptr<Ring> Ring::create(Backend backend, const RingOptions& options,
                                   std::string* why) {
  if (backend == Backend::kUring) {
    auto ring = std::make_unique<UringRing>();
    if (!ring->init(options, why)) {
      return nullptr;
    }
    return ring;
  }
  auto ring = std::make_unique<EpollRing>();
  if (!ring->init(options, why)) {
    return nullptr;
  }
  return ring;
}

bool Ring::uring_available(std::string* why) { return UringRing::probe(why); }

void Ring::shutdown_write(Socket* socket) { ::shutdown(socket->fd(), SHUT_WR); }

}  // namespace peregrine::io
