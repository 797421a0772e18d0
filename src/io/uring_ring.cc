// io_uring backend. user_data packs a pointer (8-byte aligned) with a 3-bit op tag.
// Provided-buffer ring mapped by hand: liburing 2.3 lacks io_uring_setup_buf_ring.
#include "src/io/uring_ring.h"

#include <liburing.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>

#include "src/base/assert.h"
#include "src/base/clock.h"
#include "src/base/log.h"

namespace peregrine::io {

namespace {

enum Op : uint64_t {
  kOpRecv = 1,
  kOpSend = 2,
  kOpAccept = 3,
  kOpWake = 4,
  kOpIgnore = 5,  // with a null pointer: nothing to tell (a cancel's own completion)
  kOpFileJob = 5,  // with a FileJob (the three tag bits are all taken)
  kOpFileWrite = 6,
  kOpFileSync = 7,
};
constexpr uint64_t kTagMask = 7;
constexpr uint16_t kBufferGroup = 1;
// Kernel 6.12 ABI, newer than Debian 12's liburing 2.3 headers: the buffer ring flag (in
// io_uring_buf_reg's `pad`, called `flags` since) and the completion flag that says the
// kernel keeps the buffer for more data.
constexpr uint16_t kPbufRingIncremental = 2;  // IOU_PBUF_RING_INC
constexpr uint32_t kCqeBufMore = 1U << 4;      // IORING_CQE_F_BUF_MORE

uint64_t pack(const void* ptr, Op op) {
  auto bits = reinterpret_cast<uint64_t>(ptr);
  PG_DASSERT((bits & kTagMask) == 0);
  return bits | op;
}

}  // namespace

UringRing::~UringRing() {
  if (_ring_ready) {
    io_uring_queue_exit(&_ring);
  }
  if (_pool != nullptr) {
    _pool->detach();  // messages that still hold buffers keep it (and them) alive
  }
  if (_buf_ring != nullptr) {
    munmap(_buf_ring, _buf_ring_bytes);
  }
  if (_wake_fd >= 0) {
    close(_wake_fd);
  }
}

bool UringRing::init(const RingOptions& options, std::string* why) {
  _options = options;
  PG_ASSERT((options.recv_buffer_count & (options.recv_buffer_count - 1)) == 0);
  io_uring_params params{};
  // The shard thread is the ring's only submitter and reaper: completions' task work
  // waits for its own io_uring_enter (DEFER_TASKRUN) instead of interrupting it mid-turn.
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int rc = io_uring_queue_init_params(options.entries, &_ring, &params);
  if (rc == -EINVAL) {
    params = {};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
    rc = io_uring_queue_init_params(options.entries, &_ring, &params);
  }
  if (rc == -EINVAL) {
    params = {};
    rc = io_uring_queue_init_params(options.entries, &_ring, &params);
  }
  if (rc < 0) {
    *why = std::string("io_uring_queue_init: ") + strerror(-rc);
    return false;
  }
  _ring_ready = true;
  if (!init_buffers(why)) {
    return false;
  }
  _wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (_wake_fd < 0) {
    *why = std::string("eventfd: ") + strerror(errno);
    return false;
  }
  arm_wake();
  return true;
}

bool UringRing::init_buffers(std::string* why) {
  // Consumed whole, a buffer is spent by a receive of a few bytes: the same bytes then go
  // in more, smaller buffers (the ring's entries are sized for that case up front).
  constexpr uint32_t kWhole = RingOptions::kWholeBufferBytes;
  const uint32_t whole_split = std::bit_ceil((_options.recv_buffer_size + kWhole - 1) / kWhole);
  const uint32_t max_count = _options.recv_buffer_count * whole_split;
  _buf_ring_bytes = max_count * sizeof(io_uring_buf);
  void* ring_mem = mmap(nullptr, _buf_ring_bytes, PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (ring_mem == MAP_FAILED) {
    *why = "mmap of the provided-buffer ring failed";
    return false;
  }
  _buf_ring = static_cast<io_uring_buf_ring*>(ring_mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(_buf_ring);
  reg.ring_entries = _options.recv_buffer_count;
  reg.bgid = kBufferGroup;
  int rc = -EINVAL;
  if (_options.incremental_buffers) {
    reg.pad = kPbufRingIncremental;
    rc = io_uring_register_buf_ring(&_ring, &reg, 0);
    _incremental = rc == 0;
  }
  if (rc == -EINVAL) {  // a kernel before 6.12 refuses the flag: whole buffers then
    _options.recv_buffer_count = max_count;
    _options.recv_buffer_spares *= whole_split;
    _options.recv_buffer_size /= whole_split;
    reg.ring_entries = max_count;
    reg.pad = 0;
    rc = io_uring_register_buf_ring(&_ring, &reg, 0);
  }
  if (rc < 0) {
    *why = std::string("io_uring_register_buf_ring: ") + strerror(-rc);
    return false;
  }
  const uint32_t count = _options.recv_buffer_count;
  _pool = RecvBufferPool::create(count, _options.recv_buffer_spares, _options.recv_buffer_size,
                                 why);
  if (_pool == nullptr) {
    return false;
  }
  io_uring_buf_ring_init(_buf_ring);
  const int mask = io_uring_buf_ring_mask(count);
  for (uint32_t i = 0; i < count; ++i) {
    io_uring_buf_ring_add(_buf_ring, _pool->buffer(static_cast<uint16_t>(i)),
                          _options.recv_buffer_size, static_cast<uint16_t>(i), mask,
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(_buf_ring, static_cast<int>(count));
  if (_incremental) {
    _buffer_used.assign(_pool->count(), 0);  // spares included
  }
  PG_DEBUG("io_uring: %u provided buffers of %u bytes, consumed %s", count,
           _options.recv_buffer_size, _incremental ? "incrementally" : "whole");
  return true;
}

io_uring_sqe* UringRing::get_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
  while (sqe == nullptr) {
    // A full submission queue is flushed and retried, never grown.
    io_uring_submit(&_ring);
    sqe = io_uring_get_sqe(&_ring);
  }
  return sqe;
}

void UringRing::arm_wake() {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_poll_multishot(sqe, _wake_fd, POLLIN);
  io_uring_sqe_set_data64(sqe, pack(&_wake_fd, kOpWake));
}

void UringRing::listen(int fd, Acceptor* acceptor) {
  _acceptors[acceptor] = fd;
  arm_accept(fd, acceptor);
}

void UringRing::arm_accept(int fd, Acceptor* acceptor) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, pack(acceptor, kOpAccept));
}

void UringRing::unlisten(int fd) {
  for (auto it = _acceptors.begin(); it != _acceptors.end(); ++it) {
    if (it->second != fd) {
      continue;
    }
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, pack(it->first, kOpAccept), 0);
    io_uring_sqe_set_data64(sqe, kOpIgnore);
    _acceptors.erase(it);
    break;
  }
  io_uring_submit(&_ring);
}

void UringRing::start_recv(Socket* socket) {
  auto& st = socket->ring_state;
  PG_ASSERT(!st.recv_armed);
  st.stopping = false;
  arm_recv(socket);
}

void UringRing::arm_recv(Socket* socket) {
  auto& st = socket->ring_state;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_recv_multishot(sqe, socket->fd(), nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, pack(socket, kOpRecv));
  st.recv_armed = true;
  ++st.ops_in_flight;
}

void UringRing::pause_recv(Socket* socket) {
  auto& st = socket->ring_state;
  if (st.stopping || st.recv_paused) {
    return;
  }
  st.recv_paused = true;
  if (st.recv_armed && !st.recv_cancelling) {
    st.recv_cancelling = true;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, pack(socket, kOpRecv), 0);
    io_uring_sqe_set_data64(sqe, kOpIgnore);
    io_uring_submit(&_ring);  // now: every completion until it lands is buffered bytes
  }
}

