// LoadWorker, the MQTT half: what each connection writes (CONNECT, SUBSCRIBE, PUBLISH and
// acknowledgements), what it makes of what it reads, and the pacing of publishers.
#include <algorithm>
#include <cstdio>
#include <variant>

#include "bench/load/load_worker.h"
#include "bench/load/payload_stamp.h"
#include "src/base/clock.h"
#include "src/mqtt/codec.h"

namespace peregrine::bench {
namespace {

constexpr uint32_t kMaxPacketSize = mqtt::kMaxRemainingLength + 5;
// A publisher whose subscribers received nothing for this long stops waiting for the
// missing messages (QoS 0 may drop them) and counts a lag reset.
constexpr uint64_t kLagGiveUpNs = 2'000'000'000;

}  // namespace

// ---- writing --------------------------------------------------------------------------

void LoadWorker::stage(Connection& c, const mqtt::Packet& packet) {
  _scratch.clear();
  mqtt::encode(_config.version, packet, _scratch);
  c.staged.append(_scratch);
  mark_dirty(c);
}

void LoadWorker::stage_ack(Connection& c, mqtt::PacketType type, uint16_t packet_id) {
  uint8_t ack[mqtt::kSuccessAckSize];
  mqtt::encode_success_ack(type, packet_id, ack);
  c.staged.append(ack);
  mark_dirty(c);
}

void LoadWorker::stage_connect(Connection& c) {
  char id[64];
  const char role = c.role == Role::kPublisher ? 'p' : c.role == Role::kSubscriber ? 's' : 'c';
  std::snprintf(id, sizeof(id), "%s%c%u", _client_prefix.c_str(), role, c.global_id);
  mqtt::Connect connect;
  connect.version = _config.version;
  connect.clean_start = true;
  if (c.role == Role::kSubscriber && _config.subscriber_session_expiry_s > 0) {
    // Each run's client ids are new (the run id is in them), so a v5 subscriber starts
    // clean and keeps its session; 3.x has only "clean session 0" for keeping it.
    if (_config.version == mqtt::ProtocolVersion::kV5) {
      connect.properties.session_expiry_interval = _config.subscriber_session_expiry_s;
    } else {
      connect.clean_start = false;
    }
  }
  connect.keep_alive = _config.keep_alive_s;
  connect.client_id = id;  // encoded before `id` goes out of scope
  if (!_config.username.empty()) {
    connect.username = _config.username;
  }
  if (!_config.passwords.empty()) {
    const std::string& password = _config.passwords[c.global_id % _config.passwords.size()];
    connect.password = mqtt::Bytes(reinterpret_cast<const uint8_t*>(password.data()),
                                   password.size());
  }
  stage(c, connect);
}

void LoadWorker::stage_subscribe(Connection& c, uint64_t now) {
  mqtt::Subscribe subscribe;
  subscribe.packet_id = 1;
  mqtt::SubscriptionRequest request;
  request.filter = c.topic;
  request.max_qos = _config.qos;
  subscribe.subscriptions.push_back(request);
  stage(c, subscribe);
  c.state = ConnState::kAwaitSuback;
  c.subscribe_sent_ns = now;
  if (_stats.first_subscribe_ns == 0) {
    _stats.first_subscribe_ns = now;
  }
}

uint16_t LoadWorker::take_packet_id(Connection& c) {
  // The window (<= 65,535) guarantees a free id; skip ids still unacknowledged.
  while (true) {
    const uint16_t id = c.next_packet_id;
    c.next_packet_id = c.next_packet_id == 65535 ? 1 : c.next_packet_id + 1;
    uint64_t& word = c.ids_in_use[id / 64];
    const uint64_t bit = uint64_t{1} << (id % 64);
    if ((word & bit) == 0) {
      word |= bit;
      return id;
    }
  }
}

void LoadWorker::release_packet_id(Connection& c, uint16_t id) {
  if (c.ids_in_use.empty()) {
    return;
  }
  uint64_t& word = c.ids_in_use[id / 64];
  const uint64_t bit = uint64_t{1} << (id % 64);
  if ((word & bit) != 0) {
    word &= ~bit;
    c.unacked--;
    _stats.acked++;
  }
}

void LoadWorker::stage_publish(Connection& c, std::string_view topic, uint64_t sequence,
                               bool retain, uint32_t payload_size, uint64_t now) {
  mqtt::Publish publish;
  publish.qos = _config.qos;
  publish.retain = retain;
  publish.topic = topic;
  if (publish.qos > 0) {
    publish.packet_id = take_packet_id(c);
    c.unacked++;
  }
  _scratch.clear();
  mqtt::encode_publish_head(_config.version, publish, payload_size, _scratch);
  c.staged.append(_scratch);
  uint8_t* payload =
      c.staged.append(std::span<const uint8_t>(_payload_template).first(payload_size));
  if (payload_size >= kStampSize) {
    write_stamp({_control.run_id, c.index, sequence, now}, payload);
  }
  count_sent(c, now);
}

void LoadWorker::stage_run_publish(Connection& c, uint64_t now) {
  if (c.publish_image.empty()) {
    mqtt::Publish publish;
    publish.qos = _config.qos;
    publish.retain = _config.retain;
    publish.topic = c.topic;
    publish.packet_id = publish.qos > 0 ? 1 : 0;
    mqtt::encode_publish_head(_config.version, publish, _config.payload_size, c.publish_image);
    const mqtt::Frame frame = mqtt::read_frame(c.publish_image, kMaxPacketSize);
    c.publish_id_at = frame.header.header_length + 2 + c.topic.size();
    c.publish_payload_at = c.publish_image.size();
    c.publish_image.insert(c.publish_image.end(), _payload_template.begin(),
                           _payload_template.begin() + _config.payload_size);
  }
  uint8_t* packet = c.staged.append_image(c.publish_image);
  if (_config.qos > 0) {
    const uint16_t id = take_packet_id(c);
    c.unacked++;
    packet[c.publish_id_at] = static_cast<uint8_t>(id >> 8);
    packet[c.publish_id_at + 1] = static_cast<uint8_t>(id);
  }
  if (_config.payload_size >= kStampSize) {
    write_stamp({_control.run_id, c.index, c.next_sequence, now},
                packet + c.publish_payload_at);
  }
  count_sent(c, now);
}

void LoadWorker::count_sent(Connection& c, uint64_t now) {
  _stats.sent++;
  if (now >= _control.measure_from_ns && now < _control.measure_to_ns) {
    _stats.sent_measured++;
  }
  mark_dirty(c);
}

// ---- reading --------------------------------------------------------------------------

bool LoadWorker::handle_packets(Connection& c, uint64_t now) {
  size_t offset = 0;
  while (offset < c.in_used) {
    const mqtt::Bytes rest(c.in.data() + offset, c.in_used - offset);
    const mqtt::Frame frame = mqtt::read_frame(rest, kMaxPacketSize);
    if (frame.status == mqtt::FrameStatus::kNeedMore) {
      if (frame.header.header_length != 0 && frame.header.total_length() > c.in.size()) {
        // Grown before the next recv is armed; the partial packet moves to the front.
        std::copy(c.in.begin() + offset, c.in.begin() + c.in_used, c.in.begin());
        c.in_used -= offset;
        c.in.resize(frame.header.total_length());
        return true;
      }
      break;
    }
    if (frame.status != mqtt::FrameStatus::kComplete) {
      _control.abort(Verdict::kError, "the broker sent a malformed packet");
      fail(c, false);
      return false;
    }
    const mqtt::Bytes body = rest.subspan(frame.header.header_length,
                                          frame.header.remaining_length);
    if (!handle_packet(c, frame.header, body, now)) {
      return false;
    }
    offset += frame.header.total_length();
  }
  if (offset > 0) {
    std::copy(c.in.begin() + offset, c.in.begin() + c.in_used, c.in.begin());
    c.in_used -= offset;
  }
  return true;
}

bool LoadWorker::handle_packet(Connection& c, const mqtt::FixedHeader& header,
                               mqtt::Bytes body, uint64_t now) {
  if (header.type == mqtt::PacketType::kPublish) {
    ReceivedPublish publish;
    if (!read_publish(_config.version, header.flags, body, publish)) {
      _control.abort(Verdict::kError, "the broker sent a PUBLISH that does not decode");
      fail(c, false);
      return false;
    }
    on_publish(c, publish, now);
    return true;
  }
  if (mqtt::is_ack(header.type)) {
    if (mqtt::decode_ack(_config.version, header, body, _ack) != mqtt::ReasonCode::kSuccess) {
      _control.abort(Verdict::kError, "the broker sent an acknowledgement that does not decode");
      fail(c, false);
      return false;
    }
    on_ack(c, _ack);
    return c.state != ConnState::kClosing;
  }
  mqtt::Packet packet;
  if (mqtt::decode(_config.version, header, body, packet) != mqtt::ReasonCode::kSuccess) {
    _control.abort(Verdict::kError, "the broker sent a packet that does not decode");
    fail(c, false);
    return false;
  }
  if (const auto* connack = std::get_if<mqtt::Connack>(&packet)) {
    on_connack(c, *connack, now);
  } else if (const auto* suback = std::get_if<mqtt::Suback>(&packet)) {
    on_suback(c, *suback);
  } else if (const auto* disconnect = std::get_if<mqtt::Disconnect>(&packet)) {
    on_disconnect(c, *disconnect);
    return false;
  } else if (std::holds_alternative<mqtt::Pingresp>(packet) && c.ping_out) {
    // The broker handles a connection's packets in order: everything before the PINGREQ
    // has been processed (the retained set is stored, or cleared).
    c.ping_out = false;
    c.phase_work_done = true;
    _progress.phase_done.store(static_cast<uint32_t>(++_phase_done));
  }
  return c.state != ConnState::kClosing;
}

void LoadWorker::on_connack(Connection& c, const mqtt::Connack& connack, uint64_t now) {
  if (c.state != ConnState::kAwaitConnack) {
    _control.abort(Verdict::kError, "the broker sent a second CONNACK");
    fail(c, false);
    return;
  }
  if (connack.reason != mqtt::ReasonCode::kSuccess) {
    char why[160];
    std::snprintf(why, sizeof(why), "CONNACK refused the connection: %s",
                  mqtt::reason_name(connack.reason));
    note_connect_failure(why, 0);
    _stats.connect_refused++;
    if (_config.mode != RunMode::kConnections) {
      _control.abort(Verdict::kError, why);
    }
    fail(c, false);
    return;
  }
  _connecting--;
  _stats.connected++;
  _stats.last_connack_ns = std::max(_stats.last_connack_ns, now);
  _stats.connect_latency.record(now - c.connect_start_ns);
  const mqtt::Properties& props = connack.properties;
  const bool traffic = c.role != Role::kIdle;
  if (traffic && props.maximum_qos && *props.maximum_qos < _config.qos) {
    char why[160];
    std::snprintf(why, sizeof(why), "the broker's CONNACK says Maximum QoS %u (asked for %u)",
                  *props.maximum_qos, _config.qos);
    _control.abort(Verdict::kUnsupported, why);
  }
  const bool wants_retain = _config.retain || _config.mode == RunMode::kRetained;
  if (traffic && wants_retain && props.retain_available && *props.retain_available == 0) {
    _control.abort(Verdict::kUnsupported, "the broker's CONNACK says Retain Available 0");
  }
  if (props.receive_maximum) {
    c.inflight_limit = std::min<uint32_t>(c.inflight_limit, *props.receive_maximum);
  }
  const bool subscribe_now = c.role == Role::kSubscriber && _config.mode == RunMode::kTraffic;
  c.state = ConnState::kReady;
  if (subscribe_now) {
    stage_subscribe(c, now);
  } else {
    mark_ready(c);
  }
}

void LoadWorker::on_suback(Connection& c, const mqtt::Suback& suback) {
  const mqtt::ReasonCode granted =
      suback.reasons.empty() ? mqtt::ReasonCode::kUnspecifiedError : suback.reasons[0];
  if (mqtt::is_error(granted)) {
    char why[160];
    std::snprintf(why, sizeof(why), "SUBACK refused the subscription: %s",
                  mqtt::reason_name(granted));
    _control.abort(Verdict::kUnsupported, why);
    mark_ready(c);
    return;
  }
  const auto qos = static_cast<uint8_t>(granted);
  if (qos < _config.qos) {
    char why[160];
    std::snprintf(why, sizeof(why), "the broker granted QoS %u for a QoS %u subscription", qos,
                  _config.qos);
    _control.abort(Verdict::kUnsupported, why);
  }
  c.subscribed = true;
  mark_ready(c);
}

void LoadWorker::on_publish(Connection& c, const ReceivedPublish& publish, uint64_t now) {
  if (publish.qos == 1) {
    stage_ack(c, mqtt::PacketType::kPuback, publish.packet_id);
  } else if (publish.qos == 2) {
    stage_ack(c, mqtt::PacketType::kPubrec, publish.packet_id);
  }
  if (publish.qos < _config.qos) {
    _stats.downgraded++;
  }
  if (_config.mode == RunMode::kRetained && !publish.retain) {
    return;  // live copies of the seed or the cleanup, not part of the fetch
  }
  const auto stamp = read_stamp(publish.payload.data(), publish.payload.size());
  if (!stamp || stamp->run_id != _control.run_id || stamp->publisher >= _config.publishers ||
      c.role != Role::kSubscriber) {
    _stats.foreign++;
    return;
  }
  _stats.last_receive_ns = now;
  if (_config.mode == RunMode::kRetained) {
    // Retained delivery order across topics is not defined: count and time, no order.
    _stats.received++;
    _stats.latency.record(now - c.subscribe_sent_ns);
    return;
  }
  SequenceTracker* tracker = nullptr;
  if (_config.pattern == TopicPattern::kPairs) {
    if (stamp->publisher != c.index) {
      _stats.foreign++;
      return;
    }
    tracker = &c.streams[0];
  } else {
    tracker = &c.streams[stamp->publisher];
  }
  StreamCounters counters;
  tracker->record(stamp->sequence, counters);
  _stats.received += counters.received;
  _stats.duplicated += counters.duplicated;
  _stats.reordered += counters.reordered;
  if (_delivered_pending[stamp->publisher]++ == 0) {
    _delivered_touched.push_back(stamp->publisher);
  }
  if (now >= _control.measure_from_ns && now < _control.measure_to_ns) {
    _stats.received_measured++;
    _stats.payload_bytes_measured += publish.payload.size();
  }
  if (stamp->send_ns >= _control.measure_from_ns && stamp->send_ns < _control.measure_to_ns) {
    _stats.latency.record(now > stamp->send_ns ? now - stamp->send_ns : 0);
  }
}

void LoadWorker::flush_delivered() {
  for (const uint32_t publisher : _delivered_touched) {
    _control.publishers[publisher].delivered.fetch_add(_delivered_pending[publisher],
                                                       std::memory_order_relaxed);
    _delivered_pending[publisher] = 0;
  }
  _delivered_touched.clear();
}

void LoadWorker::on_ack(Connection& c, const mqtt::Ack& ack) {
  if (mqtt::is_error(ack.reason)) {
    char why[160];
    std::snprintf(why, sizeof(why), "the broker answered a PUBLISH with %s",
                  mqtt::reason_name(ack.reason));
    _control.abort(ack.reason == mqtt::ReasonCode::kQosNotSupported ? Verdict::kUnsupported
                                                                    : Verdict::kError,
                   why);
  }
  switch (ack.type) {
    case mqtt::PacketType::kPuback:
    case mqtt::PacketType::kPubcomp:
      release_packet_id(c, ack.packet_id);
      break;
    case mqtt::PacketType::kPubrec:
      stage_ack(c, mqtt::PacketType::kPubrel, ack.packet_id);
      break;
    case mqtt::PacketType::kPubrel:
      stage_ack(c, mqtt::PacketType::kPubcomp, ack.packet_id);
      break;
    default:
      break;
  }
}

void LoadWorker::on_disconnect(Connection& c, const mqtt::Disconnect& disconnect) {
  char why[160];
  std::snprintf(why, sizeof(why), "the broker sent DISCONNECT %s",
                mqtt::reason_name(disconnect.reason));
  const bool refused_feature = disconnect.reason == mqtt::ReasonCode::kQosNotSupported ||
                               disconnect.reason == mqtt::ReasonCode::kRetainNotSupported;
  if (refused_feature) {
    _control.abort(Verdict::kUnsupported, why);
  } else if (_config.mode != RunMode::kConnections) {
    _control.abort(Verdict::kError, why);
  }
  if (c.counted_ready) {
    _stats.closed_by_broker++;
  }
  fail(c, false);
}

// ---- traffic --------------------------------------------------------------------------

bool LoadWorker::may_publish(Connection& c, uint64_t now) {
  if (now >= _control.measure_to_ns || c.staged.size() >= kMaxStaged) {
    return false;
  }
  if (_config.qos > 0 && c.unacked >= c.inflight_limit) {
    return false;
  }
  const uint64_t fanout = _control.fanout();
  const uint64_t delivered =
      _control.publishers[c.index].delivered.load(std::memory_order_relaxed) + c.lag_credit;
  const uint64_t owed = c.next_sequence * fanout;
  if (owed > delivered && owed - delivered >= uint64_t{_config.max_lag} * fanout) {
    if (c.stalled_since_ns == 0 || delivered != c.last_delivered) {
      c.stalled_since_ns = now;
      c.last_delivered = delivered;
    } else if (now - c.stalled_since_ns > kLagGiveUpNs) {
      c.lag_credit += owed - delivered;
      c.stalled_since_ns = 0;
      _stats.lag_resets++;
      return true;
    }
    _lag_blocked = true;
    return false;
  }
  c.stalled_since_ns = 0;
  if (_config.rate > 0) {
    // Publishers are staggered by a fraction of their period so they do not burst together.
    const double per_publisher = _config.rate / _config.publishers;
    const double offset = static_cast<double>(c.index) / _config.publishers;
    const double elapsed = static_cast<double>(now - _control.run_start_ns) / 1e9;
    const auto due = static_cast<uint64_t>(elapsed * per_publisher + offset);
    if (c.next_sequence >= due) {
      const double next_s = (static_cast<double>(c.next_sequence) + 1 - offset) / per_publisher;
      const uint64_t next = _control.run_start_ns + static_cast<uint64_t>(next_s * 1e9);
      c.next_due_ns = next;
      _next_due_ns = std::min(_next_due_ns, next);
      return false;
    }
  }
  return true;
}

// One clock reading serves the whole turn: the bytes staged here leave together when the
// turn ends, so a reading per publisher would not stamp them closer to their send. At a
// fixed rate a publisher that is not yet due is passed over on its stored due time, without
// touching the delivery counters other threads write.
void LoadWorker::publish_turn(uint64_t now) {
  _more_to_publish = false;
  for (Connection* c : _publishers) {
    if (c->state != ConnState::kReady) {
      continue;
    }
    if (c->next_due_ns > now) {
      _next_due_ns = std::min(_next_due_ns, c->next_due_ns);
      continue;
    }
    uint32_t budget = kPublishBatch;
    while (budget > 0 && may_publish(*c, now)) {
      stage_run_publish(*c, now);
      c->next_sequence++;
      budget--;
    }
    if (budget == 0) {
      _more_to_publish = true;
    }
    _control.publishers[c->index].sent.store(c->next_sequence, std::memory_order_relaxed);
  }
}

void LoadWorker::seed_turn(uint64_t now, bool cleanup) {
  const uint64_t stride = _config.publishers;
  for (Connection* c : _publishers) {
    if (c->state != ConnState::kReady || c->phase_work_done || c->ping_out) {
      continue;
    }
    uint32_t budget = kPublishBatch * 4;
    while (budget > 0 && c->staged.size() < kMaxStaged &&
           (_config.qos == 0 || c->unacked < c->inflight_limit)) {
      const uint64_t index = c->seed_next * stride + c->index;
      if (index >= _config.retained_topics) {
        break;
      }
      // An empty retained message clears the topic [MQTT-3.3.1-10].
      stage_publish(*c, topic_for(index), c->seed_next, true,
                    cleanup ? 0 : _config.payload_size, now);
      c->seed_next++;
      budget--;
    }
    const bool all_written = c->seed_next * stride + c->index >= _config.retained_topics;
    if (all_written && (_config.qos == 0 || c->unacked == 0)) {
      stage(*c, mqtt::Pingreq{});
      c->ping_out = true;
    }
  }
}

void LoadWorker::subscribe_turn(uint64_t now) {
  for (Connection* c : _subscribers) {
    if (c->state == ConnState::kReady && !c->subscribed && c->subscribe_sent_ns == 0) {
      stage_subscribe(*c, now);
    }
  }
}

}  // namespace peregrine::bench
