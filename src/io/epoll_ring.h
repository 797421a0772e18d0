// epoll implementation of Ring (see ring.h): readiness plus non-blocking syscalls, with
// completions queued and dispatched from poll() so both backends call back alike.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "src/io/ring.h"

namespace peregrine::io {

class EpollRing final : public Ring {
 public:
  EpollRing();
  ~EpollRing() override;
  EpollRing(const EpollRing&) = delete;
  EpollRing& operator=(const EpollRing&) = delete;

  bool init(const RingOptions& options, std::string* why);

  Backend backend() const override { return Backend::kEpoll; }
  void listen(int fd, Acceptor* acceptor) override;
  void unlisten(int fd) override;
  void start_recv(Socket* socket) override;
  void stop(Socket* socket) override;
  void pause_recv(Socket* socket) override;
  void resume_recv(Socket* socket) override;
  void send(Socket* socket, msghdr* msg) override;
  void write_file(FileWrite* write) override;
  void run_file_job(FileJob* job) override;
  void poll(int timeout_ms) override;
  void wake() override;
  void wake_peer(Ring& peer) override { peer.wake(); }

 private:
  void update_interest(Socket* socket);
  void on_readable(Socket* socket);
  void try_send(Socket* socket);
  void accept_all(Acceptor* acceptor, int fd);
  bool run_deferred();  // true if it dispatched anything
  class FileHelper;
  std::unique_ptr<FileHelper> _files;  // made at the first write_file()

  // One read's most: every socket is read into the same buffer, which stays in cache.
  static constexpr size_t kReadBufferBytes = 256 * 1024;

  int _epoll_fd = -1;
  int _wake_fd = -1;
  std::vector<uint8_t> _recv_buffer;
  std::unordered_map<Acceptor*, int> _acceptors;     // owner → listening fd
  std::vector<std::pair<Socket*, int>> _send_done;   // completed sends to report
  std::vector<Socket*> _quiesced;                    // stopped sockets to notify
  uint32_t _file_writes = 0;                         // in flight
  uint32_t _file_jobs = 0;                           // in flight
};

}  // namespace peregrine::io
