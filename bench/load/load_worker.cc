#include "bench/load/load_worker.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "bench/load/payload_stamp.h"
#include "src/base/clock.h"
#include "src/mqtt/codec.h"

namespace peregrine::bench {
namespace {

// user_data = connection address | operation; Connection is 8-aligned.
enum Op : uintptr_t { kOpNone = 0, kOpConnect = 1, kOpRecv = 2, kOpSend = 3 };
constexpr uintptr_t kOpMask = 3;

constexpr unsigned kRingEntries = 4096;
constexpr size_t kIdleBuffer = 256;
constexpr size_t kActiveBuffer = 64 * 1024;
constexpr uint64_t kHousekeepingNs = 100'000'000;

uint64_t seconds_to_ns(double s) { return static_cast<uint64_t>(s * 1e9); }

void* tag(Connection* c, Op op) {
  return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(c) | op);
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.replace(at, from.size(), to);
    at += to.size();
  }
  return text;
}

}  // namespace

LoadWorker::LoadWorker(RunControl& control, uint32_t worker_id, std::vector<ClientSpec> clients,
                       uint32_t source_addresses, double connect_rate)
    : _control(control),
      _config(control.config),
      _id(worker_id),
      _progress(control.workers[worker_id]),
      _source_addresses(source_addresses),
      _connect_rate(connect_rate) {
  char prefix[32];
  std::snprintf(prefix, sizeof(prefix), "pb%08x-", control.run_id);
  _client_prefix = prefix;
  _payload_template.assign(std::max<size_t>(_config.payload_size, kStampSize), 'x');
  _delivered_pending.assign(_config.publishers, 0);

  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(_config.port);
  const char* host = _config.host == "localhost" ? "127.0.0.1" : _config.host.c_str();
  inet_pton(AF_INET, host, &peer.sin_addr);

  for (const ClientSpec& spec : clients) {
    auto c = std::make_unique<Connection>();
    c->role = spec.role;
    c->index = spec.index;
    c->global_id = spec.global_id;
    c->peer = peer;
    c->inflight_limit = _config.inflight;
    if (spec.role == Role::kPublisher) {
      c->topic = topic_for(_config.pattern == TopicPattern::kShared ? 0 : spec.index);
      if (_config.qos > 0) {
        c->ids_in_use.assign(65536 / 64, 0);
      }
      _publishers.push_back(c.get());
    } else if (spec.role == Role::kSubscriber) {
      _subscribers.push_back(c.get());
      if (_config.pattern == TopicPattern::kPairs) {
        c->topic = topic_for(spec.index);
        c->streams.resize(1);
      } else if (_config.pattern == TopicPattern::kFanIn) {
        c->topic = wildcard_filter();
        c->streams.resize(_config.publishers);
      } else {
        c->topic = topic_for(0);
        c->streams.resize(_config.publishers);
      }
    }
    _conns.push_back(std::move(c));
  }
}

LoadWorker::~LoadWorker() {
  if (_ring_ready) {
    io_uring_queue_exit(&_ring);
  }
}

std::string LoadWorker::topic_for(uint64_t index) const {
  return replace_all(run_topic(), "%i", std::to_string(index));
}

std::string LoadWorker::wildcard_filter() const { return replace_all(run_topic(), "%i", "+"); }

std::string LoadWorker::run_topic() const {
  char run[16];
  std::snprintf(run, sizeof(run), "%08x", _control.run_id);
  return replace_all(_config.topic, "%r", run);
}

bool LoadWorker::init_ring() {
  // One thread submits and reaps: completions' task work deferred to our own
  // io_uring_enter (no interrupting task work mid-turn); older kernels get the plain ring.
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  params.cq_entries = kRingEntries * 8;
  int rc = io_uring_queue_init_params(kRingEntries, &_ring, &params);
  if (rc == -EINVAL) {
    params = {};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = kRingEntries * 8;
    rc = io_uring_queue_init_params(kRingEntries, &_ring, &params);
  }
  if (rc < 0) {
    std::fprintf(stderr, "peregrine-bench: io_uring_queue_init: %s\n", std::strerror(-rc));
    return false;
  }
  _ring_ready = true;
  return true;
}

