#include "src/net/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include <atomic>
#include <cerrno>

#include "src/base/assert.h"
#include "src/base/log.h"

namespace peregrine::net {

namespace {
std::atomic<uint64_t> g_next_connection_id{1};
}  // namespace

Connection::Connection(ConnectionHost* host, int fd, PeerAddress peer,
                       const TransportConfig* transport)
    : _host(host), _peer(peer), _id(g_next_connection_id.fetch_add(1)) {
  set_fd(fd);
  if (transport != nullptr && (transport->tls != nullptr || transport->http)) {
    _stack = std::make_unique<TransportStack>(*this, *transport);
  }
}

Connection::~Connection() {
  PG_ASSERT(fd() < 0);
  PG_ASSERT(ring_state.ops_in_flight == 0);
  delete _out;  // normally given back in on_quiesced()
}

void Connection::release_out_if_idle() {
  if (_out != nullptr && !_out->has_pending() && !_out->has_inflight() &&
      !ring_state.send_pending) {
    _host->release_out_queue(_out);
    _out = nullptr;
  }
}

void Connection::start() { _host->ring().start_recv(this); }

// Every write() starts a packet (write_shared() continues one): a drain may cut there.
void Connection::write(std::span<const uint8_t> bytes) {
  if (_state == State::kClosing && !_linger) {
    return;
  }
  OutQueue& out = out_for_protocol();
  out.mark_packet_start();
  out.append_copy(bytes);
  _host->mark_dirty(this);
  send_early_if_large();
}

void Connection::write(std::span<const uint8_t> first, std::span<const uint8_t> second) {
  if (_state == State::kClosing && !_linger) {
    return;
  }
  OutQueue& out = out_for_protocol();
  out.mark_packet_start();
  out.append_copy(first, second);
  _host->mark_dirty(this);
  send_early_if_large();
}

void Connection::write_shared(io::SharedBuffer* owner, std::span<const uint8_t> bytes) {
  if (_state == State::kClosing && !_linger) {
    return;
  }
  out_for_protocol().append_shared(owner, bytes);
  _host->mark_dirty(this);
  send_early_if_large();
}

void Connection::send_early_if_large() {
  if (_out == nullptr || _stack || ring_state.send_pending ||
      _out->pending_bytes() < kEarlySendBytes) {
    return;
  }
  flush();
  _host->ring().submit();
}

void Connection::flush() {
  if (fd() < 0 || _state == State::kDetaching) {
    return;
  }
  if (_state == State::kClosing && !_linger) {
    return;
  }
  if (_stack && _stack->app().has_pending()) {
    _stack->encode(out());  // even with a send in flight: one frame for the whole turn
  }
  if (ring_state.send_pending) {
    return;
  }
  std::span<const iovec> iov = _out != nullptr ? _out->prepare_send() : std::span<const iovec>();
  if (iov.empty()) {
    release_out_if_idle();
    if (_linger) {
      _linger = false;
      start_draining();
    }
    return;
  }
  _host->ring().send(this, _out->send_header());
}

void Connection::start_draining() {
  PG_ASSERT(_state == State::kClosing);
  if (ring_state.stopping || !_host->begin_linger()) {
    _host->ring().stop(this);
    return;
  }
  _draining = true;
  // FIN after what was sent; the receive side stays open for what the peer still sends.
  _host->ring().shutdown_write(this);
  if (_input_paused) {
    _input_paused = false;
    _host->ring().resume_recv(this);
  }
}

void Connection::on_recv(std::span<const uint8_t> data) {
  if (_state == State::kClosing) {
    // Input after our goodbye is discarded; while draining, up to a bound.
    if (_draining && !_drain_unbounded) {
      _drained_bytes += static_cast<uint32_t>(std::min<size_t>(data.size(), kLingerBytes));
      if (_drained_bytes >= kLingerBytes) {
        close_now();
      }
    }
    return;
  }
  if (_stack) {
    _stack->receive(data);
    return;
  }
  on_data(data);
}

void Connection::on_recv_end(int error) {
  if (_state == State::kDetaching) {
    return;  // the move goes on; the new shard will see the end itself
  }
  begin_close(error);
  close_now();
}

void Connection::on_send_done(int result) {
  if (result < 0) {
    if (result != -ECANCELED) {
      PG_DEBUG("send to %s failed: %d", peer().c_str(), result);
    }
    begin_close(result);
    close_now();
    return;
  }
  PG_ASSERT(_out != nullptr);
  _out->consume(static_cast<size_t>(result));
  _host->count_bytes_out(static_cast<size_t>(result));
  if (_cut_after_send) {
    _cut_after_send = false;
    _host->count_dropped_at_drain(_out->cut_inflight());
  }
  if (_out->has_inflight() || _out->has_pending() || _linger) {
    _host->mark_dirty(this);
  } else {
    release_out_if_idle();
  }
}

size_t Connection::drop_unsent_output() {
  if (_out == nullptr && !_stack) {
    return 0;
  }
  size_t dropped = _stack ? _stack->drop_unsent(out()) : _out->drop_pending();
  if (_out != nullptr && (!_stack || _stack->wire_cuttable())) {
    if (ring_state.send_pending) {
      _cut_after_send = true;  // the kernel may be reading those bytes now
    } else {
      dropped += _out->cut_inflight();
    }
  }
  return dropped;
}

void Connection::begin_close(int error) {
  if (!_close_reported) {
    _close_reported = true;
    on_transport_closed(error);
  }
}

void Connection::close_after_flush() {
  if (_state == State::kClosing) {
    return;
  }
  begin_close(0);
  _state = State::kClosing;
  _linger = true;
  if (_stack) {
    _stack->closing(out());  // WebSocket Close, TLS close_notify after what is queued
  }
  _host->wheel().cancel(*this);
  // A reader that never drains, or a peer that never stops sending, must not hold the
  // slot forever: the timer ends both the flush and the linger (a subclass's on_timer
  // calls close_now() when closing()).
  _host->wheel().arm(*this, _host->now_ms() + kLingerMs);
  _host->mark_dirty(this);
}

void Connection::linger_for_shutdown(uint64_t linger_ms) {
  if (_state != State::kClosing || (!_linger && !_draining)) {
    return;  // closed outright, or not closing
  }
  _drain_unbounded = true;
  _host->wheel().cancel(*this);
  _host->wheel().arm(*this, _host->now_ms() + linger_ms);
}

void Connection::close_now() {
  begin_close(0);
  _linger = false;
  if (_state == State::kClosing && ring_state.stopping) {
    return;
  }
  _state = State::kClosing;
  _host->wheel().cancel(*this);
  // Shut the socket down so an in-flight send or recv completes promptly.
  shutdown(fd(), SHUT_RDWR);
  _host->ring().stop(this);
}

void Connection::pause_input() {
  if (_state == State::kOpen && !_input_paused) {
    _input_paused = true;
    _host->ring().pause_recv(this);
  }
}

void Connection::resume_input() {
  if (_input_paused) {
    _input_paused = false;
    if (_state == State::kOpen) {
      _host->ring().resume_recv(this);
    }
  }
}

void Connection::detach() {
  PG_ASSERT(_state == State::kOpen);
  _state = State::kDetaching;
  _host->wheel().cancel(*this);
  if (_stack) {
    _stack->stop_timers(_host->wheel());
  }
  _host->ring().stop(this);
}

void Connection::attach(ConnectionHost* host) {
  PG_ASSERT(_state == State::kDetaching);
  _host = host;
  _state = State::kOpen;
  ring_state = {};
  if (_stack) {
    _stack->resume_timers(_host->wheel());
  }
  if ((_out != nullptr && _out->has_pending()) || (_stack && _stack->app().has_pending())) {
    _host->mark_dirty(this);  // e.g. a TLS 1.3 session ticket written just before the move
  }
}

void Connection::on_admin(const http::AdminCall&) {
  close_after_flush();  // nothing here serves the admin API
}

void Connection::on_page(http::OperatorPage) {
  close_after_flush();  // nothing here makes operator pages
}

void Connection::answer_page(int status, std::string_view content_type, std::string_view body) {
  if (_stack != nullptr) {
    _stack->answer_page(status, content_type, body);
  }
}

void Connection::resume_held_request() {
  if (_stack != nullptr && open()) {
    _stack->resume_held_request();
  }
}

void Connection::answer_admin(int status, std::string_view json_body) {
  if (_stack != nullptr) {
    _stack->answer_admin(status, json_body);
  }
}

void Connection::stack_failed(TransportEvent event, const std::string& why) {
  _host->count_transport_event(event);
  PG_DEBUG("transport failure from %s: %s: %s", peer().c_str(), transport_event_name(event),
           why.c_str());
  close_after_flush();  // what a layer owes the peer (alert, Close, HTTP error) goes first
}

void Connection::transport_timeout() {
  if (_state == State::kClosing) {
    return;
  }
  _host->count_transport_event(TransportEvent::kTlsHandshakeTimeout);
  PG_DEBUG("tls handshake timeout from %s", peer().c_str());
  close_now();
}

void Connection::on_quiesced() {
  if (_state == State::kDetaching) {
    _host->detached(this);
    return;
  }
  PG_ASSERT(_state == State::kClosing);
  if (_draining) {
    _draining = false;
    _host->end_linger();
  }
  _host->wheel().cancel(*this);
  if (_stack) {
    _stack->stop_timers(_host->wheel());
  }
  ::close(fd());
  set_fd(-1);
  if (_out != nullptr) {
    _out->clear();
    _host->release_out_queue(_out);
    _out = nullptr;
  }
  _host->release(this);
}

}  // namespace peregrine::net
