// The MQTT protocol machine of one connection: bytes in (on_bytes), packets and actions
// out through its ClientSink (the connection under it) and its BrokerPort (the shard's
// broker), one timer (connect timeout, keep alive). Framing, CONNECT and enhanced
// authentication, the inbound PUBLISH and QoS 1/2 flows of 3.1, 3.1.1 and 5.0, topic
// aliases, outgoing PUBLISH heads, wills. It knows no socket: ClientConnection owns it.
// Lives on the shard that owns its connection; after CONNECT that is the shard its
// session lives on (its home, or where the broker rehomed it). Input waiting for a
// packet's end is buffered up to the maximum packet size; output is bounded by the
// broker's outbound limit.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "include/peregrine/enhanced_auth.h"
#include "src/base/optional_string.h"
#include "src/broker/broker_port.h"
#include "src/broker/client_link.h"
#include "src/broker/client_limits.h"
#include "src/broker/client_sink.h"
#include "src/broker/connection_slots.h"
#include "src/broker/message.h"
#include "src/broker/rehome_policy.h"
#include "src/broker/route_memo.h"
#include "src/broker/session.h"
#include "src/broker/topic_aliases.h"
#include "src/mqtt/codec.h"
#include "src/mqtt/scope.h"

namespace peregrine::broker {

class Client final : public ClientLink {
 public:
  enum class Phase : uint8_t { kAwaitConnect, kMigrating, kAuthenticating, kConnected, kGone };

  Client(BrokerPort* broker, ClientSink& sink);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Phase phase() const { return _phase; }
  BrokerPort& broker() const { return *_broker; }  // of the shard it is on now
  mqtt::ProtocolVersion version() const override { return _version; }
  // Its session's once CONNECT is accepted (the client keeps no copy of its own then).
  const std::string& client_id() const {
    return _session != nullptr ? _session->client_id() : _client_id.value_or_empty();
  }
  // The client id as the client knows it (client_id() is its key: scoped in a virtual
  // broker, src/mqtt/scope.h).
  std::string_view visible_client_id() const { return mqtt::unscoped(client_id()); }
  // Its virtual broker's scope ("": the default broker), once chosen at CONNECT.
  std::string_view scope() const {
    return _session != nullptr ? _session->scope() : std::string_view(_scope.value_or_empty());
  }
  uint32_t max_packet_size() const { return _max_packet_size; }
  Session* session() const { return _session; }
  uint32_t will_delay() const { return _will_delay; }
  bool taken_over() const { return _taken_over; }
  // Whether the shard's shared QoS 0 heads fit this client (no outbound aliases).
  bool takes_shared_heads() const override { return _out_aliases == nullptr; }
  void mark_taken_over() { _taken_over = true; }
  // On its way to another shard: before CONNECT (to its session), or connected, with its
  // session (rehoming: the phase stays kConnected, so sends and acks still work until
  // the move).
  bool moving() const { return _phase == Phase::kMigrating || _rehome_to != kNoShard; }
  bool rehoming() const override { return _rehome_to != kNoShard; }
  uint16_t rehome_target() const { return _rehome_to; }
  // The broker moves this connected client and its session to `shard` once the packet
  // being handled is done: input stops there and the rest goes along.
  void begin_rehome(uint16_t shard) { _rehome_to = shard; }
  void rehome_done() {
    _rehome_to = kNoShard;
    _publish_run = {};
  }
  PublishRun& publish_run() { return _publish_run; }
  // When its latest bytes were read (monotonic ms).
  uint64_t last_rx_ms() const { return _last_rx_ms; }
  // The match of its last PUBLISH's topic (nullptr until the broker keeps one).
  std::unique_ptr<RouteMemo>& route_memo() { return _route_memo; }
  // A retained message's owner shard answered (RetainOutcome::kLater): the acknowledgement
  // waiting under `token` goes out, with those behind it, in the order the PUBLISHes
  // came [MQTT-4.6.0-2/3].
  void retain_answer(uint32_t token, bool stored);
  // The durable sessions' writes for the PUBLISH (or PUBREL) under `token` are on disk
  // (`written`), or failed: a v5 client gets 0x97, a 3.1.1 client's connection closes.
  void durable_answer(uint32_t token, bool written);
  // An acknowledgement whose write failed and that has no way to say so (a 3.1.1
  // UNSUBACK): the connection closes, unanswered; the client sends it again.
  void close_unanswered(const char* what) { fail(mqtt::ReasonCode::kUnspecifiedError, what); }
  // Acknowledgements wait for such an answer, or for durable writes: a rehoming client
  // moves only once they are answered (they come to this shard).
  bool awaits_retain_answers() const { return _held_acks != nullptr && !_held_acks->acks.empty(); }

