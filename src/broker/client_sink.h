// What the MQTT side of a connection (Client, the protocol machine) uses of the
// connection under it: its send queue, its life (close, pause, detach to move to another
// shard, start reading again), its one timer and the clock, and what the transport
// learned of the peer. ClientConnection implements it over a net::Connection; a test or
// a simulation can implement it over anything. Used on the connection's shard only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "src/io/shared_buffer.h"
#include "src/net/tls_context.h"

namespace peregrine::broker {

class ClientSink {
 public:
  virtual uint64_t connection_id() const = 0;
  virtual std::string peer() const = 0;  // for logs
  // Who it is at the network level: the key per-address limits count it under
  // (AddressCounts::key_of; 0: unknown, never limited).
  virtual uint64_t peer_key() const = 0;

  // Output, queued and sent by the connection at the turn's end.
  virtual void write(std::span<const uint8_t> bytes) = 0;
  virtual void write(std::span<const uint8_t> first, std::span<const uint8_t> second) = 0;
  virtual void write_shared(io::SharedBuffer* owner, std::span<const uint8_t> bytes) = 0;
  virtual size_t queued_bytes() const = 0;
  // Whether write_shared() of `size` bytes would copy them rather than reference them.
  virtual bool copies_shared(size_t size) const = 0;
  // The QoS 0 fast path in one call (one per subscriber of a fan-out): `head`, then
  // `payload` — copied, or `shared`'s bytes referenced (write_shared) when `shared` is
  // given — unless the connection is closing or its queue would pass `limit` bytes.
  enum class Bounded : uint8_t { kWritten, kClosing, kOverLimit };
  virtual Bounded write_within(size_t limit, std::span<const uint8_t> head,
                               std::span<const uint8_t> payload,
                               io::SharedBuffer* shared) = 0;

  virtual bool open() const = 0;     // reading and writing
  virtual bool closing() const = 0;  // a close has begun
  virtual void close_after_flush() = 0;
  virtual void close_now() = 0;
  // Back-pressure: stop and restart reading.
  virtual void pause_input() = 0;
  virtual void resume_input() = 0;
  virtual bool input_paused() const = 0;
  // Stop all I/O: the connection moves to another shard (its host's detached() follows).
  virtual void detach() = 0;
  // Read (again, after a move).
  virtual void start() = 0;

  // The protocol's one timer (connect timeout, keep alive): (re)armed or cancelled.
  virtual void arm_timer(uint64_t deadline_ms) = 0;
  virtual void cancel_timer() = 0;
  virtual uint64_t now_ms() const = 0;

  // A verified TLS client certificate's identity ("" if none) and what the listener
  // makes of it.
  virtual const std::string& peer_identity() const = 0;
  virtual net::TlsIdentity tls_identity() const = 0;
  // What the transport learned that names a virtual broker: the TLS SNI and the HTTP
  // Host ("" when none).
  virtual std::string_view server_name() const = 0;
  virtual std::string_view http_host() const = 0;

 protected:
  ~ClientSink() = default;
};

}  // namespace peregrine::broker
