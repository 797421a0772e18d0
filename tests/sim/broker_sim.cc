#include "tests/sim/broker_sim.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "src/mqtt/codec.h"
#include "src/store/shard_log.h"
#include "tests/sim/sim_client.h"
#include "tests/sim/sim_floor.h"

namespace peregrine::sim {

namespace {

constexpr uint64_t kNever = UINT64_MAX;
constexpr int kTopics = 6;

struct PublishRecord {
  std::string publisher;
  std::string topic;
  uint8_t qos;
  bool retain;
  uint64_t sent_at;
  uint64_t acked_at = kNever;
  // Sent again after a reconnect (DUP): a QoS 1 resend is a new routing of the message,
  // so where it lands relative to the publisher's later ones is not an order promise.
  bool resent = false;
  // QoS 2 that may be routed twice, so that a second copy is counted, not a failure:
  // unacknowledged (no PUBREC) when the broker crashed (it may have reached subscribers
  // before, and the publisher's resend is routed again: Session::answered_inbound_qos2),
  // or unacknowledged while the disk was full (refused with PUBREC 0x97 after it reached
  // some subscribers; a client that never saw the refusal sends it again, a new message
  // for the broker, whose flow for that id ended).
  bool may_repeat = false;
};

struct SubInterval {
  std::string filter;
  uint8_t requested;
  uint64_t epoch;
  uint64_t sent_at;
  uint8_t granted = 0;
  uint64_t suback_at = kNever;
  uint64_t unsub_sent_at = kNever;
  uint64_t unsuback_at = kNever;
  // Withdrawn before a crash with no UNSUBACK yet (it waits for the write), or refused
  // for a full disk: the broker may have it again (deliveries for it are allowed, none
  // are owed). An UNSUBACK that came means it is gone for good.
  bool maybe_back = false;
};

class Simulation;

// One simulated client and what the checker knows of its session.
struct Actor final : ClientEvents {
  Simulation* sim = nullptr;
  std::unique_ptr<SimClient> client;
  bool persistent = false;  // a long expiry (v5), clean_start = false but now and then
  bool clean_asked = false;  // its last CONNECT asked for a clean start
  // A clean start not yet answered: the client dropped its own state when it sent it, so
  // it asks again until a CONNACK says the broker did too (else the broker's older
  // session, never told, would resend what the client forgot).
  bool clean_unanswered = false;
  uint64_t epoch = 0;       // non-persistent: a new session per connection
  bool session_known = false;
  std::vector<SubInterval> subs;
  std::map<uint16_t, size_t> pending_sub;               // SUBSCRIBE id → subs index
  std::map<uint16_t, std::vector<size_t>> pending_unsub;  // UNSUBSCRIBE id → subs indexes
  std::map<uint16_t, uint64_t> pending_pub;             // own packet id → record
  std::set<uint64_t> seen;                              // records delivered this epoch
  std::set<uint64_t> seen_qos2;
  std::map<std::string, uint64_t> last_fresh;  // publisher → newest QoS >= 1 record

  void on_message(const Received& r) override;
  void on_acked(uint16_t id, uint8_t qos, mqtt::ReasonCode reason) override;
  void on_suback(uint16_t id, const std::vector<mqtt::ReasonCode>& reasons) override;
  void on_unsuback(uint16_t id, const std::vector<mqtt::ReasonCode>& reasons) override;
  void on_connack(const mqtt::Connack& connack) override;
  // The broker is about to crash: what of this session must survive it.
  void before_crash();
  // Its unacknowledged QoS 2 messages may be routed twice (PublishRecord::may_repeat).
  void note_may_repeat();
  // A new session: what the last one subscribed and owed is gone with it.
  void new_epoch() {
    epoch++;
    seen.clear();
    seen_qos2.clear();
    last_fresh.clear();
    pending_pub.clear();
  }
};

class Simulation {
 public:
  explicit Simulation(const SimRunOptions& options);
  SimRunResult run();

