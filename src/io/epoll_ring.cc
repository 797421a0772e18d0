#include "src/io/epoll_ring.h"

#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "src/base/assert.h"
#include "src/base/clock.h"
#include "src/base/log.h"
#include "src/base/spsc_queue.h"

namespace peregrine::io {

namespace {
enum Tag : uint64_t { kTagSocket = 1, kTagAccept = 2, kTagWake = 3 };
constexpr uint64_t kTagMask = 7;
constexpr int kMaxEvents = 256;
constexpr int kAcceptsPerEvent = 64;  // bound the work one listener gets per turn

uint64_t pack(const void* ptr, Tag tag) { return reinterpret_cast<uint64_t>(ptr) | tag; }
}  // namespace

// File writes and jobs for the epoll backend: one helper thread per ring does the
// blocking pwritev and fdatasync, open, fsync, rename, unlink and close, so the shard
// never waits on the disk. Work goes in and comes back through two SPSC queues (bounded:
// kMaxFileWrites + kMaxFileJobs in flight), in the order started; the helper sleeps on
// an eventfd and wakes the ring when something is done. The helper is named after the
// thread that made it plus "-disk" and floats over the process's CPUs even when its shard
// is pinned: it mostly sleeps in the kernel, and a tool that finds a shard by its thread
// name (top -H, the watchdog test) or counts pinned threads must not mistake it for one.
class EpollRing::FileHelper {
 public:
  explicit FileHelper(EpollRing& ring) : _ring(ring) {
    _work_fd = eventfd(0, EFD_CLOEXEC);
    PG_ASSERT(_work_fd >= 0);
    _thread = std::thread([this] { run(); });
  }
  ~FileHelper() {
    _stop.store(true, std::memory_order_release);
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(_work_fd, &one, sizeof one);
    _thread.join();
    ::close(_work_fd);
  }
  // One piece of work: a write, or a job (and its result once done).
  struct Work {
    FileWrite* write = nullptr;
    FileJob* job = nullptr;
    int job_result = 0;
  };
  void submit(Work work) {
    PG_ASSERT(_in.try_push(work));
    _in.publish();
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(_work_fd, &one, sizeof one);
  }
  bool take_done(Work& work) { return _out.try_pop(work); }

 private:
  void run() {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof name);
    name[10] = '\0';  // room for the suffix within the kernel's 15 characters
    std::strncat(name, "-disk", sizeof name - std::strlen(name) - 1);
    pthread_setname_np(pthread_self(), name);
    cpu_set_t process_cpus;
    if (sched_getaffinity(getpid(), sizeof process_cpus, &process_cpus) == 0) {
      pthread_setaffinity_np(pthread_self(), sizeof process_cpus, &process_cpus);
    }
    while (true) {
      Work work;
      while (_in.try_pop(work)) {
        if (work.write != nullptr) {
          perform(*work.write);
        } else {
          work.job_result = work.job->run_blocking();
        }
        PG_ASSERT(_out.try_push(work));
        _out.publish();
        _ring.wake();
      }
      if (_stop.load(std::memory_order_acquire)) {
        return;
      }
      uint64_t count = 0;
      [[maybe_unused]] ssize_t n = ::read(_work_fd, &count, sizeof count);
    }
  }
  static void perform(FileWrite& write) {
    auto& state = write.ring_state;
    std::vector<iovec> left(write.iov, write.iov + write.iovcnt);
    size_t first = 0;
    uint64_t offset = write.offset;
    while (first < left.size()) {
      const ssize_t n = ::pwritev(write.fd, left.data() + first,
                                  static_cast<int>(left.size() - first),
                                  static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        state.written = n < 0 ? -errno : -ENOSPC;
        return;
      }
      state.written += n;
      offset += static_cast<uint64_t>(n);
      size_t moved = static_cast<size_t>(n);
      while (first < left.size() && moved >= left[first].iov_len) {
        moved -= left[first].iov_len;
        first++;
      }
      if (first < left.size()) {
        left[first].iov_base = static_cast<char*>(left[first].iov_base) + moved;
        left[first].iov_len -= moved;
      }
    }
    if (write.sync && ::fdatasync(write.fd) != 0) {
      state.sync_result = -errno;
    }
  }