void LoadWorker::run() {
  if (batch_scheduling(_config)) {
    const sched_param param{};
    if (pthread_setschedparam(pthread_self(), SCHED_BATCH, &param) != 0) {
      _control.abort(Verdict::kError, "SCHED_BATCH refused (try --sched normal)");
      _progress.connect_done.store(true);
      return;
    }
  }
  if (!init_ring()) {
    _control.abort(Verdict::kError, "io_uring could not be set up");
    _progress.connect_done.store(true);
    return;
  }
  if (!init_transport()) {
    _progress.connect_done.store(true);
    return;
  }
  while (true) {
    uint64_t now = base::monotonic_ns();
    const Phase phase = _control.phase.load(std::memory_order_acquire);
    if (phase == Phase::kStop) {
      break;
    }
    loop_turn(phase, now);
    flush_sends();
    const uint64_t timeout = wait_timeout_ns(phase, now);
    if (timeout == 0) {
      io_uring_submit_and_get_events(&_ring);  // runs deferred completions too
    } else {
      __kernel_timespec ts{};
      ts.tv_sec = static_cast<int64_t>(timeout / 1'000'000'000);
      ts.tv_nsec = static_cast<int64_t>(timeout % 1'000'000'000);
      io_uring_cqe* first = nullptr;
      io_uring_submit_and_wait_timeout(&_ring, &first, 1, &ts, nullptr);
    }
    now = base::monotonic_ns();
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&_ring, head, cqe) {
      dispatch(cqe, now);
      seen++;
    }
    io_uring_cq_advance(&_ring, seen);
    flush_delivered();
    _progress.received.store(_stats.received, std::memory_order_relaxed);
    _progress.sent.store(_stats.sent, std::memory_order_relaxed);
  }
  close_all();
  if (_tls != nullptr) {
    // The sessions hold no pointer into the cache; they are freed with _conns, after the
    // ring (whose late completions may still write into connection buffers).
    TlsClientContext::release_thread_caches();
  }
}

void LoadWorker::loop_turn(Phase phase, uint64_t now) {
  if (phase != _seen_phase) {
    _seen_phase = phase;
    for (Connection* c : _publishers) {
      c->phase_work_done = false;
      c->seed_next = 0;
      c->next_due_ns = 0;
    }
  }
  start_connects(now);
  if (now >= _next_housekeeping_ns) {
    _next_housekeeping_ns = now + kHousekeepingNs;
    check_connect_timeouts(now);
    send_pings(now);
  }
  const bool nothing_left = _stop_connecting || _next_connect == _conns.size();
  if (nothing_left && _connecting == 0 && !_progress.connect_done.load()) {
    _progress.connect_done.store(true);
  }
  _lag_blocked = false;
  _next_due_ns = UINT64_MAX;
  switch (phase) {
    case Phase::kRun:
      publish_turn(now);
      break;
    case Phase::kSeed:
      seed_turn(now, false);
      break;
    case Phase::kCleanup:
      seed_turn(now, true);
      break;
    case Phase::kSubscribe:
      subscribe_turn(now);
      break;
    default:
      break;
  }
}

uint64_t LoadWorker::wait_timeout_ns(Phase phase, uint64_t now) const {
  if (phase == Phase::kRun) {
    if (_more_to_publish) {
      return 0;  // a publisher used its whole batch: come straight back
    }
    if (_lag_blocked) {
      return 100'000;  // deliveries on other threads do not wake this ring
    }
    if (_next_due_ns != UINT64_MAX) {
      return _next_due_ns > now ? std::min<uint64_t>(_next_due_ns - now, 1'000'000) : 0;
    }
    return 1'000'000;
  }
  if (_connect_rate > 0 && _next_connect < _conns.size() && !_stop_connecting) {
    return 1'000'000;
  }
  return 10'000'000;
}

// ---- connections ----------------------------------------------------------------------

void LoadWorker::start_connects(uint64_t now) {
  if (_stop_connecting || _next_connect >= _conns.size()) {
    return;
  }
  if (_connect_started_ns == 0) {
    _connect_started_ns = now;
  }
  while (_next_connect < _conns.size() && _connecting < _config.connect_parallel &&
         !_stop_connecting) {
    if (_connect_rate > 0) {
      const double elapsed = static_cast<double>(now - _connect_started_ns) / 1e9;
      if (static_cast<double>(_next_connect) >= elapsed * _connect_rate + 1) {
        return;
      }
    }
    start_connect(*_conns[_next_connect++], now);
  }
}

bool LoadWorker::start_connect(Connection& c, uint64_t now) {
  _stats.connect_attempted++;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const int err = errno;
    note_connect_failure("socket", err);
    _stats.connect_local_fail++;
    c.state = ConnState::kClosed;
    _failed++;
    _progress.failed.store(_failed, std::memory_order_relaxed);
    if (err == EMFILE || err == ENFILE) {
      rlimit limit{};
      getrlimit(RLIMIT_NOFILE, &limit);
      std::snprintf(_stats.stop_reason, sizeof(_stats.stop_reason),
                    "this generator process reached its open-files limit (%llu)",
                    static_cast<unsigned long long>(limit.rlim_cur));
      _stop_connecting = true;
    }
    return false;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (_source_addresses > 1) {
    // Each source address has its own ephemeral port range towards the broker.
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(0x7f000001 + c.global_id % _source_addresses);
    if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
      close(fd);
      _stats.connect_local_fail++;
      c.state = ConnState::kClosed;
      _failed++;
      _progress.failed.store(_failed, std::memory_order_relaxed);
      return false;
    }
  }
  c.fd = fd;
  c.state = ConnState::kConnecting;
  c.connect_start_ns = now;
  if (_stats.first_connect_ns == 0) {
    _stats.first_connect_ns = now;
  }
  _connecting++;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_connect(sqe, fd, reinterpret_cast<sockaddr*>(&c.peer), sizeof(c.peer));
  io_uring_sqe_set_data(sqe, tag(&c, kOpConnect));
  c.ops_in_flight++;
  return true;
}