  void fail(const std::string& what) {
    if (_result.ok) {
      _result.ok = false;
      char at[96];
      std::snprintf(at, sizeof at, " (seed %" PRIu64 ", step %" PRIu64 ", event %" PRIu64 ")",
                    _options.seed, _step, _now);
      _result.failure = what + at;
    }
  }
  uint64_t tick() { return ++_now; }
  bool verbose() const { return _options.verbose; }
  // A publish to `topic`, QoS 1, by a connected client chosen by the seed: right after a
  // SUBACK, it checks that the route was applied on every shard before SUBACK left.
  void probe(const std::string& topic);
  void trace(const std::string& line) {
    if (_options.verbose) {
      std::printf("[%llu] %s\n", (unsigned long long)_now, line.c_str());
    }
  }
  std::vector<PublishRecord>& records() { return _records; }
  bool disk_was_full() const { return _disk_was_full; }
  // Writes may still be refused: the disk is full, or a log that could not make a
  // segment while it was has not tried again yet (at most ShardLog::kRetryMs later).
  bool log_may_refuse() const {
    return _floor->disk().full() ||
           (_disk_was_full && _floor->clock().now_ms() < _room_again_ms + store::ShardLog::kRetryMs);
  }
  void note_repeat() { _repeats++; }
  void note_delivery(const Actor& actor, const Received& r) {
    digest(actor.client->id());
    digest(r.payload);
    digest(std::string(1, static_cast<char>('0' + r.qos + (r.dup ? 4 : 0))));
    _result.delivered++;
  }

 private:
  void act(Actor& actor);
  void connect(Actor& actor);
  void crash();
  void poll_all();
  void finish();
  void check_owed();
  void digest(const std::string& s) {
    for (unsigned char c : s) {
      _result.digest = (_result.digest ^ c) * 1099511628211ULL;
    }
  }
  std::string topic() { return "t/" + std::to_string(_floor->random().below(kTopics)); }
  std::string filter() {
    switch (_floor->random().below(4)) {
      case 0: return "t/#";
      case 1: return "t/+";
      default: return topic();
    }
  }

