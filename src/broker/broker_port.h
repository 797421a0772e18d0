// What a client — the MQTT side of one connection — uses of its shard's broker: the
// shard's config, limits, counters and decode scratch as plain members (read on every
// packet, so no virtual call), and the broker's operations, which ShardBroker implements.
// Client sees the broker only through this, so the broker may include the client and
// not the other way round. Lives on its shard's thread; a client uses the port of the
// shard it is on (its host changes when it migrates or is rehomed).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "include/peregrine/authenticator.h"
#include "include/peregrine/authorizer.h"
#include "include/peregrine/control_store.h"
#include "include/peregrine/durable_log.h"
#include "src/broker/control_plane.h"
#include "include/peregrine/enhanced_auth.h"
#include "include/peregrine/options.h"
#include "src/broker/broker_stats.h"
#include "src/broker/retain_outcome.h"
#include "src/broker/session_host.h"
#include "src/broker/virtual_brokers.h"
#include "src/http/admin_call.h"
#include "src/mqtt/packets.h"
#include "src/net/connection.h"

namespace peregrine::broker {

struct ProcessFacts;
class ConnectionSlots;
class Client;
class Session;

struct BrokerConfig {
  Limits limits;
  SysTopics sys;
  Acl acl;                                // the answers to denials
  const Authorizer* authorizer = nullptr;  // nullptr: allow everything; shared, read-only
  std::vector<const EnhancedAuthMethod*> auth_methods;  // shared, read-only
  // Makes each shard's Authenticator (nullptr: everyone anonymous, as embedders and
  // the simulated floor have it); shared, read-only, outlives the shards.
  const AuthenticatorFactory* authenticator = nullptr;
  // The control plane (control_plane.h): revocations and the broker's keys at start,
  // their bounds, where shard 0 saves changes and who signs. Outlives the shards.
  ControlSettings control;
  // Opens each shard's durable log (persistence on); nullptr: a pure in-memory broker.
  // Shared, read-only, outlives the shards.
  const DurableLogFactory* durable_log = nullptr;
  // Move a publisher-only session to the one shard its messages go to (rehome_policy.h).
  bool rehome_publishers = true;
  uint32_t drain_timeout_ms = 5000;  // SIGTERM: the goodbye's linger (Options)
  // What the operator's pages say the process is (operator_report.h); shared, read-only.
  const ProcessFacts* process = nullptr;
  // MQTT clients connected against max_connections (nullptr: no count, no bound).
  ConnectionSlots* slots = nullptr;
};

class BrokerPort : public net::ConnectionHost, public SessionHost {
 public:
  static constexpr size_t kNoOverflow = 0;
  explicit BrokerPort(const BrokerConfig& config)
      : _config(config),
        _authenticator(config.authenticator != nullptr ? config.authenticator->make() : nullptr) {}

  const BrokerConfig& config() const { return _config; }
  const Limits& limits() const final { return _config.limits; }
  BrokerStats& stats() final { return _stats; }
  HeldBudget& held_budget() final { return _held; }
  const BrokerStats& stats() const { return _stats; }
  // Encoding scratch for the packet being written.
  std::vector<uint8_t>& scratch() { return _scratch; }
  // The PUBLISH a client decodes its input into, one per shard so that no packet builds
  // and destroys a Publish (~400 bytes); valid until that client's next PUBLISH.
  mqtt::Publish& inbound_publish() { return _inbound_publish; }
  mqtt::Ack& inbound_ack() { return _inbound_ack; }  // decoded into again for each ack
  // This shard's own (nullptr: no authentication configured).
  Authenticator* authenticator() const { return _authenticator.get(); }
  const EnhancedAuthMethod* auth_method(std::string_view name) const {
    for (const EnhancedAuthMethod* method : _config.auth_methods) {
      if (method->name() == name) {
        return method;
      }
    }
    return nullptr;
  }

