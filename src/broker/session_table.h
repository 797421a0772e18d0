// The sessions living on one shard, by client id (owning) and by the id that names a
// session in mail, and their life (MQTT §4.1, §3.1.2-3.1.3): opened by a CONNECT (taking
// over a live connection, ended first by a clean start), carried on after the connection
// ends while their expiry runs, with the will sent now or after its delay, ended at
// expiry. For sessions whose home this shard is (shard_for(client id)) but that live on
// another shard (rehoming), where they are, under a ticket the lent session carries so
// that its end, reported from away, clears exactly its own record.
// Lives on its shard's thread. Invariants: a client id has at most one session here; a
// session id is never reused on its shard; an away record exists only for client ids of
// this home with no session here; a session with a connection has no offline timer.
// Bounds: one entry per session (sessions are bounded by connections and
// max_session_expiry), one away record per lent session.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <absl/container/flat_hash_map.h>

#include "src/broker/keyed_set.h"
#include "src/broker/session.h"
#include "src/broker/shard_for.h"

namespace peregrine::broker {

// What a session's life asks of the rest of its shard (ShardBroker implements it).
class SessionEvents {
 public:
  // Publishes a will (one reference handed over), retained or not.
  virtual void publish_will(Message* will) = 0;
  // The session, ending, no longer subscribes to `filter`.
  virtual void drop_subscription(Session* session, std::string_view filter) = 0;
  // A session lent to this shard by its `home` (under `ticket`) ended here.
  virtual void ended_away(uint16_t home, uint64_t ticket) = 0;
  // `session` ends now (its subscriptions already dropped): its log forgets it.
  virtual void session_ending(Session* session) = 0;

 protected:
  ~SessionEvents() = default;
};

class SessionTable {
 public:
  SessionTable(uint16_t self, uint16_t count, SessionHost& host, SessionEvents& events)
      : _self(self), _count(count), _host(host), _events(events) {}
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  uint16_t home(std::string_view client_id) const { return shard_for(client_id, _count); }
  bool is_home(std::string_view client_id) const { return home(client_id) == _self; }

  Session* find(std::string_view client_id) const {
    auto it = _by_name.find(client_id);
    return it == _by_name.end() ? nullptr : it->get();
  }
  Session* find(uint64_t id) const {
    auto it = _by_id.find(id);
    return it == _by_id.end() ? nullptr : *it;
  }
  size_t size() const { return _by_name.size(); }
  template <typename Visit>
  void for_each(Visit&& visit) const {
    for (const auto& session : _by_name) {
      visit(*session);
    }
  }

  struct Opened {
    Session* session;
    bool present;    // it existed and goes on [MQTT-3.2.2-2]
    bool took_over;  // a live connection had it, and was told to go
  };
  // A CONNECT for `client_id` accepted here: a live connection of the session is taken
  // over, a clean start ends the old session first, and `client` is attached with an
  // in-flight window of its Receive Maximum, capped by max_inflight.
  Opened open(ClientLink* client, std::string_view client_id, bool clean_start,
              uint32_t receive_maximum);
  // The connection of `session` ended (not by rehoming): `will` (one reference, or
  // nullptr) is sent now, after `will_delay_s`, or — taken over — only if immediate; the
  // session ends now (expiry 0) or when its expiry runs out.
  void connection_gone(Session* session, Message* will, uint32_t will_delay_s,
                       bool taken_over);
  // `session`'s offline timer fired.
  void timer(Session* session);
  // Ends `session`: its subscriptions go, a will still waiting is sent (the session
  // ended first), its home forgets it if it lived away. `replaced`: by a clean start for
  // the same client id here (its home keeps pointing here).
  void end(Session* session, bool replaced = false);

  // Takes `session` in (made here, or arrived with its client), under a new id.
  Session* insert(std::unique_ptr<Session> session);
  // Start-up: a persistent session brought back from the log, offline (its will, if
  // any, already set), ending at `expiry_due_ms` on the shard clock (0: never).
  Session* restore(std::unique_ptr<Session> session, uint64_t expiry_due_ms);
  // Lets `session` go with its client to another shard; the caller hands it on.
  Session* release(Session* session);

  // Away records: `client_id`, of this home, now lives on `shard`; returns the ticket
  // the session carries there.
  uint64_t lend(std::string_view client_id, uint16_t shard);
  std::optional<uint16_t> away(std::string_view client_id) const;
  // It came back home.
  void returned(std::string_view client_id);
  // The session lent under `ticket` ended away (its home forgets it; a newer one stays).
  void gone(uint64_t ticket);

 private:
  static std::string_view name_key(const std::unique_ptr<Session>& session) {
    return session->client_id();
  }
  static uint64_t id_key(Session* const& session) { return session->id; }
  struct Away {
    uint16_t shard;
    uint64_t ticket;
  };

  void erase(Session* session);  // destroys it
  void arm_timer(Session* session);

  const uint16_t _self;
  const uint16_t _count;
  SessionHost& _host;
  SessionEvents& _events;
  KeyedSet<std::unique_ptr<Session>, std::string_view, &name_key> _by_name;
  KeyedSet<Session*, uint64_t, &id_key> _by_id;
  uint64_t _next_id = 1;
  // absl's string hash takes absl::string_view, which Debian's build keeps distinct.
  absl::flat_hash_map<std::string, Away> _away;
  absl::flat_hash_map<uint64_t, std::string> _away_by_ticket;
  uint64_t _next_ticket = 1;
};

}  // namespace peregrine::broker