void LoadWorker::note_connect_failure(const char* what, int err) {
  if (_stats.first_connect_failure[0] == '\0') {
    std::snprintf(_stats.first_connect_failure, sizeof(_stats.first_connect_failure), "%s%s%s",
                  what, err != 0 ? ": " : "", err != 0 ? std::strerror(err) : "");
  }
}

void LoadWorker::on_connected(Connection& c, int res, uint64_t now) {
  if (res < 0) {
    note_connect_failure("connect", -res);
    _stats.connect_refused++;
    fail(c, false);
    return;
  }
  const bool idle = c.role == Role::kIdle;
  const size_t packet = _config.payload_size + c.topic.size() + 256;
  c.in.resize(idle ? kIdleBuffer : std::max(kActiveBuffer, 4 * packet));
  if (_config.transport != Transport::kTcp) {
    start_transport(c);  // the handshakes first; CONNECT once the transport is open
  } else {
    c.state = ConnState::kAwaitConnack;
    stage_connect(c);
  }
  c.last_send_ns = now;
  if (awaiting_connack(c.state)) {  // not failed while starting the transport
    arm_recv(c);
  }
}

void LoadWorker::check_connect_timeouts(uint64_t now) {
  if (_connecting == 0) {
    return;
  }
  const uint64_t limit = seconds_to_ns(_config.connect_timeout_s);
  for (auto& owned : _conns) {
    Connection& c = *owned;
    if (awaiting_connack(c.state) && now - c.connect_start_ns > limit) {
      note_connect_failure(c.state == ConnState::kConnecting     ? "TCP connect timed out"
                           : c.state == ConnState::kTlsHandshake ? "TLS handshake timed out"
                           : c.state == ConnState::kWsUpgrade    ? "no WebSocket 101 in time"
                                                                 : "no CONNACK in time",
                           0);
      _stats.connect_timed_out++;
      fail(c, false);
    }
  }
}