  // The shard's clock and timers, for its connections and sessions alike.
  io::TimerWheel& wheel() override = 0;
  uint64_t now_ms() const override = 0;
  uint16_t shard_id() const override = 0;
  // The shard's overflow towards other shards is at its bound: stop reading PUBLISH
  // (asked once a PUBLISH: a plain read of the shard's count).
  bool backpressured() const {
    return *_overflow_size >= _config.limits.mailbox_overflow_limit;
  }
  // `client` stopped reading for back-pressure; resumed at a turn end once it drains.
  virtual void paused(Client* client) = 0;
  // `client` stopped reading for a reason of its own that is over: resumed at the turn's
  // end (once back-pressure allows), never from within the call that ended it.
  virtual void resume_at_turn_end(Client* client) = 0;
  virtual std::string assign_client_id() = 0;
  // The virtual broker of a connection through listener `listener` that gave this TLS
  // SNI and HTTP Host (virtual_brokers.h).
  BrokerChoice choose_broker(uint16_t listener, std::string_view server_name,
                             std::string_view host) const {
    const VirtualBrokers* directory = brokers_directory();
    if (directory == nullptr) {
      return {};
    }
    return directory->choose(listener_broker(listener), server_name, host);
  }
  // The virtual broker listener `index` is bound to ("": none).
  virtual std::string_view listener_broker(uint16_t) const { return {}; }
  // This shard's replica of the virtual brokers (nullptr: the default broker alone).
  virtual const VirtualBrokers* brokers_directory() const { return nullptr; }
  // Whether a CONNECT for `client_id` is accepted on this shard: its session lives here
  // (and is not leaving), or none does anywhere and this is its home. Otherwise the
  // connection moves on.
  virtual bool connects_here(std::string_view client_id) const = 0;
  // CONNECT accepted here: takes over a live connection of the same client id, ends or
  // resumes the session per Clean Start. Returns the session and whether it was present
  // [MQTT-3.2.2-2].
  virtual Session* open_session(Client* client, const mqtt::Connect& connect,
                                bool* present) = 0;
  // The CONNECT's session has its final expiry and identity (just before CONNACK): a
  // persistent one is written to the shard's log.
  virtual void session_opened(Session* session) = 0;
  // Routes `publish`. One whose acknowledgement waits for an outcome passes an
  // `answer_token` (non-zero): a retained message's is returned now, or kLater and then
  // given to `from->retain_answer(answer_token, stored)`; with persistence, durable_later
  // says the writes of the durable sessions that took it are not all on disk yet, and
  // `from->durable_answer(answer_token, written)` follows, from this shard. The topic of
  // a virtual broker's client is re-pointed at its routing topic (scoped: scope.h) and
  // stays valid until the next PUBLISH on this shard.
  virtual PublishOutcome publish(Client* from, mqtt::Publish& publish,
                                 uint32_t answer_token = 0) = 0;
  // With persistence: the acknowledgement under `answer_token` (a PUBCOMP) waits for what
  // was just written (true; durable_answer() follows), or nothing was (false).
  virtual bool wait_for_log(Client* from, uint32_t answer_token) = 0;
  // With persistence: the acknowledgement under `answer_token` (the PUBREC of a QoS 2
  // resend whose first PUBREC never left) waits until every shard's log holds all it had
  // appended by now, the first routing's writes among it (true; durable_answer()
  // follows), or all of it is on disk already (false).
  virtual bool barrier_for_log(Client* from, uint32_t answer_token) = 0;
  // Records the shard's journal has appended so far (0 without persistence): taken
  // before a CONNECT opens its session, so that its CONNACK waits for exactly what that
  // wrote (and not for records others appended and did not wait for).
  virtual uint64_t journal_records() const { return 0; }
  // With persistence, for the CONNACK of `from`'s just-opened session: the log batch it
  // must wait for so that the session it names is on disk (0: none, it goes now). A new
  // session (`present` false) waits for what its CONNECT appended since `mark` (a
  // journal_records() value: an old session's end, the new one's image); a resumed one
  // whose own image is not on disk yet (made by a CONNECT whose CONNACK never left)
  // waits for that image, when nothing could be sent to it meanwhile.
  virtual uint64_t connack_ticket(const Client*, uint64_t, bool) const { return 0; }
  // The answer under `answer_token` waits until the journal is written through `ticket`
  // (durable_answer(token, true) follows; after a failed write, once the rewrite that
  // heals it is).
  virtual void wait_written_through(Client*, uint32_t, uint64_t) {}
  // Persistence is on: QoS 1/2 acknowledgements may wait for writes.
  bool persistent() const { return _config.durable_log != nullptr; }
  virtual void subscribe(Client* client, const mqtt::Subscribe& subscribe) = 0;
  virtual void unsubscribe(Client* client, const mqtt::Unsubscribe& unsubscribe) = 0;
  // A connected client's transport ended: its will and its session's fate.
  virtual void client_gone(Client* client) = 0;
  // A resumed session's subscriptions that its new credential's grant does not cover
  // are dropped (made under an earlier, broader credential).
  virtual void drop_ungranted(Session* session) = 0;
  // Whether the token with this jti has been revoked (the control plane's replica).
  virtual bool token_revoked(std::string_view token_id) const = 0;
  // `client` is connected here with its session's credential: a token's holder is
  // closed when the token is revoked (until client_gone, or it rehomes).
  virtual void credential_in_use(Client* client) = 0;
  // An admin API call from `connection`'s HTTP front, answered in a later turn.
  virtual void admin_call(net::Connection* connection, const http::AdminCall& call) = 0;
  // An operator's page (/metrics, /status) for `connection`'s HTTP front, answered in a
  // later turn once every shard has given its figures.
  virtual void operator_page(net::Connection* connection, http::OperatorPage page) = 0;

 protected:
  ~BrokerPort() = default;

  BrokerConfig _config;
  std::unique_ptr<Authenticator> _authenticator;
  // Authenticators a reload replaced: a client in the middle of its CONNECT may still
  // use one (a few per reload, kept for the shard's life).
  std::vector<std::unique_ptr<Authenticator>> _retired_authenticators;
  const size_t* _overflow_size = &kNoOverflow;  // the shard's (Shard::overflow_size())
  BrokerStats _stats;
  HeldBudget _held;  // declared before any session can exist: a base outlives its members
  std::vector<uint8_t> _scratch;
  mqtt::Publish _inbound_publish;
  mqtt::Ack _inbound_ack;
};

}  // namespace peregrine::broker