  void begin();  // accepted: arm the connect timeout, start reading
  // The listener it came through (ConnectionSlots), set once by its connection.
  void set_listener(uint16_t listener) { _listener = listener; }
  // Arrived, before CONNECT was accepted, on the shard its session lives on (or its home).
  void adopt(BrokerPort* broker);
  // Arrived connected, with its session, on the shard the broker moved it to.
  void adopt_rehomed(BrokerPort* broker);

  // From the connection: MQTT bytes as they come from the transport (counted here, once),
  // the transport's end, and the machine's timer.
  void on_bytes(std::span<const uint8_t> bytes);
  void on_closed(int error);
  void on_timer();
  bool awaiting_connect() const { return _phase == Phase::kAwaitConnect; }
  // The transport became MQTT only now (a WebSocket upgrade): CONNECT has its full time
  // from here, whatever HTTP took before.
  void restart_connect_deadline();
  uint64_t connect_deadline_ms() const { return _connect_deadline_ms; }

  // Its connection, as the broker asks after it.
  uint64_t id() const { return _sink.connection_id(); }
  std::string peer() const { return _sink.peer(); }
  bool open() const { return _sink.open(); }
  bool input_paused() const { return _sink.input_paused(); }
  // Bytes written as they are (a SUBACK encoded ahead of time).
  void write(std::span<const uint8_t> bytes) { _sink.write(bytes); }
  // Encodes `packet` into `out` within the client's Maximum Packet Size [MQTT-3.1.2-24],
  // leaving out its Reason String and User Properties first if they make it too large
  // [MQTT-3.1.2-25]. False when even the bare packet is too large: it must not be sent,
  // and the caller closes the connection (close_oversize) instead.
  bool encode_within_limit(const mqtt::Packet& packet, std::vector<uint8_t>& out) const;
  // Closes without the packet that did not fit, counted.
  void close_oversize();

  // ClientLink: what its session and fan-out use.
  uint64_t connection_id() const override { return _sink.connection_id(); }
  size_t queued_bytes() const override { return _sink.queued_bytes(); }
  bool copies_shared(size_t size) const override { return _sink.copies_shared(size); }
  // Sends `packet` encoded for this client's version and within its Maximum Packet Size;
  // closes without it if it cannot fit.
  void send_packet(const mqtt::Packet& packet) override;
  // PUBACK, PUBREC, PUBREL or PUBCOMP with reason Success and no properties.
  void send_success_ack(mqtt::PacketType type, uint16_t packet_id) override;
  // PUBLISH of a delivery with QoS > 0 (counted against the session's window).
  void send_publish(const Delivery& delivery, uint16_t packet_id, bool dup) override;
  // QoS 0 PUBLISH, dropped (and counted) when over the outbound buffer limit.
  void send_qos0(const Delivery& delivery) override;
  // The fan-out fast path: QoS 0, no per-subscriber fields, the head shared by every
  // subscriber of this client's layout.
  void send_qos0_shared(Message* message, std::span<const uint8_t> head) override;
  // The same for a message that exists only in its publisher's read buffer: `head` and
  // `payload` are copied.
  void send_qos0_copy(std::span<const uint8_t> head,
                      std::span<const uint8_t> payload) override;
  // Whether a delivery fits within the client's Maximum Packet Size [MQTT-3.1.2-24].
  bool fits(const Delivery& delivery) override;
  void take_over() override;
  // Server-initiated end: v5 gets DISCONNECT `reason`, then the connection closes.
  void disconnect(mqtt::ReasonCode reason, const char* why = nullptr);
  // v5 Request Problem Information: reason strings and user properties allowed on acks.
  bool problem_information() const { return _problem_information; }
  // The shard's overflow drained: read again, starting with what was buffered.
  void resume_after_backpressure();
  // The broker answers the packet just handled later (a SUBSCRIBE waiting for other
  // shards, a CONNACK for the disk): nothing after it is read until release_input(), at
  // the turn's end — no other resume (back-pressure, held acknowledgements) reads on
  // meanwhile.
  void hold_input() {
    _input_held = true;
    _sink.pause_input();
  }
  void release_input() {
    _input_held = false;
    broker().resume_at_turn_end(this);
  }
  // Takes the will for publishing (nullptr if none or a clean DISCONNECT dropped it).
  Message* take_will();

