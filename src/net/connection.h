// A client connection: socket, outbound queue and timer, on the shard that currently owns
// it (the accepting shard until CONNECT, then the session's home shard). A connection
// moves between shards only when quiesced (no ring operation names it). The protocol on
// top (MQTT) subclasses it; transport layers (TLS, WebSocket: a TransportStack, absent on
// plain TCP) sit between on_recv() and on_data(), and between write*() and the socket.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "src/io/ring.h"
#include "src/io/shared_buffer.h"
#include "src/io/socket.h"
#include "src/io/timer_wheel.h"
#include "src/net/listener.h"
#include "src/net/out_queue.h"
#include "src/net/transport_stack.h"

namespace peregrine::net {

class Connection;

// What a connection needs from the shard that owns it.
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  virtual io::Ring& ring() = 0;
  virtual io::TimerWheel& wheel() = 0;
  virtual uint64_t now_ms() const = 0;
  // The connection has output to flush at the end of this loop turn.
  virtual void mark_dirty(Connection* connection) = 0;
  // Closed and quiesced: the host frees it (its fd is already closed).
  virtual void release(Connection* connection) = 0;
  // Stopped for a move to another shard and quiesced: the host posts it onward.
  virtual void detached(Connection* connection) = 0;
  // Bytes the kernel took from this host's connections (for statistics).
  virtual void count_bytes_out(size_t bytes) { (void)bytes; }
  // Output dropped by a drain after the send that held it came back.
  virtual void count_dropped_at_drain(size_t bytes) { (void)bytes; }
  // A transport layer failed or refused a connection (for statistics).
  virtual void count_transport_event(TransportEvent event) { (void)event; }
  // Lingering closes (close_after_flush): a connection asks before it lingers, reading
  // and discarding its peer's input, and says when it is done. A host bounds how many
  // linger at once; refused, the connection closes as soon as its output is written.
  virtual bool begin_linger() { return true; }
  virtual void end_linger() {}
  // Whether the broker takes traffic (/readyz; the HTTP front refuses with 503 while not).
  virtual http::Readiness readiness() const { return {true, false, "ready"}; }
  // The names (TLS SNI, HTTP Host) this host refuses connections for, if any (virtual
  // brokers with unmatched connections refused); nullptr: it refuses none.
  virtual const ServedNames* served_names() const { return nullptr; }
  // Send queues: a connection holds one only while it has output, so an idle connection
  // costs a pointer; a host may keep released queues for reuse.
  virtual OutQueue* acquire_out_queue() { return new OutQueue(); }
  virtual void release_out_queue(OutQueue* queue) { delete queue; }
};

class Connection : public io::Socket, public io::Timer {
 public:
  // `transport`: the layers of the listener it came from (nullptr: plain TCP).
  Connection(ConnectionHost* host, int fd, PeerAddress peer,
             const TransportConfig* transport = nullptr);
  ~Connection() override;

  std::string peer() const { return _peer.text(); }  // for logs
  const PeerAddress& peer_address() const { return _peer; }
  uint64_t id() const { return _id; }
  bool closing() const { return _state == State::kClosing; }
  bool open() const { return _state == State::kOpen; }
  size_t queued_bytes() const {
    return (_out != nullptr ? _out->queued_bytes() : 0) +
           (_stack ? _stack->app().queued_bytes() : 0);
  }
  // The transport layers, if any (facts learned in their handshakes).
  const TransportStack* transport() const { return _stack.get(); }
  // Answers this connection's admin call (see on_admin); dropped if it closed meanwhile.
  void answer_admin(int status, std::string_view json_body);
  // Answers this connection's operator page (see on_page), likewise.
  void answer_page(int status, std::string_view content_type, std::string_view body);
  // The broker is ready: a request its HTTP front held while it started goes on.
  void resume_held_request();