  EpollRing& _ring;
  int _work_fd = -1;
  base::SpscQueue<Work> _in{(kMaxFileWrites + kMaxFileJobs) * 2};
  base::SpscQueue<Work> _out{(kMaxFileWrites + kMaxFileJobs) * 2};
  std::atomic<bool> _stop{false};
  std::thread _thread;
};

EpollRing::EpollRing() = default;

EpollRing::~EpollRing() {
  _files.reset();  // joins the helper before the wake fd it uses goes
  if (_epoll_fd >= 0) {
    close(_epoll_fd);
  }
  if (_wake_fd >= 0) {
    close(_wake_fd);
  }
}

bool EpollRing::init(const RingOptions& /*options: provided buffers are io_uring's*/,
                     std::string* why) {
  _recv_buffer.resize(kReadBufferBytes);
  _epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  _wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (_epoll_fd < 0 || _wake_fd < 0) {
    *why = std::string("epoll_create1/eventfd: ") + strerror(errno);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = pack(this, kTagWake);
  epoll_ctl(_epoll_fd, EPOLL_CTL_ADD, _wake_fd, &ev);
  return true;
}

void EpollRing::listen(int fd, Acceptor* acceptor) {
  _acceptors[acceptor] = fd;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = pack(acceptor, kTagAccept);
  PG_ASSERT(epoll_ctl(_epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0);
}

void EpollRing::unlisten(int fd) {
  for (auto it = _acceptors.begin(); it != _acceptors.end(); ++it) {
    if (it->second == fd) {
      epoll_ctl(_epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
      _acceptors.erase(it);
      return;
    }
  }
}

void EpollRing::update_interest(Socket* socket) {
  auto& st = socket->ring_state;
  epoll_event ev{};
  ev.events = (st.recv_armed ? uint32_t{EPOLLIN} : 0U) | (st.want_write ? uint32_t{EPOLLOUT} : 0U);
  ev.data.u64 = pack(socket, kTagSocket);
  if (!st.registered) {
    PG_ASSERT(epoll_ctl(_epoll_fd, EPOLL_CTL_ADD, socket->fd(), &ev) == 0);
    st.registered = true;
  } else {
    epoll_ctl(_epoll_fd, EPOLL_CTL_MOD, socket->fd(), &ev);
  }
}

void EpollRing::start_recv(Socket* socket) {
  auto& st = socket->ring_state;
  PG_ASSERT(!st.recv_armed);
  st.stopping = false;
  st.recv_armed = true;
  update_interest(socket);
}

void EpollRing::pause_recv(Socket* socket) {
  auto& st = socket->ring_state;
  if (st.recv_armed && !st.stopping) {
    st.recv_armed = false;
    st.recv_paused = true;
    update_interest(socket);
  }
}

void EpollRing::resume_recv(Socket* socket) {
  auto& st = socket->ring_state;
  if (st.recv_paused && !st.stopping) {
    st.recv_paused = false;
    st.recv_armed = true;
    update_interest(socket);
  }
}

void EpollRing::stop(Socket* socket) {
  auto& st = socket->ring_state;
  if (st.stopping) {
    return;
  }
  st.stopping = true;
  st.recv_armed = false;
  if (st.registered) {
    epoll_ctl(_epoll_fd, EPOLL_CTL_DEL, socket->fd(), nullptr);
    st.registered = false;
  }
  if (st.want_write) {
    st.want_write = false;
    _send_done.emplace_back(socket, -ECANCELED);
  }
  if (st.ops_in_flight == 0) {
    _quiesced.push_back(socket);
  }
}

void EpollRing::send(Socket* socket, msghdr* msg) {
  auto& st = socket->ring_state;
  PG_ASSERT(!st.send_pending);
  st.send_pending = true;
  ++st.ops_in_flight;
  st.send_msg = msg;
  try_send(socket);
}

void EpollRing::try_send(Socket* socket) {
  auto& st = socket->ring_state;
  ssize_t n = sendmsg(socket->fd(), st.send_msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    if (!st.want_write) {
      st.want_write = true;
      update_interest(socket);
    }
    return;
  }
  if (st.want_write) {
    st.want_write = false;
    update_interest(socket);
  }
  _send_done.emplace_back(socket, n < 0 ? -errno : static_cast<int>(n));
}

void EpollRing::on_readable(Socket* socket) {
  auto& st = socket->ring_state;
  ssize_t n = recv(socket->fd(), _recv_buffer.data(), _recv_buffer.size(), MSG_DONTWAIT);
  if (n > 0) {
    socket->on_recv({_recv_buffer.data(), static_cast<size_t>(n)});
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    return;
  }
  const int error = n == 0 ? 0 : -errno;
  st.recv_armed = false;
  update_interest(socket);
  socket->on_recv_end(error);
}

void EpollRing::accept_all(Acceptor* acceptor, int fd) {
  for (int i = 0; i < kAcceptsPerEvent; ++i) {
    int conn = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn < 0) {
      if (is_resource_shortage(errno)) {
        const int error = errno;
        unlisten(fd);  // level-triggered: it would wake us at once, again and again
        acceptor->on_accept_paused(error);
        return;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        PG_DEBUG("accept failed: %s", strerror(errno));
      }
      return;
    }
    acceptor->on_accept(conn);
  }
}

void EpollRing::write_file(FileWrite* write) {
  PG_ASSERT(_file_writes < kMaxFileWrites);
  _file_writes++;
  write->begin();
  if (_files == nullptr) {
    _files = std::make_unique<FileHelper>(*this);
  }
  _files->submit({write, nullptr, 0});
}

void EpollRing::run_file_job(FileJob* job) {
  PG_ASSERT(_file_jobs < kMaxFileJobs);
  _file_jobs++;
  if (_files == nullptr) {
    _files = std::make_unique<FileHelper>(*this);
  }
  _files->submit({nullptr, job, 0});
}

bool EpollRing::run_deferred() {
  bool ran = false;
  FileHelper::Work done;
  while (_files != nullptr && _files->take_done(done)) {
    ran = true;
    if (done.write != nullptr) {
      _file_writes--;
      done.write->on_file_written(done.write->outcome());
    } else {
      _file_jobs--;
      done.job->on_file_job_done(done.job_result);
    }
  }
  while (!_send_done.empty() || !_quiesced.empty()) {
    ran = true;
    std::vector<std::pair<Socket*, int>> done;
    done.swap(_send_done);
    for (auto [socket, result] : done) {
      auto& st = socket->ring_state;
      st.send_pending = false;
      --st.ops_in_flight;
      if (st.stopping && st.ops_in_flight == 0) {
        _quiesced.push_back(socket);
      }
      socket->on_send_done(result);
    }
    std::vector<Socket*> quiet;
    quiet.swap(_quiesced);
    for (Socket* socket : quiet) {
      socket->on_quiesced();
    }
  }
  return ran;
}

void EpollRing::poll(int timeout_ms) {
  // Completions dispatched here may have queued work for the caller's next turn (a
  // flush after a finished send): then do not sleep.
  if (run_deferred()) {
    timeout_ms = 0;
  }
  epoll_event events[kMaxEvents];
  const uint64_t wait_from = timeout_ms != 0 ? base::monotonic_ns() : 0;
  int n = epoll_wait(_epoll_fd, events, kMaxEvents, timeout_ms);
  if (timeout_ms != 0) {
    _waited_ns += base::monotonic_ns() - wait_from;
  }
  for (int i = 0; i < n; ++i) {
    const uint64_t data = events[i].data.u64;
    void* ptr = reinterpret_cast<void*>(data & ~kTagMask);
    switch (data & kTagMask) {
      case kTagWake: {
        uint64_t count = 0;
        [[maybe_unused]] ssize_t r = read(_wake_fd, &count, sizeof count);
        break;
      }
      case kTagAccept: {
        auto* acceptor = static_cast<Acceptor*>(ptr);
        auto it = _acceptors.find(acceptor);
        if (it != _acceptors.end()) {
          accept_all(acceptor, it->second);
        }
        break;
      }
      case kTagSocket: {
        auto* socket = static_cast<Socket*>(ptr);
        auto& st = socket->ring_state;
        if (st.stopping) {
          break;  // stopped earlier in this batch; alive until on_quiesced()
        }
        if ((events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && st.want_write) {
          try_send(socket);
        }
        if ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && st.recv_armed &&
            !st.stopping) {
          on_readable(socket);
        }
        break;
      }
      default:
        break;
    }
  }
  run_deferred();
}

void EpollRing::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(_wake_fd, &one, sizeof one);
}

}  // namespace peregrine::io