 private:
  // Handles input: fresh bytes, or those held in _in over a pause or a move (counted
  // when they were read, so not again).
  void take_input(std::span<const uint8_t> bytes);
  size_t process(std::span<const uint8_t> data);
  // With a packet begun in an earlier read waiting in _in: completes it from the front of
  // `bytes` (copying only what it lacks) and handles it; returns the bytes not taken, to
  // be handled in place. Copying a whole read behind a partial packet was most of a
  // fan-in broker's memmove time.
  std::span<const uint8_t> finish_pending_packet(std::span<const uint8_t> bytes);
  // After process(_in.bytes()) handled `used` of them (process() never touches _in, so
  // its bytes can be handled where they lie).
  void consume_pending(size_t used);
  void start_migration_if_due();
  // After a move: reads again, first what came along in _in.
  void start_with_pending();
  void note_connect_version(const mqtt::FixedHeader& header, mqtt::Bytes data);
  bool handle_packet(const mqtt::FixedHeader& header, mqtt::Bytes body);
  bool handle_connect(const mqtt::FixedHeader& header, mqtt::Bytes body);
  bool accept_connect(const mqtt::Connect& connect);
  bool check_connect(const mqtt::Connect& connect);
  // Gives the connection its virtual broker (by listener, SNI, Host) before anything of
  // its CONNECT is used; refuses it (CONNACK 0x88, 3.1.1: 3) when none takes it.
  bool choose_broker();
  // Asks the shard's Authenticator once (the home shard reads a migrated CONNECT again):
  // refuses (CONNACK 0x86/0x87, counted by reason) or records what was proven.
  bool authenticate(const mqtt::Connect& connect);
  // The credential's expiry (shard clock), or 0.
  uint64_t credential_deadline_ms() const;
  // A will must be a message the credential could publish (0x87 otherwise).
  bool check_will_grant(const mqtt::Connect& connect);
  void send_connack(mqtt::ReasonCode reason, const mqtt::Connect* connect, bool present,
                    const char* why = nullptr);
  // The CONNACK send_connack() would send, encoded within the client's limit (false if
  // it cannot fit); `expiry` is the session's expiry as granted.
  bool encode_connack(mqtt::ReasonCode reason, const mqtt::Connect* connect, bool present,
                      const char* why, uint32_t expiry, std::vector<uint8_t>& out) const;
  bool handle_publish(const mqtt::FixedHeader& header, mqtt::Bytes body);
  bool handle_ack(const mqtt::Ack& ack);
  // The PUBLISH a delivery becomes on this connection (per-subscriber fields filled in).
  // With `assign_alias`, an outbound topic alias is assigned or reused (LRU state moves).
  mqtt::Publish outgoing(const Delivery& delivery, uint16_t packet_id, bool dup,
                         bool assign_alias);
  bool resolve_topic_alias(mqtt::Publish& publish);
  bool refuse_publish(const mqtt::Publish& publish);
  // PUBACK or PUBREC for a PUBLISH, after any still waiting for a retained answer; an
  // error reason ends a QoS 2 flow (its packet id is free again).
  // `why`: the Reason String (v5, when problem information is asked), or nullptr.
  void acknowledge(mqtt::PacketType type, uint16_t packet_id, mqtt::ReasonCode reason,
                   const char* why);
  void send_ack_now(mqtt::PacketType type, uint16_t packet_id, mqtt::ReasonCode reason,
                    const char* why);
  // A token for an acknowledgement that waits (below 2^31: mail carries 31 bits).
  // With persistence, a CONNACK waits for the records that make what it says true (an
  // old session's end after a clean start, the new one's image; BrokerPort::
  // connack_ticket): false when it may go now.
  bool hold_connack(const mqtt::Connect& connect, uint64_t records_before, bool present);
  void release_connack();
  uint32_t next_answer_token();
  // One answer for the held acknowledgement under `token`; those decided go out in order.
  void answered(uint32_t token, mqtt::ReasonCode refusal, const char* why);
  struct HeldAck;
  void answered_now(HeldAck& held);
  // Enhanced authentication (v5 §4.12): at CONNECT, and re-authentication after it.
  bool begin_enhanced_auth(const mqtt::FixedHeader& header, mqtt::Bytes body,
                           const mqtt::Connect& connect);
  bool handle_auth(const mqtt::Auth& auth);
  bool finish_enhanced_auth(AuthStep step);
  bool over_outbound_limit(size_t size);
  // A QoS 0 PUBLISH out now if connected, within Maximum Packet Size and the outbound
  // limit (drops are counted): `payload` copied, or `shared`'s referenced.
  void send_qos0_within(std::span<const uint8_t> head, std::span<const uint8_t> payload,
                        io::SharedBuffer* shared);
  void handle_disconnect(const mqtt::Disconnect& disconnect);
  // Bad input: answer per spec (v5 CONNACK/DISCONNECT with `reason`, v3 close), count,
  // log at debug. Returns false so callers can `return fail(...)`.
  bool fail(mqtt::ReasonCode reason, const char* what);
  void arm_keep_alive();
  // A verified TLS client certificate's identity, applied as client id or username.
  void apply_tls_identity(const mqtt::Connect& connect);