  SimRunOptions _options;
  SimRunResult _result;
  std::unique_ptr<SimFloor> _floor;
  std::vector<std::unique_ptr<Actor>> _actors;
  std::vector<PublishRecord> _records;
  uint64_t _now = 0;
  uint64_t _step = 0;
  uint64_t _probes = 0;
  // Persistence: the log's directory (removed at the end) and the steps after which the
  // broker crashes and restarts on it.
  std::string _state_dir;
  bool _fsync_always = false;
  std::set<uint64_t> _crash_steps;
  // Steps at which the disk fills up, each for a while; refusals are expected once one
  // began (a v5 0x97, a SUBACK 0x83, a 3.1.1 connection closed).
  std::map<uint64_t, uint64_t> _full_from_to;
  bool _disk_was_full = false;
  uint64_t _room_again_ms = 0;  // when the disk last had room again
  uint64_t _repeats = 0;
  bool _count_filters = false;  // max_subscribers_per_filter set  // second QoS 2 copies allowed (PublishRecord::may_repeat)
};

// A directory of the run's own for the shards' logs: in memory where /dev/shm is (a
// sync is then free, and the SimDisk models what a crash keeps).
std::string make_state_dir() {
  std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string path = base + "/peregrine-sim-XXXXXX";
  if (mkdtemp(path.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  return path;
}

// ---- what each client sees ------------------------------------------------------------

void Actor::on_connack(const mqtt::Connack& connack) {
  if (connack.reason != mqtt::ReasonCode::kSuccess) {
    return;
  }
  if (persistent) {
    clean_unanswered = false;
    if (clean_asked && connack.session_present) {
      sim->fail("clean start of " + client->id() + " answered with a session present");
    }
    // After a clean start the old session is gone for good: CONNACK waited for the
    // records that say so, and a crash that brought it back would deliver what its
    // subscriptions (of an older epoch) match.
    if (!clean_asked && session_known && !connack.session_present) {
      sim->fail("persistent session of " + client->id() + " reported missing");
    }
    if (!connack.session_present) {
      new_epoch();  // first connection, or a crash took a session nothing made durable
    }
    session_known = true;
  }
  if (connack.session_present) {
    for (const auto& [id, index] : pending_pub) {
      sim->records()[index].resent = true;  // SimClient sends them again now
    }
  }
}

void Actor::before_crash() {
  if (persistent) {
    // A SUBACK leaves once its write (after the session's own, in the same log) is done:
    // such a session must come back. One with nothing acknowledged may or may not.
    bool durable = false;
    for (const SubInterval& sub : subs) {
      durable = durable || (sub.epoch == epoch && sub.suback_at != kNever);
    }
    session_known = session_known && durable;
  }
  note_may_repeat();
  for (SubInterval& sub : subs) {
    if (sub.epoch == epoch && sub.unsub_sent_at != kNever && sub.unsuback_at == kNever) {
      sub.maybe_back = true;
    }
  }
}

void Actor::note_may_repeat() {
  for (const auto& [id, index] : pending_pub) {
    PublishRecord& record = sim->records()[index];
    record.may_repeat = record.may_repeat || record.qos == 2;
  }
}

void Actor::on_suback(uint16_t id, const std::vector<mqtt::ReasonCode>& reasons) {
  auto it = pending_sub.find(id);
  if (it == pending_sub.end()) {
    return;
  }
  SubInterval& sub = subs[it->second];
  pending_sub.erase(it);
  if (reasons.size() == 1 && sim->disk_was_full() &&
      (reasons[0] == mqtt::ReasonCode::kImplementationSpecificError ||
       reasons[0] == mqtt::ReasonCode::kUnspecifiedError)) {
    // Its write failed (a full disk): taken back. Deliveries before now it explains.
    sub.unsub_sent_at = sub.unsuback_at = sim->tick();
    sim->trace(client->id() + " suback " + sub.filter + " refused: the disk was full");
    return;
  }
  if (reasons.size() != 1 || mqtt::is_error(reasons[0])) {
    sim->fail("SUBSCRIBE " + sub.filter + " of " + client->id() + " refused");
    return;
  }
  sub.granted = static_cast<uint8_t>(reasons[0]);
  sub.suback_at = sim->tick();
  if (sub.filter.rfind("p/", 0) == 0) {
    sim->probe(sub.filter);  // someone publishes to it at once, from wherever they are
  }
  sim->trace(client->id() + " suback " + sub.filter + " granted " + std::to_string(sub.granted));
  if (sub.granted > sub.requested) {
    sim->fail("SUBACK granted more than asked");
  }
}

void Actor::on_unsuback(uint16_t id, const std::vector<mqtt::ReasonCode>& reasons) {
  auto it = pending_unsub.find(id);
  if (it == pending_unsub.end()) {
    return;
  }
  const uint64_t now = sim->tick();
  const bool refused = std::any_of(reasons.begin(), reasons.end(),
                                   [](mqtt::ReasonCode r) { return mqtt::is_error(r); });
  if (refused && !sim->disk_was_full()) {
    sim->fail("UNSUBSCRIBE of " + client->id() + " refused");
  }
  for (size_t index : it->second) {
    if (refused) {
      // Its write failed (a full disk): the broker put the filter back. Its deliveries
      // are allowed from here on; none are owed (its routes reach the other shards later).
      subs[index].maybe_back = true;
      sim->trace(client->id() + " unsubscribe " + subs[index].filter +
                 " refused: the disk was full");
    } else {
      subs[index].unsuback_at = now;
    }
  }
  pending_unsub.erase(it);
}

void Actor::on_acked(uint16_t id, uint8_t, mqtt::ReasonCode reason) {
  auto it = pending_pub.find(id);
  if (it == pending_pub.end()) {
    return;
  }
  if (reason == mqtt::ReasonCode::kQuotaExceeded && sim->disk_was_full()) {
    // A durable session's write failed (a full disk): refused, and so never owed.
    sim->trace(client->id() + " m" + std::to_string(it->second) + " refused: the disk was full");
    pending_pub.erase(it);
    return;
  }
  if (mqtt::is_error(reason)) {
    sim->fail("PUBLISH refused with a reason code");
  }
  sim->records()[it->second].acked_at = sim->tick();
  sim->trace(client->id() + " acked m" + std::to_string(it->second));
  pending_pub.erase(it);
}

void Actor::on_message(const Received& r) {
  const uint64_t now = sim->tick();
  sim->note_delivery(*this, r);
  sim->trace(client->id() + " got " + r.payload + " qos " + std::to_string(r.qos) +
             (r.dup ? " dup" : ""));
  if (r.payload.size() < 2 || r.payload[0] != 'm') {
    sim->fail("unknown payload delivered to " + client->id());
    return;
  }
  const uint64_t index = std::stoull(r.payload.substr(1));
  if (index >= sim->records().size()) {
    sim->fail("payload of a message never published");
    return;
  }
  const PublishRecord& m = sim->records()[index];
  if (m.topic != r.topic) {
    sim->fail("message delivered on another topic");
  }
  // Some subscription of this session asked for it, and was not withdrawn (UNSUBACK
  // received) before the message was sent; a retained one may be older.
  bool asked = false;
  for (const SubInterval& sub : subs) {
    if (sub.epoch == epoch && sub.sent_at <= now && mqtt::topic_matches(sub.filter, r.topic) &&
        (r.retain || sub.unsuback_at == kNever || sub.unsuback_at > m.sent_at ||
         sub.maybe_back)) {
      asked = true;
      break;
    }
  }
  if (!asked) {
    sim->fail("message m" + std::to_string(index) + " on " + r.topic + " delivered to " +
              client->id() + " that had no subscription for it");
  }
  if (r.retain) {
    // Retained on subscribe (no subscription here asks Retain As Published): it may come
    // again and out of order, but only for a subscription whose SUBACK it was published
    // before. One published after is the live path's alone (scan_cut.h): a scan that
    // delivered it would deliver it twice.
    bool before_suback = false;
    for (const SubInterval& sub : subs) {
      if (sub.epoch == epoch && sub.sent_at <= now && mqtt::topic_matches(sub.filter, r.topic) &&
          (sub.suback_at == kNever || m.sent_at <= sub.suback_at)) {
        before_suback = true;
        break;
      }
    }
    if (!before_suback) {
      sim->fail("retained copy of m" + std::to_string(index) + " on " + r.topic + " reached " +
                client->id() + ", published after the SUBACK of each subscription for it");
    }
    return;
  }
  if (r.qos == 2 && !seen_qos2.insert(index).second) {
    if (m.may_repeat) {
      sim->note_repeat();
      sim->trace("QoS 2 m" + std::to_string(index) + " again to " + client->id() +
                 ": it was in flight at a crash or refused for a full disk");
    } else {
      sim->fail("QoS 2 message m" + std::to_string(index) + " delivered twice to " +
                client->id());
    }
  }
  const bool fresh = seen.insert(index).second;
  if (fresh && r.qos >= 1 && !m.resent) {
    uint64_t& last = last_fresh[m.publisher];
    if (last != 0 && index < last && sim->verbose()) {
      const PublishRecord& newer = sim->records()[last];
      std::printf("order: m%llu qos=%u sent=%llu dup=%d delivered qos=%u; m%llu qos=%u sent=%llu\n",
                  (unsigned long long)index, m.qos, (unsigned long long)m.sent_at, r.dup, r.qos,
                  (unsigned long long)last, newer.qos, (unsigned long long)newer.sent_at);
    }
    if (last != 0 && index < last) {
      sim->fail("order: m" + std::to_string(index) + " from " + m.publisher + " reached " +
                client->id() + " after m" + std::to_string(last));
    }
    last = std::max(last, index);
  }
}

// ---- the run --------------------------------------------------------------------------

Simulation::Simulation(const SimRunOptions& options) : _options(options) {
  SimRandom setup(options.seed ^ 0x5EED5EED5EEDull);
  FloorOptions floor;
  floor.shards = options.shards != 0 ? options.shards
                                     : static_cast<uint16_t>(setup.between(2, 4));
  floor.mailbox_capacity = uint32_t{1} << setup.between(3, 7);  // 8-128: full ones happen
  floor.faults.short_read = static_cast<uint32_t>(setup.between(0, 60));
  floor.faults.short_write = static_cast<uint32_t>(setup.between(0, 40));
  floor.faults.delay = static_cast<uint32_t>(setup.between(0, 40));
  floor.stall = static_cast<uint32_t>(setup.between(0, 20));
  floor.mail_delay = static_cast<uint32_t>(setup.between(0, 50));
  Limits& limits = floor.broker.limits;
  limits.max_inflight = static_cast<uint32_t>(setup.between(1, 16));  // queues fill
  limits.max_queued_messages = 1'000'000;  // no bound drops what the checks require
  limits.max_queued_bytes = 1ull << 32;
  limits.outbound_buffer_bytes = 64 << 20;
  limits.max_session_expiry = 24 * 3600;
  limits.mailbox_overflow_limit = static_cast<uint32_t>(setup.between(16, 4096));
  floor.broker.rehome_publishers = setup.chance(50);
  // Half the runs count subscribers per filter (never reaching the bound: the checks
  // require every SUBSCRIBE granted): SUBSCRIBEs park for other shards' answers, input
  // paused, under the same faults and crashes.
  _count_filters = setup.chance(50);
  limits.max_subscribers_per_filter = _count_filters ? 1'000'000 : 0;
  // Persistence in most runs: every shard logs, and the broker crashes (kill -9, or a
  // power failure under fsync "always") and restarts on its log one to three times.
  if (setup.chance(60)) {
    _state_dir = make_state_dir();
    floor.state_dir = _state_dir;
    _fsync_always = setup.chance(50);
    floor.fsync = _fsync_always ? store::FsyncPolicy::kAlways : store::FsyncPolicy::kInterval;
    const uint64_t crashes = setup.between(1, 3);
    for (uint64_t i = 0; i < crashes && options.crash && options.steps >= 10; ++i) {
      _crash_steps.insert(setup.between(options.steps / 10, options.steps * 9 / 10));
    }
    // A third of them fill the disk once or twice (a crash may come while it is full).
    const uint64_t episodes = setup.chance(33) ? setup.between(1, 2) : 0;
    for (uint64_t i = 0; i < episodes && options.steps >= 10; ++i) {
      const uint64_t from = setup.between(options.steps / 10, options.steps * 8 / 10);
      _full_from_to[from] = from + setup.between(5, 100);
    }
  }
  _floor = std::make_unique<SimFloor>(options.seed, floor);
  const uint32_t clients = options.clients != 0 ? options.clients
                                                : static_cast<uint32_t>(setup.between(20, 60));
  for (uint32_t i = 0; i < clients; ++i) {
    auto actor = std::make_unique<Actor>();
    actor->sim = this;
    actor->persistent = setup.chance(50);
    const auto version = setup.chance(50) ? mqtt::ProtocolVersion::kV5
                                          : mqtt::ProtocolVersion::kV311;
    std::string client_id = "c";  // (not "c" + ...: GCC 12's -Wrestrict false positive)
    client_id += std::to_string(i);
    actor->client = std::make_unique<SimClient>(*_floor, client_id, version, actor.get());
    _actors.push_back(std::move(actor));
  }
  _result.summary = "shards=" + std::to_string(floor.shards) +
                    " clients=" + std::to_string(clients) +
                    " mailbox=" + std::to_string(floor.mailbox_capacity) +
                    " inflight=" + std::to_string(limits.max_inflight) +
                    (_count_filters ? " filter_counts=on" : "") +
                    " faults(read/write/delay/stall/mail)=" +
                    std::to_string(floor.faults.short_read) + "/" +
                    std::to_string(floor.faults.short_write) + "/" +
                    std::to_string(floor.faults.delay) + "/" + std::to_string(floor.stall) +
                    "/" + std::to_string(floor.mail_delay) +
                    " rehome=" + (floor.broker.rehome_publishers ? "on" : "off") +
                    " log=" + (_state_dir.empty() ? "off" : _fsync_always ? "always" : "interval") +
                    " crashes=" + std::to_string(_crash_steps.size()) +
                    " disk_full=" + std::to_string(_full_from_to.size());
}

void Simulation::crash() {
  for (auto& actor : _actors) {
    actor->before_crash();
  }
  // A power failure breaks only the promise of fsync "always"; "interval" promises
  // nothing acknowledged is lost to a kill -9, and that is its crash here.
  const bool power = _fsync_always && _floor->random().chance(50);
  const uint64_t lost = _floor->crash_and_restart(power);
  trace(std::string(power ? "power failure" : "kill -9") + ": the disk lost " +
        std::to_string(lost) + " bytes; restarted");
  digest(power ? "power" : "kill");
  tick();
  poll_all();  // every client sees its connection reset
}

void Simulation::connect(Actor& actor) {
  SimClient& c = *actor.client;
  const auto shard = static_cast<uint16_t>(_floor->random().below(_floor->shards()));
  if (!actor.persistent) {
    actor.new_epoch();  // a new session per connection
  }
  actor.pending_sub.clear();
  actor.pending_unsub.clear();
  // A persistent v5 client now and then starts clean: its old session ends, a new one
  // (as persistent: its expiry is long) begins. (3.1.1's clean session is not persistent.)
  const bool clean = !actor.persistent || actor.clean_unanswered ||
                     (c.v5() && _floor->random().chance(12));
  actor.clean_asked = clean;
  actor.clean_unanswered = actor.persistent && clean;
  c.connect(shard, clean, actor.persistent && c.v5() ? 3600 : 0);
  tick();
  trace(c.id() + " connect on " + std::to_string(shard) + (actor.persistent ? " persistent" : "") +
        (actor.persistent && clean ? " clean" : ""));
}

void Simulation::act(Actor& actor) {
  SimClient& c = *actor.client;
  SimRandom& random = _floor->random();
  if (!c.connection_open()) {
    if (random.chance(30)) {
      connect(actor);
    }
    return;
  }
  if (!c.connected()) {
    if (random.chance(2)) {
      c.drop();  // gave up waiting for CONNACK
    }
    return;
  }
  const uint64_t roll = random.below(1000);
  if (roll < 80) {
    SubInterval sub{filter(), static_cast<uint8_t>(random.below(3)), actor.epoch, tick()};
    // A repeated filter replaces the subscription's options [MQTT-3.8.4-3]: what the old
    // one owed ends here (it still explains deliveries: the filter stays subscribed).
    for (SubInterval& old : actor.subs) {
      if (old.epoch == actor.epoch && old.filter == sub.filter && old.unsub_sent_at == kNever) {
        old.unsub_sent_at = sub.sent_at;
      }
    }
    const uint16_t id = c.subscribe(sub.filter, sub.requested);
    trace(c.id() + " subscribe " + sub.filter + " qos " + std::to_string(sub.requested));
    actor.pending_sub[id] = actor.subs.size();
    actor.subs.push_back(sub);
  } else if (roll < 120) {
    std::vector<size_t> live;
    for (size_t i = 0; i < actor.subs.size(); ++i) {
      if (actor.subs[i].epoch == actor.epoch && actor.subs[i].unsub_sent_at == kNever) {
        live.push_back(i);
      }
    }
    if (live.empty()) {
      return;
    }
    const std::string target = actor.subs[live[random.below(live.size())]].filter;
    const uint64_t now = tick();
    std::vector<size_t> withdrawn;
    for (size_t i : live) {
      if (actor.subs[i].filter == target) {
        actor.subs[i].unsub_sent_at = now;
        withdrawn.push_back(i);
      }
    }
    actor.pending_unsub[c.unsubscribe(target)] = withdrawn;
    trace(c.id() + " unsubscribe " + target);
  } else if (roll < 600) {
    const auto qos = static_cast<uint8_t>(random.below(3));
    const bool retain = random.chance(3);
    const uint64_t index = _records.size();
    _records.push_back({c.id(), topic(), qos, retain, tick()});
    _records.back().may_repeat = qos == 2 && log_may_refuse();
    const uint16_t id = c.publish(_records.back().topic, "m" + std::to_string(index), qos,
                                  retain);
    _result.published++;
    if (qos > 0) {
      actor.pending_pub[id] = index;
    }
    trace(c.id() + " publish m" + std::to_string(index) + " qos " + std::to_string(qos) +
          " on " + _records.back().topic + " id " + std::to_string(id));
  } else if (roll < 615) {
    c.disconnect();
    tick();
    trace(c.id() + " disconnect");
  } else if (roll < 630) {
    c.drop();
    tick();
    trace(c.id() + " drop");
  } else if (roll < 640) {
    connect(actor);  // over the live connection: the broker takes the session over
  } else if (roll < 660) {
    // A filter nobody else has: its SUBSCRIBE changes the routes of every shard.
    SubInterval sub{"p/" + std::to_string(_probes++), 1, actor.epoch, tick()};
    actor.pending_sub[c.subscribe(sub.filter, 1)] = actor.subs.size();
    actor.subs.push_back(sub);
  } else if (roll < 642) {
    c.send_raw(std::string("\x30\xff\xff\xff\xff\x01", 6));  // a length past four bytes
    tick();
  }
}

void Simulation::probe(const std::string& topic) {
  std::vector<Actor*> ready;
  for (auto& actor : _actors) {
    if (actor->client->connected()) {
      ready.push_back(actor.get());
    }
  }
  if (ready.empty()) {
    return;
  }
  Actor& actor = *ready[_floor->random().below(ready.size())];
  const uint64_t index = _records.size();
  _records.push_back({actor.client->id(), topic, 1, false, tick()});
  actor.pending_pub[actor.client->publish(topic, "m" + std::to_string(index), 1)] = index;
  _result.published++;
  trace(actor.client->id() + " probes m" + std::to_string(index) + " on " + topic);
}

void Simulation::poll_all() {
  for (auto& actor : _actors) {
    actor->client->poll();
  }
}

SimRunResult Simulation::run() {
  for (_step = 0; _step < _options.steps && _result.ok; ++_step) {
    const uint32_t actions = static_cast<uint32_t>(_floor->random().between(1, 8));
    for (uint32_t i = 0; i < actions; ++i) {
      act(*_actors[_floor->random().below(_actors.size())]);
    }
    _floor->step(_floor->random().below(4));
    poll_all();
    if (_crash_steps.count(_step) != 0 && _result.ok) {
      crash();
    }
    for (const auto& [from, to] : _full_from_to) {
      if (_step == from) {
        _floor->disk().set_full(true);
        _disk_was_full = true;
        trace("the disk is full");
        for (auto& actor : _actors) {
          actor->note_may_repeat();
        }
      } else if (_step == to) {
        _floor->disk().set_full(false);
        _room_again_ms = _floor->clock().now_ms();
        trace("the disk has room again");
      }
    }
    for (uint16_t s = 0; s < _floor->shards() && _result.ok; ++s) {
      const std::string broken = _floor->broker(s).check_bounds();
      if (!broken.empty()) {
        fail("shard " + std::to_string(s) + ": " + broken);
      }
    }
  }
  _floor->disk().set_full(false);  // the settle at the end needs room
  if (_result.ok) {
    finish();
  }
  if (_result.ok) {
    check_owed();
  }
  const broker::BrokerStats stats = _floor->stats();
  _result.summary += " queue_dropped=" + std::to_string(stats.queue_dropped) +
                     " mailbox_dropped=" + std::to_string(stats.mailbox_dropped) +
                     " takeovers=" + std::to_string(stats.takeovers) +
                     " migrations=" + std::to_string(stats.migrations) +
                     " rehomed=" + std::to_string(stats.sessions_rehomed) +
                     " qos2_repeats=" + std::to_string(_repeats);
  digest(std::to_string(stats.messages_in) + "/" + std::to_string(stats.messages_out));
  _floor->stop();
  if (!_state_dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(_state_dir, ignored);
  }
  for (const PublishRecord& r : _records) {
    _result.acknowledged += r.acked_at != kNever;
  }
  return _result;
}

void Simulation::finish() {
  // Every persistent client comes back; the rest stay as they are. Then nothing new
  // happens until every queue has drained and every flow is finished: quiet rings and
  // mailboxes, nobody waiting, and no delivery for a while (a subscriber's ack frees a
  // window slot for what its session queued).
  uint64_t still = 0;
  uint64_t delivered = _result.delivered;
  for (uint32_t step = 0; step < 2'000'000; ++step) {
    bool waiting = false;
    for (auto& actor : _actors) {
      SimClient& c = *actor->client;
      if (actor->persistent && !c.connection_open()) {
        connect(*actor);
      }
      waiting = waiting || (c.connection_open() && (!c.connected() || c.unacked() != 0 ||
                                                    !actor->pending_sub.empty() ||
                                                    !actor->pending_unsub.empty()));
    }
    _floor->step(1);
    poll_all();
    const bool moved = _result.delivered != delivered;
    delivered = _result.delivered;
    still = !waiting && !moved && _floor->quiet() ? still + 1 : 0;
    if (still >= 50) {
      return;
    }
  }
  if (_options.verbose) {
    for (auto& actor : _actors) {
      const SimClient& c = *actor->client;
      if (c.connection_open() && (!c.connected() || c.unacked() != 0 ||
                                  !actor->pending_sub.empty() || !actor->pending_unsub.empty())) {
        std::printf("%s waits: connected=%d unacked=%zu subs=%zu unsubs=%zu persistent=%d\n",
                    c.id().c_str(), c.connected(), c.unacked(), actor->pending_sub.size(),
                    actor->pending_unsub.size(), actor->persistent);
      }
    }
  }
  fail("the floor did not settle: flows still open after the run");
}

void Simulation::check_owed() {
  const broker::BrokerStats stats = _floor->stats();
  if (stats.queue_dropped != 0 || stats.expired_dropped != 0 || stats.oversize_dropped != 0) {
    fail("a bound dropped messages the run left room for");
    return;
  }
  for (size_t index = 0; index < _records.size() && _result.ok; ++index) {
    const PublishRecord& m = _records[index];
    if (m.qos == 0 || m.acked_at == kNever) {
      continue;
    }
    for (auto& actor : _actors) {
      const SimClient& c = *actor->client;
      const bool alive = actor->persistent ? actor->session_known : c.connected();
      if (!alive) {
        continue;
      }
      bool owed = false;
      for (const SubInterval& sub : actor->subs) {
        if (sub.epoch == actor->epoch && sub.granted >= 1 && sub.suback_at < m.sent_at &&
            sub.unsub_sent_at == kNever && mqtt::topic_matches(sub.filter, m.topic)) {
          owed = true;
          break;
        }
      }
      if (!owed) {
        continue;
      }
      if (actor->seen.count(index) == 0) {
        if (_options.verbose) {
          std::printf("%s: persistent=%d epoch=%llu open=%d connected=%d\n", c.id().c_str(),
                      actor->persistent, (unsigned long long)actor->epoch,
                      c.connection_open(), c.connected());
          for (const SubInterval& sub : actor->subs) {
            std::printf("  sub %s req=%u granted=%u epoch=%llu sent=%llu suback=%lld "
                        "unsub_sent=%lld unsuback=%lld\n",
                        sub.filter.c_str(), sub.requested, sub.granted,
                        (unsigned long long)sub.epoch, (unsigned long long)sub.sent_at,
                        (long long)sub.suback_at, (long long)sub.unsub_sent_at,
                        (long long)sub.unsuback_at);
          }
          std::printf("  m%zu sent=%llu acked=%llu\n", index, (unsigned long long)m.sent_at,
                      (unsigned long long)m.acked_at);
        }
        fail("acknowledged m" + std::to_string(index) + " (QoS " + std::to_string(m.qos) +
             " on " + m.topic + " from " + m.publisher + ") never reached " + c.id());
        return;
      }
      _result.checked++;
    }
  }
}

}  // namespace

SimRunResult run_simulation(const SimRunOptions& options) {
  Simulation simulation(options);
  return simulation.run();
}

}  // namespace peregrine::sim
