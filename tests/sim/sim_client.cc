#include "tests/sim/sim_client.h"

#include "src/base/assert.h"

namespace peregrine::sim {

using mqtt::PacketType;
using mqtt::ReasonCode;

namespace {
mqtt::Bytes bytes_of(const std::string& s) {
  return mqtt::Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
std::string string_of(mqtt::Bytes b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}
}  // namespace

SimClient::SimClient(SimFloor& floor, std::string client_id, mqtt::ProtocolVersion version,
                     ClientEvents* events)
    : _floor(floor),
      _id(std::move(client_id)),
      _version(version),
      _events(events != nullptr ? events : &_no_events) {}

void SimClient::send(const mqtt::Packet& packet) {
  PG_ASSERT(_pipe != nullptr);
  std::vector<uint8_t> out;
  mqtt::encode(_version, packet, out);
  _pipe->to_broker.append(reinterpret_cast<const char*>(out.data()), out.size());
}

void SimClient::send_raw(const std::string& bytes) {
  PG_ASSERT(_pipe != nullptr);
  _pipe->to_broker.append(bytes);
}

uint16_t SimClient::next_packet_id() {
  for (;;) {
    const uint16_t id = _next_id;
    _next_id = _next_id == 0xFFFF ? 1 : _next_id + 1;
    if (_outbound.count(id) == 0 && _pending_control.count(id) == 0) {
      return id;
    }
  }
}

void SimClient::connect(uint16_t shard, bool clean_start, uint32_t session_expiry_s,
                        std::optional<WillSpec> will, uint16_t keep_alive_s) {
  if (_pipe != nullptr) {
    drop();
  }
  if (clean_start) {
    // The client's side of the session goes too [MQTT-3.1.2-4]; its unacknowledged
    // messages were never acknowledged, so nothing is owed for them.
    _outbound.clear();
    _awaiting_pubrel.clear();
  }
  _pipe = _floor.connect(shard);
  _connected = false;
  _in.clear();
  _pending_control.clear();
  mqtt::Connect connect;
  connect.version = _version;
  connect.clean_start = clean_start;
  connect.keep_alive = keep_alive_s;
  connect.client_id = _id;
  if (v5() && session_expiry_s != 0) {
    connect.properties.session_expiry_interval = session_expiry_s;
  }
  if (will) {
    mqtt::Will w;
    w.qos = will->qos;
    w.retain = will->retain;
    w.topic = will->topic;
    w.payload = bytes_of(will->payload);
    if (v5() && will->delay_s != 0) {
      w.properties.will_delay_interval = will->delay_s;
    }
    connect.will = w;
  }
  send(connect);
}

uint16_t SimClient::subscribe(const std::string& filter, uint8_t qos,
                              uint32_t subscription_id) {
  mqtt::Subscribe subscribe;
  subscribe.packet_id = next_packet_id();
  subscribe.subscriptions.push_back({filter, qos});
  if (v5() && subscription_id != 0) {
    subscribe.properties.subscription_identifiers.push_back(subscription_id);
  }
  _pending_control.insert(subscribe.packet_id);
  send(subscribe);
  return subscribe.packet_id;
}

uint16_t SimClient::unsubscribe(const std::string& filter) {
  mqtt::Unsubscribe unsubscribe;
  unsubscribe.packet_id = next_packet_id();
  unsubscribe.filters.push_back(filter);
  _pending_control.insert(unsubscribe.packet_id);
  send(unsubscribe);
  return unsubscribe.packet_id;
}

uint16_t SimClient::publish(const std::string& topic, const std::string& payload, uint8_t qos,
                            bool retain) {
  mqtt::Publish publish;
  publish.qos = qos;
  publish.retain = retain;
  publish.topic = topic;
  publish.payload = bytes_of(payload);
  if (qos > 0) {
    publish.packet_id = next_packet_id();
    _outbound[publish.packet_id] = {topic, payload, qos, retain, false};
  }
  send(publish);
  return publish.packet_id;
}

void SimClient::disconnect(ReasonCode reason) {
  if (_pipe == nullptr) {
    return;
  }
  mqtt::Disconnect disconnect{v5() ? reason : ReasonCode::kSuccess, {}};
  send(disconnect);
  drop();
}

void SimClient::drop() {
  if (_pipe == nullptr) {
    return;
  }
  _pipe->client_closed = true;
  _pipe->to_client.clear();
  if (_pipe->broker_closed) {
    _floor.net().forget(_pipe);
  }
  _pipe = nullptr;
  _connected = false;
}

void SimClient::lost_connection() {
  ++closed_by_broker;
  _pipe->client_closed = true;
  if (_pipe->broker_closed) {
    _floor.net().forget(_pipe);  // else the broker still drains its end (lingering close)
  }
  _pipe = nullptr;
  _connected = false;
  _events->on_closed();
}

void SimClient::poll() {
  if (_pipe == nullptr) {
    return;
  }
  _in.append(_pipe->to_client);
  _pipe->to_client.clear();
  size_t pos = 0;
  while (_pipe != nullptr && pos < _in.size()) {
    const mqtt::Bytes rest(reinterpret_cast<const uint8_t*>(_in.data()) + pos,
                           _in.size() - pos);
    const mqtt::Frame frame = mqtt::read_frame(rest, 1u << 28);
    if (frame.status == mqtt::FrameStatus::kNeedMore) {
      break;
    }
    PG_ASSERT_MSG(frame.status == mqtt::FrameStatus::kComplete, "the broker wrote a bad frame");
    on_packet(frame.header, rest.subspan(frame.header.header_length,
                                         frame.header.remaining_length));
    pos += frame.header.total_length();
  }
  if (_pipe == nullptr) {
    return;
  }
  _in.erase(0, pos);
  if ((_pipe->broker_closed || _pipe->broker_shut_write) && _pipe->to_client.empty()) {
    lost_connection();  // end of stream: as a real client does, it closes too
  }
}

void SimClient::on_packet(const mqtt::FixedHeader& header, mqtt::Bytes body) {
  mqtt::Packet packet;
  const ReasonCode rc = mqtt::decode(_version, header, body, packet);
  PG_ASSERT_MSG(rc == ReasonCode::kSuccess, "the broker wrote an undecodable packet");
  switch (header.type) {
    case PacketType::kConnack: {
      const auto& connack = std::get<mqtt::Connack>(packet);
      last_connack = connack;
      _connected = connack.reason == ReasonCode::kSuccess;
      if (_connected && !connack.session_present) {
        _outbound.clear();  // the broker kept nothing: nothing of ours to finish
        _awaiting_pubrel.clear();
      }
      if (_connected && connack.session_present) {
        // [MQTT-4.4.0-1]: resend what is not acknowledged, in order.
        for (auto& [id, out] : _outbound) {
          if (out.released) {
            send(mqtt::Ack{PacketType::kPubrel, id, ReasonCode::kSuccess, {}});
          } else {
            mqtt::Publish publish;
            publish.qos = out.qos;
            publish.retain = out.retain;
            publish.dup = true;
            publish.topic = out.topic;
            publish.payload = bytes_of(out.payload);
            publish.packet_id = id;
            send(publish);
          }
        }
      }
      _events->on_connack(connack);
      break;
    }
    case PacketType::kPublish:
      on_publish(std::get<mqtt::Publish>(packet));
      break;
    case PacketType::kPuback:
    case PacketType::kPubrec:
    case PacketType::kPubrel:
    case PacketType::kPubcomp:
      on_ack(std::get<mqtt::Ack>(packet));
      break;
    case PacketType::kSuback: {
      const auto& suback = std::get<mqtt::Suback>(packet);
      _pending_control.erase(suback.packet_id);
      _events->on_suback(suback.packet_id, suback.reasons);
      break;
    }
    case PacketType::kUnsuback: {
      const auto& unsuback = std::get<mqtt::Unsuback>(packet);
      _pending_control.erase(unsuback.packet_id);
      _events->on_unsuback(unsuback.packet_id, unsuback.reasons);
      break;
    }
    case PacketType::kDisconnect:
      last_disconnect = std::get<mqtt::Disconnect>(packet);
      break;
    default:
      break;
  }
}

void SimClient::on_publish(const mqtt::Publish& publish) {
  Received received{std::string(publish.topic), string_of(publish.payload), publish.qos,
                    publish.retain, publish.dup, publish.properties.subscription_identifiers};
  if (publish.qos == 2) {
    const bool fresh = _awaiting_pubrel.insert(publish.packet_id).second;
    send(mqtt::Ack{PacketType::kPubrec, publish.packet_id, ReasonCode::kSuccess, {}});
    if (!fresh) {
      return;  // a resend of one delivered already: exactly once
    }
  } else if (publish.qos == 1) {
    send(mqtt::Ack{PacketType::kPuback, publish.packet_id, ReasonCode::kSuccess, {}});
  }
  messages.push_back(received);
  _events->on_message(messages.back());
}

void SimClient::on_ack(const mqtt::Ack& ack) {
  switch (ack.type) {
    case PacketType::kPuback: {
      auto it = _outbound.find(ack.packet_id);
      if (it != _outbound.end() && it->second.qos == 1) {
        _outbound.erase(it);
        _events->on_acked(ack.packet_id, 1, ack.reason);
      }
      break;
    }
    case PacketType::kPubrec: {
      auto it = _outbound.find(ack.packet_id);
      if (it == _outbound.end() || it->second.qos != 2) {
        break;
      }
      if (mqtt::is_error(ack.reason)) {
        _outbound.erase(it);
        _events->on_acked(ack.packet_id, 2, ack.reason);
        break;
      }
      if (!it->second.released) {
        it->second.released = true;
        _events->on_acked(ack.packet_id, 2, ack.reason);  // accepted: the broker owns it
      }
      send(mqtt::Ack{PacketType::kPubrel, ack.packet_id, ReasonCode::kSuccess, {}});
      break;
    }
    case PacketType::kPubrel:
      _awaiting_pubrel.erase(ack.packet_id);
      send(mqtt::Ack{PacketType::kPubcomp, ack.packet_id, ReasonCode::kSuccess, {}});
      break;
    case PacketType::kPubcomp:
      _outbound.erase(ack.packet_id);
      break;
    default:
      break;
  }
}

bool settle(SimFloor& floor, std::initializer_list<SimClient*> clients) {
  for (int round = 0; round < 20; ++round) {
    if (!floor.settle(5000)) {
      return false;
    }
    for (SimClient* c : clients) {
      c->poll();
    }
  }
  return true;
}

std::vector<std::string> payloads(const SimClient& client) {
  std::vector<std::string> out;
  for (const Received& r : client.messages) {
    out.push_back(r.payload);
  }
  return out;
}

}  // namespace peregrine::sim