  // Enhanced authentication (v5 §4.12), allocated only for a client that uses it: the
  // running exchange, the method, the CONNECT it holds back (copied, decoded again on
  // success), and what CONNACK tells on success.
  struct EnhancedAuth {
    std::unique_ptr<AuthExchange> exchange;
    std::string method;
    std::vector<uint8_t> held_connect;
    uint8_t held_connect_flags = 0;
    std::vector<uint8_t> reply;
  };
  // Input bytes waiting: a packet's start until its end comes, what arrives during a
  // move or while paused. Allocated only while there are some.
  class PendingInput {
   public:
    bool empty() const { return _bytes == nullptr; }
    size_t size() const { return _bytes != nullptr ? _bytes->size() : 0; }
    std::span<const uint8_t> bytes() const {
      return _bytes != nullptr ? std::span<const uint8_t>(*_bytes) : std::span<const uint8_t>();
    }
    void append(std::span<const uint8_t> bytes);
    // Drops the first `n` bytes (handled); the memory goes once none are left.
    void consume(size_t n);
    // Takes the bytes out, leaving it empty.
    std::vector<uint8_t> take();

   private:
    std::unique_ptr<std::vector<uint8_t>> _bytes;  // never empty
  };

  // Largest first, so that an idle connection pays for no padding: every connected
  // client carries one of these (bench/compare's RSS per connection).
  BrokerPort* _broker;
  // Its connection slot (connection_slots.h): taken when its CONNECT is accepted, given
  // back when it dies; nullptr while it holds none.
  ConnectionSlots* _slot = nullptr;
  uint16_t _listener = ConnectionSlots::kNoListener;
  uint64_t _address_key = 0;  // counted in _slot's AddressCounts under it (0: not)
  ClientSink& _sink;
  base::OptionalString _client_id;  // until the session holds it (scoped, as it)
  base::OptionalString _scope;      // its virtual broker's, until the session holds it (in its key)
  std::unique_ptr<EnhancedAuth> _enhanced;
  base::OptionalString _auth_username;
  // What authentication proved, until the session takes it at CONNACK.
  std::unique_ptr<ProvenIdentity> _proven;
  std::unique_ptr<InboundAliases> _in_aliases;    // v5 with aliases on only
  std::unique_ptr<OutboundAliases> _out_aliases;  // v5 client that accepts aliases
  Session* _session = nullptr;
  std::unique_ptr<RouteMemo> _route_memo;  // allocated on its first PUBLISH
  // Acknowledgements held behind one that waits for answers (a retained message's owner
  // shard, the durable sessions' writes), in PUBLISH order. Bounded by our Receive
  // Maximum (beyond: DISCONNECT 0x93, as the client may not have more unacknowledged);
  // allocated on the first wait.
  struct HeldAck {
    mqtt::PacketType type;
    uint16_t packet_id;
    uint32_t token;  // 0: decided, `reason` holds the answer
    mqtt::ReasonCode reason;
    const char* why;  // the Reason String that goes with it (v5 problem information)
    uint8_t waits;    // answers still to come
  };
  struct HeldAcks {
    std::deque<HeldAck> acks;
    uint32_t next_token = 1;  // below 2^31 (RetainAnswer carries 31 bits)
    // A CONNACK that waits for its session's records (hold_connack), encoded, and the
    // answer token its write comes back under (0: none waits). Input is paused meanwhile,
    // so nothing the client sends is answered before it.
    std::vector<uint8_t> connack;
    uint32_t connack_token = 0;
  };
  std::unique_ptr<HeldAcks> _held_acks;
  Message* _will = nullptr;
  PendingInput _in;
  uint64_t _last_rx_ms = 0;
  uint64_t _connect_deadline_ms = 0;
  PublishRun _publish_run;  // where its messages went lately (rehome_policy.h)
  PacketRate _packet_rate;  // [limits] max_packets_per_second, once connected
  uint32_t _max_packet_size = 0;  // the client's limit (v5); 0: none
  uint32_t _requested_expiry = 0;
  uint32_t _will_delay = 0;
  uint16_t _keep_alive = 0;
  uint16_t _server_keep_alive = 0;  // v5: the keep alive we imposed (0: the client's)
  uint16_t _rehome_to = kNoShard;
  Phase _phase = Phase::kAwaitConnect;
  mqtt::ProtocolVersion _version = mqtt::ProtocolVersion::kV311;
  bool _version_known : 1 = false;  // a CONNECT got far enough to tell its version
  bool _id_assigned : 1 = false;
  bool _problem_information : 1 = true;    // v5 Request Problem Information
  bool _response_information : 1 = false;  // v5 Request Response Information
  bool _taken_over : 1 = false;
  bool _paused_for_acks : 1 = false;  // 3.1.1: input stopped until held acks drain
  bool _authenticated : 1 = false;  // the Authenticator was asked (at most once)
  bool _input_held : 1 = false;     // hold_input(): an answer waits, reading waits for it
  bool _broker_chosen : 1 = false;  // choose_broker() ran (once: it moves with the client)
};

}  // namespace peregrine::broker
