#include "tests/sim/sim_net.h"

#include <sys/uio.h>

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "src/base/assert.h"

namespace peregrine::sim {

SimNet::~SimNet() {
  for (auto& [fd, pipe] : _by_fd) {
    if (fcntl(fd, F_GETFD) != -1) {
      ::close(fd);  // never handed over, or still in a mailbox when the shards stopped
    }
  }
}

SimPipe* SimNet::open_pipe() {
  const int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  PG_ASSERT(fd >= 0);
  PG_ASSERT(_by_fd.find(fd) == _by_fd.end());
  auto pipe = std::make_unique<SimPipe>();
  pipe->fd = fd;
  pipe->serial = _next_serial++;
  SimPipe* raw = pipe.get();
  _pipes.emplace(raw->serial, std::move(pipe));
  _by_fd.emplace(fd, raw);
  return raw;
}

void SimNet::broker_closed(SimPipe* pipe) {
  pipe->broker_closed = true;
  _by_fd.erase(pipe->fd);
}

void SimNet::reset_all() {
  for (auto& [fd, pipe] : _by_fd) {
    pipe->broker_closed = true;
    pipe->socket = nullptr;
    pipe->ring = nullptr;
    ::close(fd);
  }
  _by_fd.clear();
}

void SimNet::forget(SimPipe* pipe) {
  PG_ASSERT(pipe->broker_closed);
  _pipes.erase(pipe->serial);
}

namespace {

// A fair shuffle from the simulation's random source.
template <typename T>
void shuffle(std::vector<T>& items, SimRandom& random) {
  for (size_t i = items.size(); i > 1; --i) {
    std::swap(items[i - 1], items[random.below(i)]);
  }
}

void erase_one(std::vector<io::Socket*>& items, io::Socket* socket) {
  auto it = std::find(items.begin(), items.end(), socket);
  if (it != items.end()) {
    items.erase(it);
  }
}

}  // namespace

void SimRing::start_recv(io::Socket* socket) {
  auto& st = socket->ring_state;
  PG_ASSERT(!st.stopping);
  SimPipe* pipe = _net.pipe_for(socket->fd());
  PG_ASSERT(pipe != nullptr);
  pipe->socket = socket;
  pipe->ring = this;
  st.recv_armed = true;
  st.recv_paused = false;
  erase_one(_receiving, socket);
  _receiving.push_back(socket);
}

void SimRing::pause_recv(io::Socket* socket) { socket->ring_state.recv_paused = true; }

void SimRing::resume_recv(io::Socket* socket) { socket->ring_state.recv_paused = false; }

void SimRing::stop(io::Socket* socket) {
  auto& st = socket->ring_state;
  if (st.stopping) {
    return;
  }
  st.stopping = true;
  st.recv_armed = false;
  erase_one(_receiving, socket);
  _stopped.push_back(socket);
}

void SimRing::shutdown_write(io::Socket* socket) {
  SimPipe* pipe = _net.pipe_for(socket->fd());
  PG_ASSERT(pipe != nullptr);
  pipe->broker_shut_write = true;
}

void SimRing::send(io::Socket* socket, msghdr* msg) {
  auto& st = socket->ring_state;
  PG_ASSERT(!st.send_pending);
  st.send_pending = true;
  st.send_msg = msg;
  ++st.ops_in_flight;
  _sending.push_back(socket);
}

void SimRing::complete_send(io::Socket* socket) {
  auto& st = socket->ring_state;
  SimPipe* pipe = _net.pipe_for(socket->fd());
  PG_ASSERT(pipe != nullptr);
  size_t total = 0;
  for (size_t i = 0; i < st.send_msg->msg_iovlen; ++i) {
    total += st.send_msg->msg_iov[i].iov_len;
  }
  int result;
  if (pipe->client_closed) {
    result = -EPIPE;  // the peer reset: what a real socket says
  } else {
    size_t n = total;
    if (total > 1 && _net.random().chance(_net.faults().short_write)) {
      n = _net.random().between(1, total - 1);
    }
    size_t left = n;
    for (size_t i = 0; i < st.send_msg->msg_iovlen && left > 0; ++i) {
      const iovec& v = st.send_msg->msg_iov[i];
      const size_t take = std::min(left, v.iov_len);
      pipe->to_client.append(static_cast<const char*>(v.iov_base), take);
      left -= take;
    }
    pipe->bytes_to_client += n;
    result = static_cast<int>(n);
  }
  st.send_pending = false;
  st.send_msg = nullptr;
  --st.ops_in_flight;
  socket->on_send_done(result);
}

void SimRing::deliver_reads() {
  std::vector<io::Socket*> order = _receiving;
  shuffle(order, _net.random());
  std::vector<uint8_t> chunk;
  for (io::Socket* socket : order) {
    // A callback before this one may have stopped it (and freed it only at quiesce).
    if (std::find(_receiving.begin(), _receiving.end(), socket) == _receiving.end()) {
      continue;
    }
    auto& st = socket->ring_state;
    if (!st.recv_armed || st.recv_paused || st.stopping) {
      continue;
    }
    SimPipe* pipe = _net.pipe_for(socket->fd());
    if (pipe->to_broker.empty()) {
      if (pipe->client_closed) {
        st.recv_armed = false;
        erase_one(_receiving, socket);
        socket->on_recv_end(0);
      }
      continue;
    }
    if (_net.random().chance(_net.faults().delay)) {
      continue;  // not this turn
    }
    size_t n = pipe->to_broker.size();
    if (n > 1 && _net.random().chance(_net.faults().short_read)) {
      n = _net.random().between(1, n - 1);
    }
    chunk.assign(pipe->to_broker.begin(), pipe->to_broker.begin() + static_cast<ptrdiff_t>(n));
    pipe->to_broker.erase(0, n);
    socket->on_recv(chunk);
  }
}

void SimRing::write_file(io::FileWrite* write) { _submitted.push_back(write); }

void SimRing::run_file_job(io::FileJob* job) { _jobs.push_back(job); }

void SimRing::poll(int) {
  // The disk takes the submitted writes in order (a slow one holds those behind it: a
  // log has one batch in flight per file anyway) and each is reported as it completes.
  std::vector<io::FileWrite*> submitted;
  submitted.swap(_submitted);
  for (size_t i = 0; i < submitted.size(); ++i) {
    if (_net.random().chance(_net.faults().delay)) {
      _submitted.insert(_submitted.end(), submitted.begin() + static_cast<ptrdiff_t>(i),
                        submitted.end());
      break;
    }
    submitted[i]->on_file_written(_disk.execute(*submitted[i]));
  }
  std::vector<io::FileJob*> jobs;
  jobs.swap(_jobs);
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (_net.random().chance(_net.faults().delay)) {
      _jobs.insert(_jobs.end(), jobs.begin() + static_cast<ptrdiff_t>(i), jobs.end());
      break;
    }
    jobs[i]->on_file_job_done(_disk.execute(*jobs[i]));
  }
  std::vector<io::Socket*> sends = _sending;
  _sending.clear();
  shuffle(sends, _net.random());
  for (io::Socket* socket : sends) {
    if (!socket->ring_state.stopping && _net.random().chance(_net.faults().delay)) {
      _sending.push_back(socket);  // completes in a later poll
      continue;
    }
    complete_send(socket);
  }
  deliver_reads();
  std::vector<io::Socket*> stopped;
  stopped.swap(_stopped);
  for (io::Socket* socket : stopped) {
    if (socket->ring_state.ops_in_flight != 0) {
      _stopped.push_back(socket);  // its send completes first
      continue;
    }
    const int fd = socket->fd();
    SimPipe* pipe = _net.pipe_for(fd);
    pipe->socket = nullptr;
    pipe->ring = nullptr;
    socket->on_quiesced();  // may free it: not touched again
    if (fcntl(fd, F_GETFD) == -1) {
      _net.broker_closed(pipe);  // closed, not moved to another shard
    }
  }
}

bool SimRing::busy() const {
  if (!_sending.empty() || !_stopped.empty() || !_submitted.empty() || !_jobs.empty()) {
    return true;
  }
  for (const io::Socket* socket : _receiving) {
    const auto& st = socket->ring_state;
    SimPipe* pipe = _net.pipe_for(socket->fd());
    if (st.recv_armed && !st.recv_paused && (!pipe->to_broker.empty() || pipe->client_closed)) {
      return true;
    }
  }
  return false;
}

}  // namespace peregrine::sim
