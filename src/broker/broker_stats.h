// Counters of one shard's broker, written by that shard only and summed by the main
// thread after the shards have stopped (and later by $SYS / metrics through mailboxes).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "include/peregrine/authenticator.h"
#include "src/mqtt/reason_code.h"

namespace peregrine::broker {

// name, meaning. One list: the struct, add() and format() are generated from it.
#define PEREGRINE_BROKER_COUNTERS(X)                                                    \
  X(connections_accepted, "TCP connections accepted")                                   \
  X(accept_paused, "out of descriptors: accepting paused briefly")                      \
  X(clients_connected, "CONNACK 0 sent")                                                \
  X(migrations, "connections moved to their session's home shard")                      \
  X(sessions_rehomed, "publisher sessions moved to the shard their messages go to")     \
  X(connects_forwarded, "CONNECTs sent on to the shard their rehomed session lives on")  \
  X(connect_session_moved, "CONNECT refused 0x88: its session moved during AUTH")        \
  X(connections_refused, "CONNECT refused 0x97 (3.1.1: 3): max_connections reached")     \
  X(address_refused, "CONNECT refused 0x97 (3.1.1: 3): max_connections_per_address")    \
  X(address_flood_closed, "sockets closed at accept: max_new_connections_per_address")   \
  X(client_id_refused, "CONNECT refused 0x85 (3.1.1: 2): client id over its limit")      \
  X(broker_unmatched_refused, "CONNECT refused 0x88 (3.1.1: 3): no virtual broker took it") \
  X(broker_deleted_disconnects, "clients disconnected 0x98: their virtual broker deleted") \
  X(broker_deleted_sessions, "sessions ended: their virtual broker deleted")             \
  X(broker_deleted_retained, "retained messages cleared: their virtual broker deleted")   \
  X(credentials_refused, "CONNECT refused 0x86 (3.1.1: 4): username or password too long") \
  X(topic_limit_refused, "topics over max_topic_length/depth: PUBLISH, will, SUBSCRIBE")  \
  X(rate_limited, "clients disconnected 0x96: over max_packets_per_second")              \
  X(subscribers_refused, "SUBSCRIBE filters refused 0x97: max_subscribers_per_filter")    \
  X(takeovers, "connections replaced by a new one with the same client id")             \
  X(connect_timeout, "sockets closed for not completing CONNECT in time")               \
  X(keepalive_timeout, "clients silent for 1.5 x keep alive")                           \
  X(messages_in, "PUBLISH received")                                                    \
  X(messages_out, "PUBLISH sent")                                                       \
  X(published_in_place, "QoS 0 PUBLISH sent to its own shard from the read buffer")     \
  X(published_batched, "QoS 0 PUBLISH sent to one other shard packed in a batch")      \
  X(unbatched_behind, "QoS 0 PUBLISH sent alone: its shard held too many batches")      \
  X(routes_reused, "PUBLISH matched from its publisher's last match (same topic)")       \
  X(payloads_held, "large payloads referenced in their receive buffer, not copied")      \
  X(bytes_in, "bytes received")                                                         \
  X(bytes_out, "bytes sent")                                                            \
  X(qos0_dropped, "QoS 0 not sent: the reader was over its outbound limit")             \
  X(mailbox_dropped, "QoS 0 not posted: the mailbox to a shard was full")               \
  X(oversize_dropped, "not sent: larger than the client's Maximum Packet Size")         \
  X(oversize_closed, "closed: a packet owed to the client exceeds its Maximum Packet Size") \
  X(queue_dropped, "QoS 1/2 not queued: the session's queue was full")                  \
  X(session_bytes_dropped, "QoS 1/2 dropped: the session held max_session_bytes")       \
  X(budget_dropped, "QoS 1/2 dropped: its shard held its share of held_bytes_budget")   \
  X(expired_dropped, "not sent: Message Expiry Interval ran out")                       \
  X(sys_publish_denied, "client PUBLISH to $SYS/... dropped")                           \
  X(wills_published, "will messages published")                                         \
  X(sessions_expired, "sessions ended by their expiry interval")                        \
  X(retained_refused, "retained messages refused: retained limits reached")             \
  X(retained_restored, "retained messages read back from the log at start")             \
  X(retained_log_failed, "retained messages refused: their log write failed")           \
  X(log_batches_failed, "log writes that failed (a full disk, an I/O error)")           \
  X(log_bytes_written, "bytes the shards' logs wrote: segments and snapshots")         \
  X(log_snapshots, "log snapshots completed (each replaces the segments before it)")   \
  X(sessions_rewritten, "persistent sessions written whole again after a failed write")  \
  X(sessions_restored, "persistent sessions brought back from the log at start")        \
  X(subscribe_log_failed, "SUBSCRIBEs and UNSUBSCRIBEs refused: their log write failed") \
  X(publish_log_failed, "QoS 1/2 PUBLISHes refused: durable sessions' writes failed")    \
  X(shared_dropped, "shared-subscription messages with no member left to take them")    \
  X(publish_denied, "PUBLISH refused by the authorizer")                                \
  X(subscribe_denied, "subscription filters refused by the authorizer")                 \
  X(read_denied, "deliveries withheld by the authorizer")                               \
  X(auth_failed, "enhanced authentication exchanges that failed")                       \
  X(auth_verified, "CONNECTs whose token or password proved who the client is")         \
  X(auth_no_credentials, "CONNECT refused 0x86: nothing presented, anonymous access off") \
  X(auth_token_malformed, "CONNECT refused 0x86: token not readable (shape, JSON, header)") \
  X(auth_token_key, "CONNECT refused 0x86: token alg none/unknown/not its key's, or no such kid") \
  X(auth_token_signature, "CONNECT refused 0x86: token signature does not verify")      \
  X(auth_token_expired, "CONNECT refused 0x86: token past its exp")                     \
  X(auth_token_not_yet_valid, "CONNECT refused 0x86: token before its nbf")             \
  X(auth_token_claims, "CONNECT refused 0x86: token claims of the wrong type, iss or aud") \
  X(auth_token_revoked, "CONNECT refused 0x86: token revoked")                          \
  X(auth_subject_mismatch, "CONNECT refused 0x87: client id or username is not the token's sub") \
  X(auth_bad_password, "CONNECT refused 0x86: known user, wrong or missing password")   \
  X(auth_will_denied, "CONNECT refused 0x87: will topic outside the token's topic claims") \
  X(auth_expired_disconnects, "connections closed when their token expired (v5: 0xA0)") \
  X(auth_revoked_disconnects, "connections closed when their token was revoked (v5: 0x98)") \
  X(input_paused, "connections paused: mailbox overflow at its bound (back-pressure)")   \
  X(retained_scan_live, "retained messages a scan found and skipped: they came live")   \
  X(retained_scan_ids_full, "subscribe windows past the live ids they can note (a duplicate possible)") \
  X(memory_trims, "quiet times freed memory was given back to the system (malloc_trim)") \
  X(linger_started, "closes that drained the peer's input after our last bytes")         \
  X(linger_refused, "closes at once: the shard's bound on lingering connections was reached") \
  X(drain_dropped_bytes, "bytes queued for clients dropped at SIGTERM so their DISCONNECT goes first") \
  X(tls_handshake_failed, "TLS handshakes that failed (bad record, version, certificate)") \
  X(tls_handshake_timeout, "TLS handshakes not complete within their timeout")           \
  X(tls_error, "established TLS sessions ended by a bad record")                        \
  X(ws_upgrade_refused, "WebSocket upgrade requests answered with an HTTP error")       \
  X(ws_protocol_error, "WebSocket connections failed for a bad frame")                  \
  X(http_refused, "HTTP requests answered with an error status")

struct BrokerStats {
#define PEREGRINE_COUNTER_FIELD(name, meaning) uint64_t name = 0;
  PEREGRINE_BROKER_COUNTERS(PEREGRINE_COUNTER_FIELD)
#undef PEREGRINE_COUNTER_FIELD
  // Bad input, by the reason code it was answered with.
  std::array<uint64_t, 256> rejected{};