void UringRing::resume_recv(Socket* socket) {
  auto& st = socket->ring_state;
  if (st.stopping || !st.recv_paused) {
    return;
  }
  st.recv_paused = false;
  if (!st.recv_armed) {
    arm_recv(socket);
  }
  // Still armed: the cancel's final completion re-arms it (see on_recv_cqe).
}

void UringRing::stop(Socket* socket) {
  auto& st = socket->ring_state;
  if (st.stopping) {
    return;
  }
  st.stopping = true;
  if (st.recv_armed) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, pack(socket, kOpRecv), 0);
    io_uring_sqe_set_data64(sqe, kOpIgnore);
  }
  if (st.ops_in_flight == 0) {
    _quiesced.push_back(socket);
  }
}

void UringRing::send(Socket* socket, msghdr* msg) {
  auto& st = socket->ring_state;
  PG_ASSERT(!st.send_pending);
  st.send_pending = true;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_sendmsg(sqe, socket->fd(), msg, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, pack(socket, kOpSend));
  ++st.ops_in_flight;
}

void UringRing::wake() {
  uint64_t one = 1;
  // A failed write means the counter is saturated: the ring is awake anyway.
  [[maybe_unused]] ssize_t n = write(_wake_fd, &one, sizeof one);
}

void UringRing::wake_peer(Ring& peer) {
  auto* other = dynamic_cast<UringRing*>(&peer);
  if (other == nullptr) {
    peer.wake();
    return;
  }
  io_uring_sqe* sqe = get_sqe();
  // The peer's CQE carries kOpIgnore: its arrival alone ends the peer's wait.
  io_uring_prep_msg_ring(sqe, other->_ring.ring_fd, 0, kOpIgnore, 0);
  io_uring_sqe_set_data64(sqe, kOpIgnore);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

void UringRing::submit() { io_uring_submit(&_ring); }

void UringRing::poll(int timeout_ms) {
  io_uring_cqe* cqe = nullptr;
  if (!_quiesced.empty()) {
    timeout_ms = 0;
  }
  if (timeout_ms == 0) {
    io_uring_submit_and_get_events(&_ring);  // also runs deferred completions
  } else {
    const uint64_t wait_from = base::monotonic_ns();
    if (timeout_ms < 0) {
      io_uring_submit_and_wait(&_ring, 1);
    } else {
      __kernel_timespec ts{};
      ts.tv_sec = timeout_ms / 1000;
      ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1'000'000;
      io_uring_submit_and_wait_timeout(&_ring, &cqe, 1, &ts, nullptr);
    }
    _waited_ns += base::monotonic_ns() - wait_from;
  }
  unsigned head = 0;
  unsigned seen = 0;
  io_uring_for_each_cqe(&_ring, head, cqe) {
    ++seen;
    dispatch(cqe);
  }
  io_uring_cq_advance(&_ring, seen);
  notify_quiesced();
}

void UringRing::notify_quiesced() {
  while (!_quiesced.empty()) {
    std::vector<Socket*> batch;
    batch.swap(_quiesced);
    for (Socket* socket : batch) {
      socket->on_quiesced();
    }
  }
}

void UringRing::finish_op(Socket* socket) {
  auto& st = socket->ring_state;
  PG_ASSERT(st.ops_in_flight > 0);
  --st.ops_in_flight;
  if (st.stopping && st.ops_in_flight == 0) {
    _quiesced.push_back(socket);
  }
}

void UringRing::dispatch(io_uring_cqe* cqe) {
  const uint64_t data = cqe->user_data;
  const uint64_t op = data & kTagMask;
  void* ptr = reinterpret_cast<void*>(data & ~kTagMask);
  switch (op) {
    case kOpRecv:
      on_recv_cqe(static_cast<Socket*>(ptr), cqe);
      break;
    case kOpSend: {
      auto* socket = static_cast<Socket*>(ptr);
      socket->ring_state.send_pending = false;
      finish_op(socket);
      socket->on_send_done(cqe->res);
      break;
    }
    case kOpAccept:
      on_accept_cqe(static_cast<Acceptor*>(ptr), cqe);
      break;
    case kOpWake:
      on_wake_cqe(cqe);
      break;
    case kOpFileWrite:
    case kOpFileSync:
      on_file_cqe(static_cast<FileWrite*>(ptr), op == kOpFileSync, cqe->res);
      break;
    case kOpFileJob:  // == kOpIgnore: a null pointer is a cancel's completion
      if (ptr != nullptr) {
        _file_jobs--;
        static_cast<FileJob*>(ptr)->on_file_job_done(cqe->res);
      }
      break;
    default:
      break;
  }
}

void UringRing::write_file(FileWrite* write) {
  PG_ASSERT(_file_writes < kMaxFileWrites);
  _file_writes++;
  write->begin();
  write->ring_state.pending = write->sync ? 2 : 1;
  if (write->sync && io_uring_sq_space_left(&_ring) < 2) {
    io_uring_submit(&_ring);  // a link must not be split across two submissions
  }
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_writev(sqe, write->fd, write->iov, static_cast<unsigned>(write->iovcnt),
                       write->offset);
  io_uring_sqe_set_data64(sqe, pack(write, kOpFileWrite));
  if (write->sync) {
    // Linked: the sync starts once the write has completed (and is cancelled if it
    // failed or came up short).
    sqe->flags |= IOSQE_IO_LINK;
    io_uring_sqe* sync = get_sqe();
    io_uring_prep_fsync(sync, write->fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(sync, pack(write, kOpFileSync));
  }
}

void UringRing::run_file_job(FileJob* job) {
  PG_ASSERT(_file_jobs < kMaxFileJobs);
  _file_jobs++;
  io_uring_sqe* sqe = get_sqe();
  switch (job->op) {
    case FileJob::Op::kOpen:
      io_uring_prep_openat(sqe, AT_FDCWD, job->path.c_str(), job->flags, job->mode);
      break;
    case FileJob::Op::kFsync:
      io_uring_prep_fsync(sqe, job->fd, 0);
      break;
    case FileJob::Op::kRename:
      io_uring_prep_renameat(sqe, AT_FDCWD, job->path.c_str(), AT_FDCWD, job->to.c_str(), 0);
      break;
    case FileJob::Op::kUnlink:
      io_uring_prep_unlinkat(sqe, AT_FDCWD, job->path.c_str(), 0);
      break;
    case FileJob::Op::kClose:
      io_uring_prep_close(sqe, job->fd);
      break;
  }
  io_uring_sqe_set_data64(sqe, pack(job, kOpFileJob));
}

void UringRing::on_file_cqe(FileWrite* write, bool sync, int result) {
  auto& state = write->ring_state;
  if (sync) {
    state.sync_result = result;
  } else {
    state.written = result;
  }
  PG_ASSERT(state.pending > 0);
  if (--state.pending > 0) {
    return;
  }
  _file_writes--;
  write->on_file_written(write->outcome());
}

void UringRing::on_wake_cqe(io_uring_cqe* cqe) {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = read(_wake_fd, &count, sizeof count);
  if (!(cqe->flags & IORING_CQE_F_MORE)) {
    arm_wake();
  }
}

void UringRing::on_accept_cqe(Acceptor* acceptor, io_uring_cqe* cqe) {
  auto it = _acceptors.find(acceptor);
  const int listen_fd = it == _acceptors.end() ? -1 : it->second;
  if (cqe->res >= 0) {
    if (listen_fd < 0) {
      close(cqe->res);  // accepted after unlisten(): nobody owns it
    } else {
      acceptor->on_accept(cqe->res);
    }
  } else if (listen_fd >= 0 && is_resource_shortage(-cqe->res)) {
    if (cqe->flags & IORING_CQE_F_MORE) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_cancel64(sqe, pack(acceptor, kOpAccept), 0);
      io_uring_sqe_set_data64(sqe, kOpIgnore);
    }
    _acceptors.erase(it);
    acceptor->on_accept_paused(-cqe->res);
    return;
  } else if (cqe->res != -ECANCELED) {
    PG_DEBUG("accept failed: %s", strerror(-cqe->res));
  }
  if (!(cqe->flags & IORING_CQE_F_MORE) && listen_fd >= 0) {
    arm_accept(listen_fd, acceptor);
  }
}

RecvHold* UringRing::hold_recv(std::span<const uint8_t> bytes) {
  if (_delivering_bid < 0 || _pool->buffer_of(bytes) != _delivering_bid) {
    return nullptr;
  }
  return _pool->hold(static_cast<uint16_t>(_delivering_bid));
}

void UringRing::recycle(uint16_t bid) {
  if (_incremental) {
    _buffer_used[bid] = 0;
  }
  io_uring_buf_ring_add(_buf_ring, _pool->buffer(bid), _options.recv_buffer_size, bid,
                        io_uring_buf_ring_mask(_options.recv_buffer_count), 0);
  io_uring_buf_ring_advance(_buf_ring, 1);
}

void UringRing::on_recv_cqe(Socket* socket, io_uring_cqe* cqe) {
  auto& st = socket->ring_state;
  const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
  if (!more) {
    st.recv_armed = false;
  }
  if (cqe->flags & IORING_CQE_F_BUFFER) {
    const auto bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    uint8_t* const buffer = _pool->buffer(bid);
    const uint32_t used = _incremental ? _buffer_used[bid] : 0;
    const size_t got = cqe->res > 0 ? static_cast<size_t>(cqe->res) : 0;
    PG_DASSERT(used + got <= _options.recv_buffer_size);
    // Bytes that arrive while stopping still go to the socket: a migrating connection
    // carries them to its new shard.
    if (got > 0) {
      _delivering_bid = bid;
      socket->on_recv({buffer + used, got});
      _delivering_bid = -1;
    }
    if (_incremental && (cqe->flags & kCqeBufMore)) {
      _buffer_used[bid] = used + static_cast<uint32_t>(got);  // the kernel goes on in it
    } else {
      recycle(_pool->kernel_done(bid));  // itself, or a spare in place of a held one
    }
  }
  if (more) {
    return;
  }
  finish_op(socket);
  if (st.stopping) {
    return;
  }
  if (st.recv_cancelling) {
    st.recv_cancelling = false;
    if (cqe->res == -ECANCELED || cqe->res > 0 || cqe->res == -ENOBUFS) {
      if (!st.recv_paused) {
        arm_recv(socket);  // resumed before the cancel landed
      }
      return;
    }
  }
  if (st.recv_paused && (cqe->res > 0 || cqe->res == -ENOBUFS)) {
    return;  // re-armed by resume_recv()
  }
  if (cqe->res > 0 || cqe->res == -ENOBUFS) {
    // The multishot ended without an error of the socket's (buffers ran short): re-arm.
    arm_recv(socket);
    return;
  }
  socket->on_recv_end(cqe->res);
}

bool UringRing::probe(std::string* why) {
  // Set up a small ring exactly as a shard would (buffer ring, wake poll): this catches
  // kernels and seccomp profiles that allow io_uring_setup but refuse what we use.
  {
    io_uring ring{};
    int rc = io_uring_queue_init(8, &ring, 0);
    if (rc < 0) {
      *why = std::string("io_uring_queue_init: ") + strerror(-rc);
      return false;
    }
    io_uring_probe* probe = io_uring_get_probe_ring(&ring);
    const bool ok = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_MSG_RING) &&
                    io_uring_opcode_supported(probe, IORING_OP_SENDMSG);
    if (probe != nullptr) {
      io_uring_free_probe(probe);
    }
    io_uring_queue_exit(&ring);
    if (!ok) {
      *why = "io_uring lacks MSG_RING or SENDMSG (kernel too old)";
      return false;
    }
  }
  RingOptions small;
  small.entries = 8;
  small.recv_buffer_count = 2;
  small.recv_buffer_spares = 0;
  small.recv_buffer_size = 4096;
  UringRing trial;
  return trial.init(small, why);
}

}  // namespace peregrine::io
