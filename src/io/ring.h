// The io Ring: one per shard, created and used on that shard's thread only (except wake()).
// Two backends with the same semantics: io_uring (multishot accept and recv into a
// provided-buffer ring, sendmsg, MSG_RING wake-ups) and epoll (readiness + non-blocking
// syscalls, eventfd wake-ups). Completions are dispatched from poll(), never re-entrantly
// from the call that started the operation.
#pragma once

#include <fcntl.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "src/io/socket.h"

namespace peregrine::io {

class RecvHold;  // src/io/recv_buffer_pool.h

enum class Backend : uint8_t { kUring, kEpoll };

// A write to a file in flight (the shard's log): positioned and gathered, and, when
// `sync`, followed by fdatasync(2) of the file, reported once when all of it is done.
// The caller owns it and keeps it, and the bytes `iov` names, until on_file_written().
class FileWrite {
 public:
  virtual ~FileWrite() = default;
  // Every byte written (and synced when asked): the byte count. Otherwise -errno; a write
  // the file system cut short (a full disk) is -ENOSPC.
  virtual void on_file_written(int64_t result) = 0;

  int fd = -1;
  const iovec* iov = nullptr;
  int iovcnt = 0;
  uint64_t offset = 0;
  bool sync = false;

  // Bookkeeping that belongs to the Ring implementations.
  struct RingState {
    size_t expected = 0;     // the bytes iov names
    int64_t written = 0;     // the write's result
    int sync_result = 0;     // the sync's
    uint8_t pending = 0;     // completions still to come (io_uring)
  } ring_state;

  // For the Ring implementations: resets ring_state for a new write.
  void begin() {
    ring_state = {};
    for (int i = 0; i < iovcnt; i++) {
      ring_state.expected += iov[i].iov_len;
    }
  }
  // For the Ring implementations: what on_file_written() is told once all is done.
  int64_t outcome() const {
    const int64_t written = ring_state.written;
    if (written >= 0 && static_cast<size_t>(written) != ring_state.expected) {
      return -ENOSPC;  // cut short: the file system had no room for the rest
    }
    return written >= 0 && ring_state.sync_result < 0 ? ring_state.sync_result : written;
  }
};

// A file-system call made without blocking this thread (the shard's log makes, syncs,
// renames and removes its files with them): io_uring makes it in the kernel, epoll hands
// it to the ring's helper thread. Reported once, from poll(). Jobs in flight together are
// not ordered among themselves: a caller that needs one's effect before the next starts
// the next from the first's completion. The caller owns the job, and keeps it (and its
// paths) until on_file_job_done().
class FileJob {
 public:
  enum class Op : uint8_t {
    kOpen,    // open(path, flags, mode): the new descriptor
    kFsync,   // fsync(fd) (a file, or a directory whose entries changed)
    kRename,  // rename(path, to)
    kUnlink,  // unlink(path)
    kClose,   // close(fd)
  };
  virtual ~FileJob() = default;
  // kOpen: the descriptor; the others: 0. Or -errno.
  virtual void on_file_job_done(int result) = 0;

  Op op = Op::kOpen;
  std::string path;
  std::string to;
  int flags = 0;
  mode_t mode = 0;
  int fd = -1;

  // Sets the job up for `op` (the caller starts it with Ring::run_file_job()).
  FileJob& open(std::string file, int open_flags, mode_t open_mode) {
    op = Op::kOpen;
    path = std::move(file);
    flags = open_flags | O_CLOEXEC;
    mode = open_mode;
    return *this;
  }
  FileJob& fsync(int descriptor) {
    op = Op::kFsync;
    fd = descriptor;
    return *this;
  }
  FileJob& rename(std::string from, std::string into) {
    op = Op::kRename;
    path = std::move(from);
    to = std::move(into);
    return *this;
  }
  FileJob& unlink(std::string file) {
    op = Op::kUnlink;
    path = std::move(file);
    return *this;
  }
  FileJob& close(int descriptor) {
    op = Op::kClose;
    fd = descriptor;
    return *this;
  }
  // What the call returns when made here, on this thread (the epoll helper's way).
  int run_blocking() const;
};

const char* backend_name(Backend backend);

// Errors of accept() that mean "no room now" rather than "this connection failed".
bool is_resource_shortage(int error);

struct RingOptions {
  uint32_t entries = 4096;           // submission queue size
  // Provided buffers per shard (power of two) and their size: 4 MiB a shard in the
  // ring. Large buffers mean fewer receives for big messages, and fewer of them split
  // across two buffers: a 16 KiB payload that straddles one is copied, not held
  // (RecvBufferPool). 16 of 256 KiB against 64 of 64 KiB: large's broker CPU per
  // message 7-16 % lower, fan-in and pairs unchanged (bench/RESULTS.md, run O). With
  // incremental consumption small reads still share a buffer; where the kernel consumes
  // buffers whole, the ring cuts the same bytes into kWholeBufferBytes pieces instead.
  uint32_t recv_buffer_count = 16;
  // io_uring: buffers outside the ring that take the place of those held by large
  // payloads until they are sent (RecvBufferPool), 12 MiB of address space a shard,
  // touched only by holds. With 16 of 64 buffers allowed to be held only 12 % of 16 KiB
  // payloads found one; with 192 spares of 64 KiB 75 % did, and the broker's CPU per
  // message fell 9-18 % (bench/RESULTS.md, run N).
  uint32_t recv_buffer_spares = 48;
  uint32_t recv_buffer_size = 256 * 1024;
  // Where buffers are consumed whole (every receive takes one however few bytes it
  // brings), none is larger than this.
  static constexpr uint32_t kWholeBufferBytes = 64 * 1024;
  // io_uring: consume provided buffers incrementally where the kernel can (6.12+), so
  // small reads from many sockets share a buffer instead of touching a page each.
  bool incremental_buffers = true;
};

class Ring {
 public:
  virtual ~Ring() = default;

