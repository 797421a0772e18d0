// A Socket is anything a Ring reads from and writes to: the ring calls it back on the
// shard thread that owns both. Its owner keeps it alive until on_quiesced() follows a
// stop(): only then is no operation in flight that could name it.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <span>

namespace peregrine::io {

class Socket {
 public:
  virtual ~Socket() = default;

  // Bytes received; `data` is valid only during the call (it is a ring buffer).
  virtual void on_recv(std::span<const uint8_t> data) = 0;
  // No more data: 0 for an orderly shutdown by the peer, -errno otherwise.
  virtual void on_recv_end(int error) = 0;
  // The last send() finished: bytes written (maybe fewer than asked) or -errno.
  virtual void on_send_done(int result) = 0;
  // After stop(): nothing is in flight any more; the owner may now free or move it.
  virtual void on_quiesced() = 0;

  int fd() const { return _fd; }
  void set_fd(int fd) { _fd = fd; }

  // Bookkeeping that belongs to the Ring implementations; nobody else touches it.
  struct RingState {
    uint16_t ops_in_flight = 0;
    bool recv_armed = false;
    bool recv_paused = false;      // pause_recv(): do not re-arm
    bool recv_cancelling = false;  // io_uring: a cancel of the multishot recv is in flight
    bool send_pending = false;  // a send() has not completed yet
    bool stopping = false;
    bool want_write = false;    // epoll: waiting for EPOLLOUT
    bool registered = false;    // epoll: fd added to the epoll set
    msghdr* send_msg = nullptr;  // the pending send's header (its owner keeps it alive)
  } ring_state;

 private:
  int _fd = -1;
};

// A listening socket's owner.
class Acceptor {
 public:
  virtual ~Acceptor() = default;
  // A new non-blocking, close-on-exec connection; the acceptor owns `fd` from now on.
  virtual void on_accept(int fd) = 0;
  // Accepting failed for want of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM): the ring
  // has stopped accepting on this listener, as if unlisten() had been called, so that a
  // full process does not spin; the owner calls listen() again later.
  virtual void on_accept_paused(int error) = 0;
};

}  // namespace peregrine::io
