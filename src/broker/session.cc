#include "src/broker/session.h"

#include <algorithm>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/base/owner.h"
#include "src/mqtt/scope.h"

namespace peregrine::broker {

Session::Session(SessionHost* host, std::string client_id)
    : _host(host), _client_id(std::move(client_id)) {}

Session::~Session() {
  PG_ASSERT(_client == nullptr);
  for (Inflight& entry : _inflight) {
    let_go(entry.delivery);
  }
  for (Delivery& delivery : _queue) {
    _host->held_budget().dequeued(held_size(*delivery.message));
    let_go(delivery);
  }
  PG_ASSERT(_held_bytes == 0);
}

// Not cancelled here: at shutdown the wheel is gone before the sessions; at run time the
// session table cancels before it drops the state (attach, SessionTable::end).
Session::Offline::~Offline() {
  if (will != nullptr) {
    will->unref();
  }
}

void Session::Offline::on_timer() { session._host->session_timer(&session); }

Session::Offline& Session::offline() {
  if (_offline == nullptr) {
    _offline = std::make_unique<Offline>(*this);
  }
  return *_offline;
}

std::vector<const Session::Subscription*> Session::subscriptions_in_order() const {
  std::vector<const Subscription*> in_order;
  if (_subscriptions != nullptr) {
    in_order.reserve(_subscriptions->size());
    for (const Subscription& subscription : *_subscriptions) {
      in_order.push_back(&subscription);
    }
    std::sort(in_order.begin(), in_order.end(), [](const Subscription* a, const Subscription* b) {
      return a->filter.view() < b->filter.view();
    });
  }
  return in_order;
}

void Session::release(Delivery& delivery) {
  if (delivery.message != nullptr) {
    delivery.message->unref();
    delivery.message = nullptr;
  }
}

bool Session::admit(uint64_t size) {
  const Limits& limits = _host->limits();
  if (_held_bytes != 0 && _held_bytes + size > limits.max_session_bytes) {
    _host->stats().session_bytes_dropped++;
    if (!_over_bytes) {
      _over_bytes = true;
      PG_INFO("session client_id=%s holds %llu bytes (max_session_bytes %llu): new QoS 1/2 "
              "messages for it are dropped until it catches up",
              mqtt::printable(_client_id).c_str(), static_cast<unsigned long long>(_held_bytes),
              static_cast<unsigned long long>(limits.max_session_bytes));
    }
    return false;
  }
  HeldBudget& budget = _host->held_budget();
  if (!budget.admits(_held_bytes)) {
    _host->stats().budget_dropped++;
    if (!budget.over) {
      budget.over = true;
      PG_WARN("sessions on this shard hold %llu bytes, its share of held_bytes_budget: new "
              "QoS 1/2 messages for the %u sessions' largest holders are dropped",
              static_cast<unsigned long long>(budget.bytes), budget.holders);
    }
    return false;
  }
  return true;
}

void Session::hold(uint64_t size) {
  _host->held_budget().grew(_held_bytes, size);
  _held_bytes += size;
}

void Session::let_go(Delivery& delivery) {
  if (delivery.message == nullptr) {
    return;  // a QoS 2 message let go at PUBREC: only its id is kept
  }
  const uint64_t size = held_size(*delivery.message);
  PG_DASSERT(size <= _held_bytes);
  HeldBudget& budget = _host->held_budget();
  budget.shrank(_held_bytes, size);
  _held_bytes -= size;
  release(delivery);
  // Episodes end with room to spare, so that a session at the edge logs once, not per
  // message.
  if (_over_bytes && _held_bytes < _host->limits().max_session_bytes / 2) {
    _over_bytes = false;
  }
  if (budget.over && budget.bytes < budget.limit - budget.limit / 8) {
    budget.over = false;
    PG_INFO("sessions on this shard hold %llu bytes, back under their share of "
            "held_bytes_budget", static_cast<unsigned long long>(budget.bytes));
  }
}

void Session::attach(ClientLink* client, uint16_t window) {
  PG_DASSERT_OWNER(_host->shard_id());
  PG_ASSERT(_client == nullptr);
  _client = client;
  _window = window == 0 ? 1 : window;
  // No expiry while connected; a new connection before the will delay ran out: no will
  // [MQTT-3.1.3-9].
  if (_offline != nullptr) {
    _host->wheel().cancel(*_offline);
    if (durable && _offline->will != nullptr) {
      log().will(*this, nullptr, 0);
    }
    _offline.reset();
  }
}

void Session::detach() {
  _client = nullptr;
  _inflight.trim();
  _queue.trim();
}

void Session::resume() {
  PG_DASSERT_OWNER(_host->shard_id());
  PG_ASSERT(_client != nullptr);
  // [MQTT-4.4.0-1]: unacknowledged PUBLISH again with DUP, PUBREL again, in order.
  for (Inflight& entry : _inflight) {
    if (entry.released) {
      if (!entry.release_pending) {  // else it goes once written (release_written)
        _client->send_success_ack(mqtt::PacketType::kPubrel, entry.packet_id);
      }
    } else if (entry.send_after == 0) {  // else it goes once the log holds it
      send_publish(entry, true);
    }
  }
  pump();
}

uint16_t Session::allocate_packet_id() {
  while (true) {
    const uint16_t id = _next_packet_id;
    _next_packet_id = _next_packet_id == 0xFFFF ? 1 : _next_packet_id + 1;
    if (_next_packet_id == 1) {
      _packet_ids_wrapped = true;
    }
    if (!_packet_ids_wrapped || _inflight.empty() || find_inflight(id) == _inflight.end()) {
      return id;
    }
  }
}

LazyDeque<Session::Inflight>::iterator Session::find_inflight(uint16_t packet_id) {
  // Acks mostly come in send order: the front is the usual hit.
  if (!_inflight.empty() && _inflight.front().packet_id == packet_id) {
    return _inflight.begin();
  }
  return std::find_if(_inflight.begin(), _inflight.end(),
                      [&](const Inflight& e) { return e.packet_id == packet_id; });
}

void Session::send_publish(Inflight& entry, bool dup) {
  _client->send_publish(entry.delivery, entry.packet_id, dup);
}

void Session::start_send(Inflight& entry) {
  // Durable: a QoS 2 PUBLISH leaves only once the log is written through the batch of
  // this session's newest record (its delivery's, or later), and whatever follows it in
  // flight waits behind it. Sent before, a crash that lost the record would leave the
  // client holding the packet id (awaiting PUBREL) while the restarted broker, which never
  // knew of it, gives that id to a new message: the client would take it for a resend and
  // drop it. QoS 1 has no such state in the client: it waits only to keep the order.
  if (durable &&
      (_sends_held != 0 || (entry.delivery.qos == 2 && log().written_through() < log_ticket))) {
    entry.send_after = entry.delivery.qos == 2 ? std::max<uint64_t>(log_ticket, 1) : 1;
    if (_sends_held++ == 0) {
      log().wake_when_written(*this, entry.send_after);
    }
    return;
  }
  send_publish(entry, entry.delivery.maybe_sent);
}

void Session::log_caught_up() {
  if (_sends_held == 0) {
    return;
  }
  const uint64_t written = log().written_through();
  for (Inflight& entry : _inflight) {
    if (entry.send_after == 0) {
      continue;
    }
    if (entry.send_after > written) {
      log().wake_when_written(*this, entry.send_after);  // the rest waits behind it
      return;
    }
    entry.send_after = 0;
    --_sends_held;
    if (_client != nullptr) {
      send_publish(entry, entry.delivery.maybe_sent);
    }
  }
}

void Session::deliver(Delivery delivery) {
  PG_DASSERT_OWNER(_host->shard_id());
  PG_DASSERT(delivery.message != nullptr);
  if (!_host->may_read(*this, delivery.message->topic())) {
    _host->stats().read_denied++;
    release(delivery);
    return;
  }
  if (expired(*delivery.message)) {
    _host->stats().expired_dropped++;
    release(delivery);
    return;
  }
  if (_client != nullptr && !_client->fits(delivery)) {
    _host->stats().oversize_dropped++;  // [MQTT-3.1.2-25]: as if sent
    release(delivery);
    return;
  }
  if (delivery.qos == 0) {
    if (_client != nullptr) {
      _client->send_qos0(delivery);
    }
    release(delivery);  // offline sessions do not queue QoS 0
    return;
  }
  const uint64_t size = held_size(*delivery.message);
  if (!admit(size)) {
    release(delivery);
    return;
  }
  if (durable) {
    delivery.seq = ++_last_seq;  // numbered once held (gaps where dropped below are harmless)
    _packet_ids_wrapped = true;  // allocated ids must now step around numbered ones
  }
  if (_queue.empty() && window_open()) {
    const uint16_t id = delivery.seq != 0 ? packet_id_for(delivery) : allocate_packet_id();
    if (id != 0) {  // else its id is still in flight: it queues behind that
      hold(size);
      if (durable) {
        log().taken(*this, delivery);
      }
      _inflight.push_back({id, false, std::move(delivery)});
      start_send(_inflight.back());
      return;
    }
  }
  const Limits& limits = _host->limits();
  if (_queue.size() >= limits.max_queued_messages ||
      _queue_bytes + size > limits.max_queued_bytes) {
    _host->stats().queue_dropped++;
    release(delivery);
    return;
  }
  hold(size);
  _queue_bytes += size;
  _host->held_budget().queued(size);
  if (durable) {
    log().taken(*this, delivery);
  }
  _queue.push_back(std::move(delivery));
}

uint16_t Session::packet_id_for(const Delivery& delivery) {
  PG_DASSERT(delivery.seq != 0);
  const uint16_t id = packet_id_of(delivery);
  if (_inflight.empty()) {
    return id;
  }
  // In flight in send order: ids fixed before numbering (and unnumbered ones) are the
  // oldest. Without them, and within 65,535 of the oldest, no id in flight can be this.
  const Delivery& oldest = _inflight.front().delivery;
  if (delivery.packet_id == 0 && oldest.seq != 0 && oldest.packet_id == 0 &&
      delivery.seq - oldest.seq < 65535) {
    return id;
  }
  return find_inflight(id) == _inflight.end() ? id : 0;
}

void Session::pump() {
  while (!_queue.empty() && window_open()) {
    Delivery& front = _queue.front();
    const bool is_expired = expired(*front.message);
    const bool too_big = !is_expired && !_client->fits(front);
    uint16_t id = 0;
    if (!is_expired && !too_big) {
      id = front.seq != 0 ? packet_id_for(front) : allocate_packet_id();
      if (id == 0) {
        break;  // its id is still in flight: it waits for that acknowledgement
      }
    }
    Delivery delivery = std::move(front);
    _queue.pop_front();
    _queue_bytes -= held_size(*delivery.message);
    _host->held_budget().dequeued(held_size(*delivery.message));
    if (is_expired || too_big) {
      if (is_expired) {
        _host->stats().expired_dropped++;
      } else {
        _host->stats().oversize_dropped++;
      }
      if (durable) {
        log().done(*this, delivery.seq, delivery.message);
      }
      let_go(delivery);
      continue;
    }
    // Restored deliveries (maybe_sent) go with DUP: they may have reached the client.
    _inflight.push_back({id, false, std::move(delivery)});
    start_send(_inflight.back());
  }
}

void Session::number_deliveries() {
  _packet_ids_wrapped = true;  // allocated ids must step around numbered ones
  for (Inflight& entry : _inflight) {
    if (entry.delivery.seq == 0) {
      entry.delivery.seq = ++_last_seq;
      entry.delivery.packet_id = entry.packet_id;  // sent under it already
    }
  }
  for (Delivery& delivery : _queue) {
    if (delivery.seq == 0) {
      delivery.seq = ++_last_seq;
    }
  }
}

void Session::restore_delivery(Delivery delivery, bool released) {
  PG_ASSERT(delivery.seq > _last_seq);  // in seq order
  _last_seq = delivery.seq;
  _packet_ids_wrapped = true;  // allocated ids must step around numbered ones
  if (released) {
    PG_ASSERT(delivery.message == nullptr);
    const uint16_t id = packet_id_of(delivery);
    _inflight.push_back({id, true, std::move(delivery)});
    return;
  }
  PG_ASSERT(delivery.message != nullptr);
  const uint64_t size = held_size(*delivery.message);
  hold(size);
  _queue_bytes += size;
  _host->held_budget().queued(size);
  delivery.maybe_sent = true;
  _queue.push_back(std::move(delivery));
}

void Session::restore_inbound_qos2(uint16_t packet_id) {
  if (_inbound_qos2 == nullptr) {
    _inbound_qos2 = std::make_unique<std::vector<uint32_t>>();
  }
  _inbound_qos2->push_back(packet_id | kInboundAnswered);  // the log holds answered ones
}

void Session::on_puback(uint16_t packet_id) {
  PG_DASSERT_OWNER(_host->shard_id());
  auto it = find_inflight(packet_id);
  if (it == _inflight.end() || it->released || it->delivery.qos != 1) {
    return;  // unknown or not a QoS 1 flow: nothing to complete
  }
  if (durable) {
    log().done(*this, it->delivery.seq, it->delivery.message);
  }
  let_go(it->delivery);
  if (it == _inflight.begin()) {
    _inflight.pop_front();  // the usual case; erase() takes its general path for it
  } else {
    _inflight.erase(it);
  }
  // Acks come in send order and in bursts, for messages sent long ago (their lines are
  // cold): start the misses for the next two releases now.
  auto next = _inflight.begin();
  for (int i = 0; i < 2 && next != _inflight.end(); ++i, ++next) {
    __builtin_prefetch(next->delivery.message, 1);
  }
  pump();
}

void Session::on_pubrec(uint16_t packet_id) {
  auto it = find_inflight(packet_id);
  if (it == _inflight.end() || it->delivery.qos != 2) {
    _client->send_packet(mqtt::Ack{mqtt::PacketType::kPubrel, packet_id,
                                   _client->version() == mqtt::ProtocolVersion::kV5
                                       ? mqtt::ReasonCode::kPacketIdentifierNotFound
                                       : mqtt::ReasonCode::kSuccess,
                                   {}});
    return;
  }
  if (it->released) {
    // PUBREC again (its PUBREL was lost, or sent again after a restart): PUBREL again.
    if (!it->release_pending) {
      _client->send_success_ack(mqtt::PacketType::kPubrel, packet_id);
    }
    return;
  }
  it->released = true;
  if (durable) {
    it->release_pending = true;
    log().released(*this, it->delivery, packet_id);
    let_go(it->delivery);
    return;  // PUBREL once the release is on disk
  }
  let_go(it->delivery);  // the message is delivered; only the id is kept until PUBCOMP
  _client->send_success_ack(mqtt::PacketType::kPubrel, packet_id);
}

void Session::release_written(uint16_t packet_id) {
  auto it = find_inflight(packet_id);
  if (it == _inflight.end() || !it->released || !it->release_pending) {
    return;  // completed meanwhile, or the session was written whole since
  }
  it->release_pending = false;
  if (_client != nullptr) {
    _client->send_success_ack(mqtt::PacketType::kPubrel, packet_id);
  }
}

void Session::on_pubrec_refused(uint16_t packet_id) {
  auto it = find_inflight(packet_id);
  if (it == _inflight.end() || it->released) {
    return;
  }
  if (durable) {
    log().done(*this, it->delivery.seq, it->delivery.message);
  }
  let_go(it->delivery);
  _inflight.erase(it);
  pump();
}

void Session::on_pubcomp(uint16_t packet_id) {
  auto it = find_inflight(packet_id);
  if (it == _inflight.end() || !it->released) {
    return;
  }
  if (durable) {
    log().done(*this, it->delivery.seq, nullptr);
  }
  _inflight.erase(it);
  pump();
}

std::optional<bool> Session::begin_inbound_qos2(uint16_t packet_id, uint16_t limit) {
  if (_inbound_qos2 == nullptr) {
    _inbound_qos2 = std::make_unique<std::vector<uint32_t>>();
  }
  std::vector<uint32_t>& ids = *_inbound_qos2;
  if (find_inbound(packet_id) != ids.end()) {
    return false;
  }
  if (ids.size() >= limit) {
    return std::nullopt;
  }
  ids.push_back(packet_id);
  return true;
}

void Session::answered_inbound_qos2(uint16_t packet_id) {
  if (_inbound_qos2 == nullptr) {
    return;
  }
  auto it = find_inbound(packet_id);
  if (it == _inbound_qos2->end() || (*it & kInboundAnswered) != 0) {
    return;  // answered before (a resend's PUBREC)
  }
  *it |= kInboundAnswered;
  if (durable) {
    log().inbound(*this, packet_id, true);
  }
}

bool Session::release_inbound_qos2(uint16_t packet_id) {
  if (_inbound_qos2 == nullptr) {
    return false;
  }
  std::vector<uint32_t>& ids = *_inbound_qos2;
  auto it = find_inbound(packet_id);
  if (it == ids.end()) {
    return false;
  }
  const bool logged = (*it & kInboundAnswered) != 0;
  *it = ids.back();
  ids.pop_back();
  if (durable && logged) {
    log().inbound(*this, packet_id, false);
  }
  if (ids.empty()) {
    _inbound_qos2.reset();  // a burst must not pin it
  }
  return true;
}

void Session::set_will(Message* will, uint64_t due_ms) {
  Offline& state = offline();
  if (state.will != nullptr) {
    state.will->unref();
  }
  state.will = will;
  state.will_due_ms = due_ms;
  if (durable) {
    log().will(*this, will, due_ms);
  }
}

Message* Session::take_will() {
  if (_offline == nullptr) {
    return nullptr;
  }
  Message* will = _offline->will;
  _offline->will = nullptr;
  _offline->will_due_ms = 0;
  if (durable && will != nullptr) {
    log().will(*this, nullptr, 0);
  }
  return will;
}

bool Session::has_room_for(size_t out_bytes, size_t queued) const {
  return _client != nullptr && _client->queued_bytes() < out_bytes && _queue.size() < queued;
}

}  // namespace peregrine::broker
