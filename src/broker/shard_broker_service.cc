// ShardBroker's part of running as a service (issue 31): readiness, /metrics and /status
// gathered from every shard, and a reload's new configuration. The shard a request arrives on makes an
// OperatorReport, fills its own slot, lends it to every other shard (ReportAsk), and
// answers at a turn's end once each has filled its slot and sent it back (ReportBack).
#include <algorithm>

#include "src/base/assert.h"
#include "src/base/log.h"
#include "src/broker/client_connection.h"
#include "src/broker/operator_report.h"
#include "src/broker/shard_broker.h"

namespace peregrine::broker {

namespace {
const ProcessFacts kNoFacts;
}  // namespace

http::Readiness ShardBroker::readiness() const {
  if (_stopping) {
    return {false, false, "draining"};
  }
  if (!_listening) {
    return {false, true, "recovering"};
  }
  return {true, false, "ready"};
}

SysSnapshot ShardBroker::take_snapshot() const {
  SysSnapshot snapshot;
  snapshot.stats = _stats;
  snapshot.clients_now = _clients_now;
  snapshot.subscriptions_now = _subscriptions_now;
  snapshot.retained_now = _retained->size();
  snapshot.held_bytes_now = _held.bytes;
  snapshot.connections_now = _clients.size();
  snapshot.sessions_now = _sessions->size();
  snapshot.retained_bytes_now = _retained->bytes();
  snapshot.held_messages_now = _held.messages;
  snapshot.queued_messages_now = _held.queued_messages;
  snapshot.queued_bytes_now = _held.queued_bytes;
  snapshot.mailbox_depth_now = _shard->inbound_depth();
  snapshot.overflow_now = _shard->overflow_size();
  snapshot.busy_permille = _shard->busy_permille();
  snapshot.broker_clients.assign(_broker_clients.begin(), _broker_clients.end());
  std::sort(snapshot.broker_clients.begin(), snapshot.broker_clients.end());
  return snapshot;
}

void ShardBroker::operator_page(net::Connection* connection, http::OperatorPage page) {
  auto report = std::make_unique<OperatorReport>();
  report->page = page;
  report->origin = shard_id();
  report->waiter = static_cast<ClientConnection*>(connection)->id();
  OperatorReport* asked = report.get();
  if (_reports.size() >= kMaxReports || _stopping) {
    // Scrapers piling up faster than the shards answer: refused, never queued without
    // bound (answered at the turn's end like the others). Stopping, shards that have
    // drained are gone and could not answer.
    asked->remaining = 0;
    asked->shards.clear();
    _reports.push_back(std::move(report));
    _reports_done.push_back(asked);
    return;
  }
  asked->shards.resize(_shard->count());
  asked->remaining = _shard->count();
  _reports.push_back(std::move(report));
  _outbox->post_to_others(mail::ReportAsk{asked});
  handle(mail::ReportAsk{asked}, shard_id());
}

void ShardBroker::handle(const mail::ReportAsk& m, uint16_t) {
  OperatorReport& report = *m.report;
  PG_ASSERT(report.shards.size() == _shard->count());
  ShardFigures& mine = report.shards[shard_id()];  // this shard's slot alone
  mine.now = take_snapshot();
  uint64_t age_ms = 0;
  if (const BrokerStats* earlier = _history.window_start(now_ms(), &age_ms)) {
    mine.window_start = *earlier;
    mine.window_ms = age_ms;
  }
  if (report.origin == shard_id()) {
    handle(mail::ReportBack{m.report}, shard_id());
  } else {
    _outbox->post(report.origin, mail::ReportBack{m.report});
  }
}

void ShardBroker::handle(const mail::ReportBack& m, uint16_t) {
  OperatorReport& report = *m.report;
  PG_ASSERT(report.origin == shard_id() && report.remaining > 0);
  if (--report.remaining == 0) {
    _reports_done.push_back(m.report);
  }
}

// At a turn's end: every finished report is rendered and answered (the connection may
// have gone meanwhile: then only freed).
void ShardBroker::finish_reports() {
  const ProcessFacts& facts = _config.process != nullptr ? *_config.process : kNoFacts;
  for (OperatorReport* report : _reports_done) {
    if (ClientConnection* connection = find_client(report->waiter)) {
      if (report->shards.empty()) {
        connection->answer_page(503, "text/plain; charset=utf-8",
                                _stopping ? "draining: the broker is stopping\n"
                                          : "too many operator pages in the making; try "
                                            "again\n");
      } else if (report->page == http::OperatorPage::kMetrics) {
        connection->answer_page(200, "text/plain; version=0.0.4; charset=utf-8",
                                render_metrics(report->shards, facts, readiness()));
      } else {
        connection->answer_page(200, "text/html; charset=utf-8",
                                render_status(report->shards, facts, readiness(),
                                              wall_clock_ms()));
      }
    }
    std::erase_if(_reports, [report](const auto& held) { return held.get() == report; });
  }
  _reports_done.clear();
}

void ShardBroker::reconfigure(const BrokerConfig& next) {
  _config.limits = next.limits;  // read at each use, and by reference (RetainedRouter)
  _held.limit = _config.limits.held_bytes_budget / _shard->count();
  _retained->limits_changed();
  _config.acl = next.acl;
  _config.authorizer = next.authorizer;
  _fan_out->set_authorizer(next.authorizer);
  _config.drain_timeout_ms = next.drain_timeout_ms;
  _config.rehome_publishers = next.rehome_publishers;
  _rehome->set_enabled(next.rehome_publishers);
  _config.sys = next.sys;
  if (!_stopping) {
    _sys->reconfigure(next.sys);
  }
  _config.process = next.process;
  _config.control.issuer = next.control.issuer;
  _config.control.configured_keys = next.control.configured_keys;
  _control->reconfigure(next.control);
  _config.auth_methods = next.auth_methods;
  if (next.authenticator != _config.authenticator) {
    _config.authenticator = next.authenticator;
    if (_authenticator != nullptr) {
      _retired_authenticators.push_back(std::move(_authenticator));
    }
    _authenticator = next.authenticator != nullptr ? next.authenticator->make() : nullptr;
    if (_authenticator != nullptr) {
      _authenticator->use_broker_keys(_control->public_keys());  // as they are now
    }
  }
}

}  // namespace peregrine::broker