  void start();  // begin receiving on the current host's ring
  void write(std::span<const uint8_t> bytes);
  // write(first) then write(second), as one copy into the send queue.
  void write(std::span<const uint8_t> first, std::span<const uint8_t> second);
  void write_shared(io::SharedBuffer* owner, std::span<const uint8_t> bytes);
  // Whether write_shared() of `size` bytes would copy them (OutQueue::copies).
  bool copies_shared(size_t size) const {
    const OutQueue* queue = _stack ? &_stack->app() : _out;
    return queue != nullptr ? queue->copies(size) : size <= OutQueue::kCopyUpTo;
  }
  // Sends what is queued (called by the host once per loop turn for dirty connections).
  void flush();
  // Closes after queued output is written, then lingers: our side is shut down for
  // writing and the peer's input is read and discarded until it closes, kLingerBytes
  // arrive, or the linger timeout (kLingerMs from this call) passes. A peer still
  // sending when we close would otherwise get a reset, and a reset lets its kernel
  // drop what we sent last (a DISCONNECT with its reason code) before it is read.
  void close_after_flush();
  static constexpr uint64_t kLingerMs = 2000;
  static constexpr size_t kLingerBytes = 256 * 1024;
  // The broker is stopping: a connection closing after its goodbye lingers `linger_ms`
  // from now, discarding however much its peer still sends (a busy publisher sends until
  // it reads the DISCONNECT; closed with its input unread, it would get a reset).
  void linger_for_shutdown(uint64_t linger_ms);
  // Closes now, dropping queued output.
  void close_now();
  // Stopping: drops the output no send has taken yet, whole packets only, so that the
  // goodbye written next does not wait behind megabytes a slow reader would need seconds
  // for: the pending generation now, and the in-flight one from its first packet mark
  // after what the kernel took (at once, or when the send outstanding completes; those
  // bytes reach ConnectionHost::count_dropped_at_drain). transport_stack.h says what TLS
  // keeps. Returns the bytes dropped now.
  size_t drop_unsent_output();
  // Back-pressure: stop and restart reading from the socket.
  void pause_input();
  void resume_input();
  bool input_paused() const { return _input_paused; }
  // Stops I/O so the connection can move to another shard; host.detached() follows.
  void detach();
  // Adopted by the shard it moved to.
  void attach(ConnectionHost* host);
  // A transport deadline passed (TLS handshake timeout): counted, closed.
  void transport_timeout();

  bool dirty = false;  // owned by the host's dirty list

 protected:
  ConnectionHost& host() { return *_host; }
  // Bytes for the protocol layer (only while open or detaching).
  virtual void on_data(std::span<const uint8_t> bytes) = 0;
  // The transport ended (peer closed, error, or close_*()); called once, before release.
  virtual void on_transport_closed(int error) = 0;
  // An admin API call from the HTTP front, authenticated; answered later (never from
  // within this call) with answer_admin(). Without an override: 404.
  virtual void on_admin(const http::AdminCall& call);
  // An operator's page (/metrics, /status) from the HTTP front; answered later with
  // answer_page(). Without an override: 404.
  virtual void on_page(http::OperatorPage page);
  // The HTTP front upgraded the connection to WebSocket: the protocol starts now.
  virtual void on_upgraded() {}

 private:
  enum class State : uint8_t { kOpen, kDetaching, kClosing };

  // For the TransportStack.
  friend class TransportStack;
  OutQueue& wire() { return out(); }
  void stack_deliver(std::span<const uint8_t> bytes) { on_data(bytes); }
  void stack_admin(const http::AdminCall& call) { on_admin(call); }
  void stack_page(http::OperatorPage page) { on_page(page); }
  http::Readiness stack_readiness() const { return _host->readiness(); }
  void stack_wrote() { _host->mark_dirty(this); }
  void stack_finished() { close_after_flush(); }
  void stack_failed(TransportEvent event, const std::string& why);
  OutQueue& out_for_protocol() { return _stack ? _stack->app() : out(); }
  // A plain connection that has queued kEarlySendBytes this turn with no send in flight
  // sends them now, while they are in cache, rather than at the turn's end: the kernel
  // copied a fan-in subscriber's ~700 KB turn from a cold arena at a third of the speed
  // it copies small, fresh sends.
  static constexpr size_t kEarlySendBytes = 128 * 1024;
  void send_early_if_large();
  OutQueue& out() {
    if (_out == nullptr) {
      _out = _host->acquire_out_queue();
    }
    return *_out;
  }
  // Gives an empty send queue back to the host.
  void release_out_if_idle();

  void on_recv(std::span<const uint8_t> data) override;
  void on_recv_end(int error) override;
  void on_send_done(int result) override;
  void on_quiesced() override;
  void begin_close(int error);
  // Output written after close_after_flush(): drain the peer's input, or close now.
  void start_draining();

  ConnectionHost* _host;
  PeerAddress _peer;
  OutQueue* _out = nullptr;  // only while there is output (see acquire_out_queue)
  std::unique_ptr<TransportStack> _stack;
  uint64_t _id;
  State _state = State::kOpen;
  bool _linger = false;          // close once the queue is written
  bool _draining = false;        // written and shut down for writing: discarding input
  uint32_t _drained_bytes = 0;   // input discarded while draining (up to kLingerBytes)
  bool _drain_unbounded = false;  // stopping: no byte bound, only the timer
  bool _cut_after_send = false;   // stopping: cut the in-flight output once the send is back
  bool _close_reported = false;  // on_transport_closed() has been called
  bool _input_paused = false;
};

}  // namespace peregrine::net