  void add(const BrokerStats& other);
  // The counter of a refused CONNECT's reason.
  uint64_t& refused(AuthRefusal refusal);
  // "name=value ..." for the shutdown log line.
  std::string format() const;
  // visit(name, meaning, value) for every named counter, in the list's order (not
  // `rejected`).
  template <typename Visit>
  void for_each_named(Visit&& visit) const {
#define PEREGRINE_COUNTER_VISIT_NAMED(name, meaning) visit(#name, meaning, name);
    PEREGRINE_BROKER_COUNTERS(PEREGRINE_COUNTER_VISIT_NAMED)
#undef PEREGRINE_COUNTER_VISIT_NAMED
  }
  // visit(name, value) for every counter, in the list's order, then each reason code
  // bad input was answered with, as rejected_<reason> (only those that happened).
  template <typename Visit>
  void for_each(Visit&& visit) const {
#define PEREGRINE_COUNTER_VISIT(name, meaning) visit(#name, name);
    PEREGRINE_BROKER_COUNTERS(PEREGRINE_COUNTER_VISIT)
#undef PEREGRINE_COUNTER_VISIT
    for (size_t i = 0; i < rejected.size(); ++i) {
      if (rejected[i] != 0) {
        visit(std::string("rejected_") + mqtt::reason_name(static_cast<mqtt::ReasonCode>(i)),
              rejected[i]);
      }
    }
  }
};

}  // namespace peregrine::broker
