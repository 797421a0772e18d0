// io_uring implementation of Ring (see ring.h). Owned by one shard thread, which must be
// the thread that created it (IORING_SETUP_SINGLE_ISSUER); completions are processed only
// inside that thread's poll() (IORING_SETUP_DEFER_TASKRUN where the kernel has it, 6.1+;
// else COOP_TASKRUN).
#pragma once

#include <liburing.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "src/io/recv_buffer_pool.h"
#include "src/io/ring.h"

namespace peregrine::io {

class UringRing final : public Ring {
 public:
  UringRing() = default;
  ~UringRing() override;
  UringRing(const UringRing&) = delete;
  UringRing& operator=(const UringRing&) = delete;

  bool init(const RingOptions& options, std::string* why);
  static bool probe(std::string* why);

  Backend backend() const override { return Backend::kUring; }
  // Whether the kernel took the buffer ring as incrementally consumed.
  bool incremental_buffers() const { return _incremental; }
  // The options in use: consumed whole, large buffers are cut into
  // RingOptions::kWholeBufferBytes pieces, their count and the spares' multiplied to match.
  const RingOptions& options() const { return _options; }
  void listen(int fd, Acceptor* acceptor) override;
  void unlisten(int fd) override;
  void start_recv(Socket* socket) override;
  void stop(Socket* socket) override;
  void pause_recv(Socket* socket) override;
  void resume_recv(Socket* socket) override;
  void send(Socket* socket, msghdr* msg) override;
  void write_file(FileWrite* write) override;
  void run_file_job(FileJob* job) override;
  void submit() override;
  void poll(int timeout_ms) override;
  void wake() override;
  void wake_peer(Ring& peer) override;
  RecvHold* hold_recv(std::span<const uint8_t> bytes) override;

 private:
  void recycle(uint16_t bid);  // into the provided-buffer ring
  bool init_buffers(std::string* why);
  io_uring_sqe* get_sqe();
  void arm_wake();
  void arm_accept(int fd, Acceptor* acceptor);
  void arm_recv(Socket* socket);
  void dispatch(io_uring_cqe* cqe);
  void on_recv_cqe(Socket* socket, io_uring_cqe* cqe);
  void on_accept_cqe(Acceptor* acceptor, io_uring_cqe* cqe);
  void on_wake_cqe(io_uring_cqe* cqe);
  void on_file_cqe(FileWrite* write, bool sync, int result);
  void finish_op(Socket* socket);
  void notify_quiesced();

  RingOptions _options;
  io_uring _ring{};
  bool _ring_ready = false;
  io_uring_buf_ring* _buf_ring = nullptr;
  size_t _buf_ring_bytes = 0;
  RecvBufferPool* _pool = nullptr;  // detached, not deleted, by the destructor
  int _delivering_bid = -1;          // the buffer on_recv() is reading from, if any
  // Incremental consumption: a buffer the kernel still holds (IORING_CQE_F_BUF_MORE)
  // receives its next bytes where the last completion ended; this is that offset.
  bool _incremental = false;
  std::vector<uint32_t> _buffer_used;
  int _wake_fd = -1;
  std::unordered_map<Acceptor*, int> _acceptors;  // owner → listening fd
  std::vector<Socket*> _quiesced;                 // stopped sockets to notify in poll()
  uint32_t _file_writes = 0;                      // in flight
  uint32_t _file_jobs = 0;                        // in flight
};

}  // namespace peregrine::io
