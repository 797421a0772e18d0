// A simulated MQTT client (3.1.1 or 5) on a SimPipe: it encodes its packets with the
// codec, reads the broker's bytes back into packets, answers the QoS 1/2 flows as a
// correct client does (PUBACK; PUBREC, then PUBCOMP on PUBREL, delivering a QoS 2
// message once however often it is resent), resends its own unacknowledged messages on
// a session that was present, and records what it received. What it does and when is
// the caller's: a unit test's script or the seeded simulation.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "src/mqtt/codec.h"
#include "tests/sim/sim_floor.h"

namespace peregrine::sim {

struct Received {
  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
  std::vector<uint32_t> subscription_ids;
};

struct WillSpec {
  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  uint32_t delay_s = 0;  // v5 Will Delay Interval
};

// What a client tells its owner as it reads.
class ClientEvents {
 public:
  virtual ~ClientEvents() = default;
  virtual void on_message(const Received&) {}
  virtual void on_acked(uint16_t /*packet_id*/, uint8_t /*qos*/, mqtt::ReasonCode) {}
  virtual void on_suback(uint16_t /*packet_id*/, const std::vector<mqtt::ReasonCode>&) {}
  virtual void on_unsuback(uint16_t /*packet_id*/,
                           const std::vector<mqtt::ReasonCode>& /*reasons*/) {}
  virtual void on_connack(const mqtt::Connack&) {}
  virtual void on_closed() {}
};

class SimClient {
 public:
  SimClient(SimFloor& floor, std::string client_id, mqtt::ProtocolVersion version,
            ClientEvents* events = nullptr);

  const std::string& id() const { return _id; }
  mqtt::ProtocolVersion version() const { return _version; }
  bool v5() const { return _version == mqtt::ProtocolVersion::kV5; }

  // Opens a connection on `shard` and sends CONNECT.
  void connect(uint16_t shard, bool clean_start, uint32_t session_expiry_s = 0,
               std::optional<WillSpec> will = std::nullopt, uint16_t keep_alive_s = 0);
  uint16_t subscribe(const std::string& filter, uint8_t qos, uint32_t subscription_id = 0);
  uint16_t unsubscribe(const std::string& filter);
  // Returns the packet id (0 for QoS 0).
  uint16_t publish(const std::string& topic, const std::string& payload, uint8_t qos,
                   bool retain = false);
  // DISCONNECT (v5 reason `reason`), then the connection closes.
  void disconnect(mqtt::ReasonCode reason = mqtt::ReasonCode::kSuccess);
  // The connection drops without a DISCONNECT (a reset).
  void drop();
  // Sends raw bytes as they are (hostile input).
  void send_raw(const std::string& bytes);

  // Reads what the broker wrote since the last call and answers it.
  void poll();

  // A connection is open (CONNECT sent, not closed by either side).
  bool connection_open() const { return _pipe != nullptr; }
  // CONNACK with success received on the open connection.
  bool connected() const { return _connected; }
  std::optional<mqtt::Connack> last_connack;
  std::optional<mqtt::Disconnect> last_disconnect;  // the broker's, v5
  std::vector<Received> messages;                   // every application delivery
  uint64_t closed_by_broker = 0;
  // Own QoS 1/2 messages not yet acknowledged, by packet id.
  size_t unacked() const { return _outbound.size(); }

 private:
  struct Outbound {
    std::string topic;
    std::string payload;
    uint8_t qos;
    bool retain;
    bool released;  // QoS 2: PUBREC came, PUBREL sent
  };
  void send(const mqtt::Packet& packet);
  void on_packet(const mqtt::FixedHeader& header, mqtt::Bytes body);
  void on_publish(const mqtt::Publish& publish);
  void on_ack(const mqtt::Ack& ack);
  uint16_t next_packet_id();
  void lost_connection();

  SimFloor& _floor;
  std::string _id;
  mqtt::ProtocolVersion _version;
  ClientEvents* _events;
  ClientEvents _no_events;
  SimPipe* _pipe = nullptr;
  bool _connected = false;
  std::string _in;  // broker bytes read, not yet a whole packet
  uint16_t _next_id = 1;
  std::map<uint16_t, Outbound> _outbound;      // the client's session state: its own flows
  std::set<uint16_t> _awaiting_pubrel;         // inbound QoS 2 delivered, PUBREL not yet
  std::set<uint16_t> _pending_control;         // SUBSCRIBE/UNSUBSCRIBE ids in flight
};

// Steps `floor` and lets every client read and answer, round after round, until nothing
// moves; false if the floor did not go quiet.
bool settle(SimFloor& floor, std::initializer_list<SimClient*> clients);
// The payloads a client received, in order.
std::vector<std::string> payloads(const SimClient& client);

}  // namespace peregrine::sim