void LoadWorker::fail(Connection& c, bool by_broker) {
  if (c.state == ConnState::kClosing || c.state == ConnState::kClosed) {
    return;
  }
  if (awaiting_connack(c.state)) {
    _connecting--;
  }
  if (!c.counted_ready) {
    _failed++;
    _progress.failed.store(_failed, std::memory_order_relaxed);
  } else if (by_broker) {
    _stats.closed_by_broker++;
    const Phase phase = _control.phase.load(std::memory_order_relaxed);
    if (_config.mode == RunMode::kRetained && phase == Phase::kSeed) {
      // A v3 broker has no way to refuse a retained PUBLISH but hanging up.
      _control.abort(Verdict::kUnsupported,
                     "the broker closed the connection on a retained PUBLISH");
    } else if (_config.mode != RunMode::kConnections && phase != Phase::kStop) {
      _control.abort(Verdict::kError, "the broker closed a connection during the run");
    }
  }
  if (_config.mode == RunMode::kConnections && !c.counted_ready && !_stop_connecting) {
    // Far more failures than a healthy broker gives: it has hit a cap (its open files).
    const uint64_t failures = _stats.connect_refused + _stats.connect_timed_out;
    const uint64_t tolerated = std::max<uint64_t>(16, _conns.size() / 100);
    if (failures >= tolerated) {
      _stop_connecting = true;
      std::snprintf(_stats.stop_reason, sizeof(_stats.stop_reason),
                    "the broker stopped accepting (%llu refused or closed, %llu timed out): "
                    "most likely its own open-files limit",
                    static_cast<unsigned long long>(_stats.connect_refused),
                    static_cast<unsigned long long>(_stats.connect_timed_out));
    }
  }
  c.state = ConnState::kClosing;
  if (c.ops_in_flight > 0) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel_fd(sqe, c.fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data(sqe, nullptr);
  } else {
    op_finished(c);
  }
}

void LoadWorker::mark_ready(Connection& c) {
  c.state = ConnState::kReady;
  if (!c.counted_ready) {
    c.counted_ready = true;
    _ready++;
    _progress.ready.store(_ready, std::memory_order_relaxed);
  }
}

void LoadWorker::send_pings(uint64_t now) {
  if (_config.keep_alive_s == 0) {
    return;
  }
  const uint64_t every = seconds_to_ns(_config.keep_alive_s) / 2;
  for (auto& owned : _conns) {
    Connection& c = *owned;
    if (c.state == ConnState::kReady && now - c.last_send_ns > every && !c.ping_out) {
      stage(c, mqtt::Pingreq{});
    }
  }
}

// ---- ring plumbing --------------------------------------------------------------------

io_uring_sqe* LoadWorker::get_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
  while (sqe == nullptr) {
    // A full submission queue is flushed and retried, never grown.
    io_uring_submit(&_ring);
    sqe = io_uring_get_sqe(&_ring);
  }
  return sqe;
}

void LoadWorker::arm_recv(Connection& c) {
  io_uring_sqe* sqe = get_sqe();
  if (c.transport == nullptr) {
    if (c.in_used == c.in.size()) {
      c.in.resize(c.in.size() * 2);
    }
    io_uring_prep_recv(sqe, c.fd, c.in.data() + c.in_used, c.in.size() - c.in_used, 0);
  } else {
    std::vector<uint8_t>& wire = c.transport->recv_buffer();
    io_uring_prep_recv(sqe, c.fd, wire.data(), wire.size(), 0);
  }
  io_uring_sqe_set_data(sqe, tag(&c, kOpRecv));
  c.ops_in_flight++;
  c.recv_busy = true;
}