  // Creates a ring of `backend` on the calling thread; nullptr and `why` on failure.
  static std::unique_ptr<Ring> create(Backend backend, const RingOptions& options,
                                      std::string* why);
  // Whether io_uring can be set up here at all (kernel, sysctl, seccomp); `why` if not.
  static bool uring_available(std::string* why);

  virtual Backend backend() const = 0;

  // Accept connections on a listening fd until unlisten().
  virtual void listen(int fd, Acceptor* acceptor) = 0;
  virtual void unlisten(int fd) = 0;

  // Deliver received bytes to `socket` until the peer closes or stop() is called.
  virtual void start_recv(Socket* socket) = 0;
  // Back-pressure: stop delivering received bytes until resume_recv(). Bytes already in
  // flight may still arrive after pause_recv() (io_uring); the socket stays open.
  virtual void pause_recv(Socket* socket) = 0;
  virtual void resume_recv(Socket* socket) = 0;
  // Stop receiving (a send in flight completes or is cancelled); on_quiesced() follows
  // once no operation names the socket. The fd stays open: closing it is the owner's job.
  virtual void stop(Socket* socket) = 0;
  // Ends the socket's sending side after what was sent (the peer reads end of stream);
  // receiving goes on. Done at once: shutdown(2) does not block.
  virtual void shutdown_write(Socket* socket);
  // Gathered write; at most one per socket in flight. `msg` and the iovecs it names must
  // stay valid until on_send_done() (the caller's send queue holds them, so an idle
  // socket carries no header).
  virtual void send(Socket* socket, msghdr* msg) = 0;

  // Starts `write` (see FileWrite) without blocking this thread: io_uring does it in the
  // kernel (write and sync linked), epoll hands it to the ring's one helper thread. At
  // most kMaxFileWrites in flight per ring (the caller bounds its own: one log each).
  static constexpr uint32_t kMaxFileWrites = 64;
  virtual void write_file(FileWrite* write) = 0;
  // Starts `job` (see FileJob) without blocking this thread; at most kMaxFileJobs in
  // flight per ring.
  static constexpr uint32_t kMaxFileJobs = 64;
  virtual void run_file_job(FileJob* job) = 0;

  // Starts what is queued now rather than at the next poll() (a send whose bytes are
  // still in cache). A no-op where operations start when they are queued (epoll).
  virtual void submit() {}

  // Submits what is queued, waits up to timeout_ms (-1: forever, 0: not at all) for
  // completions and dispatches them.
  virtual void poll(int timeout_ms) = 0;

  // Wakes this ring's poll() from any thread.
  virtual void wake() = 0;
  // Wakes `peer` from this ring's thread, batched with this ring's next submit when the
  // backend can (io_uring MSG_RING).
  virtual void wake_peer(Ring& peer) = 0;

  // Inside a socket's on_recv(): keeps the receive buffer that `bytes` (part of what is
  // being delivered) lie in from being reused until the hold is released, so they can be
  // referenced instead of copied. nullptr when the backend reads into one reused buffer
  // (epoll), when `bytes` are not in the buffer being delivered, or when enough buffers
  // are held already (RecvBufferPool).
  virtual RecvHold* hold_recv(std::span<const uint8_t> bytes) {
    (void)bytes;
    return nullptr;
  }

  // Time poll() has spent blocked waiting since the ring was created (not the time its
  // dispatched completions took): the shard's idle time, for its load gauge.
  uint64_t waited_ns() const { return _waited_ns; }

 protected:
  uint64_t _waited_ns = 0;
};

}  // namespace peregrine::io
