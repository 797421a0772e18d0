#include "src/broker/sys_publisher.h"

#include <picojson.h>
#include <unistd.h>

#include <cstdio>

#include "src/base/assert.h"
#include "src/broker/shard_mail.h"
#include "src/mqtt/scope.h"

namespace peregrine::broker {

namespace {
std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') {
    return "peregrine";
  }
  return name;
}
}  // namespace

SysPublisher::SysPublisher(SysHost& host, const SysTopics& config)
    : _broker(host), _config(config) {
  if (_config.broker_id.empty()) {
    _config.broker_id = host_name();
  }
  _prefix = "$SYS/" + _config.broker_id + "/";
  _own = std::make_unique<SysSnapshot>();
}

void SysPublisher::start() {
  _started_ms = _broker.now_ms();
  if (_config.interval_ms != 0) {
    _stats_due_ms = _started_ms + _config.interval_ms;
  }
  if (_config.heartbeat_ms != 0 && _broker.shard_id() == 0) {
    _heartbeat_due_ms = _started_ms + _config.heartbeat_ms;
  }
  if (_broker.shard_id() == 0) {
    _latest.resize(_broker.shard_count());
  }
  if (const uint64_t due = next_due()) {
    _broker.wheel().arm(*this, due);
  }
}

void SysPublisher::stop() { _broker.wheel().cancel(*this); }

void SysPublisher::reconfigure(const SysTopics& config) {
  stop();
  _config = config;
  if (_config.broker_id.empty()) {
    _config.broker_id = host_name();
  }
  _prefix = "$SYS/" + _config.broker_id + "/";
  const uint64_t now = _broker.now_ms();
  _stats_due_ms = _config.interval_ms != 0 ? now + _config.interval_ms : 0;
  _heartbeat_due_ms =
      _config.heartbeat_ms != 0 && _broker.shard_id() == 0 ? now + _config.heartbeat_ms : 0;
  if (const uint64_t due = next_due()) {
    _broker.wheel().arm(*this, due);
  }
}

uint64_t SysPublisher::next_due() const {
  uint64_t due = 0;
  for (uint64_t candidate : {_stats_due_ms, _heartbeat_due_ms}) {
    if (candidate != 0 && (due == 0 || candidate < due)) {
      due = candidate;
    }
  }
  return due;
}

void SysPublisher::on_timer() {
  const uint64_t now = _broker.now_ms();
  if (_heartbeat_due_ms != 0 && now >= _heartbeat_due_ms) {
    publish(_prefix + "heartbeat", _config.broker_id, false);
    _heartbeat_due_ms = now + _config.heartbeat_ms;
  }
  if (_stats_due_ms != 0 && now >= _stats_due_ms) {
    const SysSnapshot now_taken = _broker.take_snapshot();
    if (_broker.shard_id() == 0) {
      on_snapshot(0, now_taken);
      publish_statistics();
    } else if (_own != nullptr) {  // else the last one is still out: this one is skipped
      *_own = now_taken;
      _broker.send_sys_snapshot(_own.release());
    }
    _stats_due_ms = now + _config.interval_ms;
  }
  if (const uint64_t due = next_due()) {
    _broker.wheel().arm(*this, due);
  }
}

void SysPublisher::on_snapshot(uint16_t shard, const SysSnapshot& snapshot) {
  if (shard < _latest.size()) {
    _latest[shard] = snapshot;
  }
}

void SysPublisher::snapshot_back(SysSnapshot* snapshot) {
  PG_ASSERT(_own == nullptr);
  _own.reset(snapshot);
}

void mail::SysSnapshotMail::discard() const { delete snapshot; }
void mail::SysSnapshotBack::discard() const { delete snapshot; }

void SysPublisher::publish_statistics() {
  SysSnapshot total;
  for (const SysSnapshot& s : _latest) {
    total.stats.add(s.stats);
    total.clients_now += s.clients_now;
    total.subscriptions_now += s.subscriptions_now;
    total.retained_now += s.retained_now;
    total.held_bytes_now += s.held_bytes_now;
  }
  const BrokerStats& t = total.stats;
  const uint64_t uptime_s = (_broker.now_ms() - _started_ms) / 1000;
  auto put = [&](const char* name, uint64_t value) {
    publish(std::string("$SYS/broker/") + name, std::to_string(value), true);
  };
  publish("$SYS/broker/version", std::string("peregrine ") + PEREGRINE_VERSION, true);
  publish("$SYS/broker/uptime", std::to_string(uptime_s) + " seconds", true);
  put("clients/connected", total.clients_now);
  put("clients/total", t.clients_connected);
  put("messages/received", t.messages_in);
  put("messages/sent", t.messages_out);
  put("publish/messages/dropped",
      t.qos0_dropped + t.mailbox_dropped + t.queue_dropped + t.oversize_dropped +
          t.session_bytes_dropped + t.budget_dropped);
  // Memory held for slow or offline subscribers, and what its bounds dropped.
  put("sessions/held/bytes", total.held_bytes_now);
  put("sessions/held/dropped/session_limit", t.session_bytes_dropped);
  put("sessions/held/dropped/budget", t.budget_dropped);
  put("bytes/received", t.bytes_in);
  put("bytes/sent", t.bytes_out);
  put("subscriptions/count", total.subscriptions_now);
  put("retained messages/count", total.retained_now);
  // Every counter of the shutdown line as well, under its own name.
  t.for_each([&](const std::string& name, uint64_t value) {
    publish("$SYS/broker/counters/" + name, std::to_string(value), true);
  });
}

void SysPublisher::publish(const std::string& topic, std::string_view payload, bool retain) {
  _broker.publish_internal(topic, payload, retain);
}

std::string SysPublisher::json_string(std::string_view s) {
  return picojson::value(std::string(s)).serialize();
}

std::string SysPublisher::event_topic(std::string_view client_id, std::string_view event) const {
  const std::string_view scope = mqtt::scope_of(client_id);
  if (scope.empty()) {
    return _prefix + std::string(event);
  }
  // A virtual broker's: $SYS/<its name>/..., in its own topic space.
  std::string topic(scope);
  topic.append("$SYS/").append(mqtt::scope_name(client_id)).append("/").append(event);
  return topic;
}

void SysPublisher::client_connected(std::string_view client_id) {
  if (_config.events) {
    publish(event_topic(client_id, "new/clients"), mqtt::unscoped(client_id), false);
  }
}

void SysPublisher::client_disconnected(std::string_view client_id) {
  if (_config.events) {
    publish(event_topic(client_id, "disconnect/clients"), mqtt::unscoped(client_id), false);
  }
}

void SysPublisher::subscribed(std::string_view client_id, const std::string& subscriptions_json) {
  if (_config.events) {
    publish(event_topic(client_id, "new/subscribes"),
            "{\"clientId\":" + json_string(mqtt::unscoped(client_id)) + ",\"subs\":" +
                subscriptions_json + "}",
            false);
  }
}

void SysPublisher::unsubscribed(std::string_view client_id, const std::string& filters_json) {
  if (_config.events) {
    publish(event_topic(client_id, "new/unsubscribes"),
            "{\"clientId\":" + json_string(mqtt::unscoped(client_id)) + ",\"subs\":" +
                filters_json + "}",
            false);
  }
}

}  // namespace peregrine::broker