void LoadWorker::flush_sends() {
  const uint64_t now = _dirty.empty() ? 0 : base::monotonic_ns();
  for (Connection* c : _dirty) {
    c->dirty = false;
    if (c->send_busy || c->state == ConnState::kClosing || c->state == ConnState::kClosed) {
      continue;
    }
    if (c->transport == nullptr) {
      if (c->staged.empty()) {
        continue;
      }
      std::swap(c->flight, c->staged);
    } else if (!take_wire_bytes(*c)) {
      continue;
    }
    c->flight_sent = 0;
    c->send_busy = true;
    c->last_send_ns = now;
    const std::span<const uint8_t> flight = c->flight_bytes();
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_send(sqe, c->fd, flight.data(), flight.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, tag(c, kOpSend));
    c->ops_in_flight++;
  }
  _dirty.clear();
}

void LoadWorker::dispatch(io_uring_cqe* cqe, uint64_t now) {
  const auto data = reinterpret_cast<uintptr_t>(io_uring_cqe_get_data(cqe));
  auto* c = reinterpret_cast<Connection*>(data & ~kOpMask);
  if (c == nullptr) {
    return;  // cancel requests
  }
  c->ops_in_flight--;
  switch (static_cast<Op>(data & kOpMask)) {
    case kOpConnect:
      if (c->state == ConnState::kClosing) {
        op_finished(*c);
      } else {
        on_connected(*c, cqe->res, now);
      }
      break;
    case kOpRecv:
      on_recv(*c, cqe->res, now);
      break;
    case kOpSend:
      on_send(*c, cqe->res);
      break;
    case kOpNone:
      break;
  }
}

void LoadWorker::on_recv(Connection& c, int res, uint64_t /*now*/) {
  c.recv_busy = false;
  if (c.state == ConnState::kClosing) {
    op_finished(c);
    return;
  }
  if (res <= 0) {
    if (awaiting_connack(c.state)) {
      const bool handshake =
          c.state == ConnState::kTlsHandshake || c.state == ConnState::kWsUpgrade;
      note_connect_failure(res == 0 ? (handshake ? "closed by the broker during the handshake"
                                                 : "closed by the broker before CONNACK")
                                    : "recv before CONNACK",
                           -res);
      _stats.connect_refused++;
    }
    fail(c, true);
    return;
  }
  if (c.transport == nullptr) {
    c.in_used += static_cast<size_t>(res);
  } else if (!on_transport_bytes(c, static_cast<size_t>(res))) {
    return;
  }
  if (handle_packets(c, base::monotonic_ns()) && c.state != ConnState::kClosing) {
    arm_recv(c);
  }
}

void LoadWorker::on_send(Connection& c, int res) {
  c.send_busy = false;
  if (c.state == ConnState::kClosing) {
    op_finished(c);
    return;
  }
  if (res < 0) {
    fail(c, true);
    return;
  }
  c.flight_sent += static_cast<size_t>(res);
  const std::span<const uint8_t> flight = c.flight_bytes();
  if (c.flight_sent < flight.size()) {
    c.send_busy = true;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_send(sqe, c.fd, flight.data() + c.flight_sent, flight.size() - c.flight_sent,
                       MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, tag(&c, kOpSend));
    c.ops_in_flight++;
    return;
  }
  c.clear_flight();
  const bool more =
      !c.staged.empty() || (c.transport != nullptr && !c.transport->wire_out().empty());
  if (more && !c.dirty) {
    c.dirty = true;
    _dirty.push_back(&c);
  }
}

void LoadWorker::op_finished(Connection& c) {
  if (c.state == ConnState::kClosing && c.ops_in_flight == 0) {
    close(c.fd);
    c.fd = -1;
    c.state = ConnState::kClosed;
  }
}

void LoadWorker::close_all() {
  // The ring's teardown cancels whatever is still in flight; the kernel keeps a file
  // alive until its operations are gone, so closing first is safe.
  for (auto& c : _conns) {
    if (c->fd >= 0) {
      close(c->fd);
      c->fd = -1;
    }
  }
  _stats.unique = _stats.received - _stats.duplicated;
}

}  // namespace peregrine::bench
