// The simulated network of the seeded simulation: one SimPipe per client connection,
// carrying bytes between a simulated client and the broker's socket, and one SimRing per
// shard standing in for io_uring/epoll. Everything runs on one thread; the faults —
// partial reads and writes, completions delayed across turns and delivered in random
// order — come from the seed's SimRandom, so a seed replays exactly.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "src/io/ring.h"
#include "tests/sim/sim_disk.h"
#include "tests/sim/sim_random.h"

namespace peregrine::sim {

class SimRing;

// How hostile the network is, in percent per chance.
struct NetFaults {
  uint32_t short_read = 30;      // a receive delivers only part of what waits
  uint32_t short_write = 20;     // a send completes with only part written
  uint32_t delay = 20;           // a completion waits for a later poll
};

// One connection: what the client sent and the broker has not read, what the broker
// wrote and the client has not read, and who closed.
struct SimPipe {
  uint64_t serial = 0;
  int fd = -1;                  // the broker's end: a real descriptor (an eventfd)
  io::Socket* socket = nullptr;  // set while a ring receives on it
  SimRing* ring = nullptr;
  std::string to_broker;
  std::string to_client;
  bool client_closed = false;   // the client's FIN (or reset): read ends after to_broker
  bool broker_closed = false;   // the broker closed its end
  bool broker_shut_write = false;  // the broker's FIN: the client reads end after to_client
  uint64_t bytes_to_client = 0;
};

class SimNet {
 public:
  SimNet(SimRandom& random, NetFaults faults) : _random(random), _faults(faults) {}
  ~SimNet();

  // A new connection; its broker end is handed to a shard by the caller (accept()).
  SimPipe* open_pipe();
  // The pipe whose broker end is `fd` while the broker holds it open.
  SimPipe* pipe_for(int fd) {
    auto it = _by_fd.find(fd);
    return it == _by_fd.end() ? nullptr : it->second;
  }
  // The broker closed `pipe`'s end: its descriptor may be reused from now on.
  void broker_closed(SimPipe* pipe);
  // Forgets a pipe both ends have left.
  void forget(SimPipe* pipe);
  // The broker died: every end it held is closed (its descriptor too), and what it had
  // sent stays readable before the client sees the close.
  void reset_all();

  SimRandom& random() { return _random; }
  const NetFaults& faults() const { return _faults; }

 private:
  SimRandom& _random;
  NetFaults _faults;
  std::map<uint64_t, std::unique_ptr<SimPipe>> _pipes;  // by serial: an ordered walk replays
  std::map<int, SimPipe*> _by_fd;                        // broker ends still open
  uint64_t _next_serial = 1;
};

class SimRing final : public io::Ring {
 public:
  SimRing(SimNet& net, SimDisk& disk) : _net(net), _disk(disk) {}

  io::Backend backend() const override { return io::Backend::kEpoll; }
  void listen(int, io::Acceptor*) override {}  // the simulation accepts by itself
  void unlisten(int) override {}
  void start_recv(io::Socket* socket) override;
  void pause_recv(io::Socket* socket) override;
  void resume_recv(io::Socket* socket) override;
  void stop(io::Socket* socket) override;
  void shutdown_write(io::Socket* socket) override;
  void send(io::Socket* socket, msghdr* msg) override;
  // Submitted: the disk takes it at a later poll() (or, with the delay fault, one after
  // that) and it is reported then. A crash before that loses it, as a kill -9 loses a
  // write still queued in a ring.
  void write_file(io::FileWrite* write) override;
  // Likewise: made at a later poll(), lost by a crash before.
  void run_file_job(io::FileJob* job) override;
  void poll(int timeout_ms) override;
  void wake() override {}
  void wake_peer(io::Ring&) override {}

  // Whether it has anything left to do (a quiet floor has nothing on any ring).
  bool busy() const;

 private:
  struct SendDone {
    io::Socket* socket;
    int result;
  };
  void complete_send(io::Socket* socket);
  void deliver_reads();

  SimNet& _net;
  SimDisk& _disk;
  std::vector<io::FileWrite*> _submitted;  // file writes the disk has not taken yet
  std::vector<io::FileJob*> _jobs;         // file jobs it has not made yet
  std::vector<io::Socket*> _receiving;  // started, in the order they were
  std::vector<io::Socket*> _sending;    // a send waits to complete
  std::vector<io::Socket*> _stopped;    // to quiesce once no operation is in flight
};

}  // namespace peregrine::sim
