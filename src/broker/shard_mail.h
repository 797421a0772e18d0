// The messages broker shards send each other: one type per kind, each owning what it
// carries, saying how a full mailbox treats it (delivery()) and how what it carries dies
// when it is never handled (discard(), after the shard threads are joined). Every object
// a mail carries goes back to die on the shard that made it — a Message and a
// PublishBatch by their own return mails, a RouteChange with the last ack, a SysSnapshot
// by SysSnapshotBack — except a ClientConnection (and the Session travelling with it): a
// connection migrates to its session's shard and belongs to it from then on (DESIGN.md §2).
// A mail is packed into a shard::Envelope for the mailbox; `open()` unpacks one into its
// type and calls the handler's overload for it, so handling and discarding both come from
// the one list of kinds below, and a kind without a handler does not compile.
#pragma once

#include <cstdint>
#include <type_traits>

#include "src/base/assert.h"
#include "src/broker/message.h"
#include "src/broker/publish_batch.h"
#include "src/shard/envelope.h"
#include "src/shard/shard.h"

namespace peregrine::broker {

struct AdminOp;
class ClientConnection;
struct OperatorReport;
struct ControlChange;
struct RetainedScan;
struct RouteChange;
struct SysSnapshot;

namespace mail {

enum class Kind : uint16_t {
  kPublish = 1,
  kPublishBatch,
  kBatchBack,
  kRouteChange,
  kRouteAck,
  kMigrate,
  kRehome,
  kSessionGone,
  kLoad,
  kRetainStore,
  kRetainScan,
  kRetainBatch,
  kRetainAnswer,
  kSharedPublish,
  kSysSnapshot,
  kSysSnapshotBack,
  kReclaim,
  kAdminForward,
  kAdminDone,
  kControlChange,
  kControlAck,
  kRecovered,
  kLogBarrier,
  kDurableAck,
  kReportAsk,
  kReportBack,
  kFilterReserve,
  kFilterReserved,
  kFilterCount,
};

constexpr uint16_t wire(Kind kind) { return static_cast<uint16_t>(kind); }

inline shard::Delivery by_qos(const Message* message) {
  // QoS 0 may be dropped at a full mailbox (counted); QoS 1/2 waits in order.
  return message->qos() == 0 ? shard::Delivery::kDroppable : shard::Delivery::kRequired;
}

// A message for the receiving shard's subscribers (it matches its own trie).
struct Publish {
  static constexpr Kind kKind = Kind::kPublish;
  Message* message;  // one reference
  // With persistence: the sender's wait its publisher's acknowledgement holds for (0:
  // none), answered with a DurableAck once what the receiver wrote for it is on disk.
  uint32_t wait = 0;
  shard::Delivery delivery() const { return by_qos(message); }
  shard::Envelope envelope() const { return {wire(kKind), 0, wait, 0, message}; }
  static Publish open(const shard::Envelope& e) {
    return {static_cast<Message*>(e.ptr), e.arg};
  }
  void discard() const { message->unref(); }
};

// Plain QoS 0 records for the receiving shard's subscribers; it counts as its records
// against the turn's drain bound.
struct PublishBatchMail {
  static constexpr Kind kKind = Kind::kPublishBatch;
  PublishBatch* batch;
  shard::Delivery delivery() const { return shard::Delivery::kDroppable; }
  shard::Envelope envelope() const { return {wire(kKind), 0, batch->count(), 0, batch}; }
  static PublishBatchMail open(const shard::Envelope& e) {
    return {static_cast<PublishBatch*>(e.ptr)};
  }
  void discard() const { PublishBatch::destroy(batch); }
};

// A batch read, back to the shard that made it.
struct BatchBack {
  static constexpr Kind kKind = Kind::kBatchBack;
  PublishBatch* batch;
  shard::Delivery delivery() const { return shard::Delivery::kLazy; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, batch}; }
  static BatchBack open(const shard::Envelope& e) { return {static_cast<PublishBatch*>(e.ptr)}; }
  void discard() const { PublishBatch::destroy(batch); }
};

// A filter gained its first or lost its last subscriber on the sender (routing_table.h).
struct RouteChangeMail {
  static constexpr Kind kKind = Kind::kRouteChange;
  RouteChange* change;  // shared by every receiver, read-only; comes back with each ack
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, change}; }
  static RouteChangeMail open(const shard::Envelope& e) {
    return {static_cast<RouteChange*>(e.ptr)};
  }
  void discard() const;  // routing_table.cc
};

// The receiver applied every route change up to `change`, which goes back to its maker;
// `routed` is the last number the receiver had stamped on a message (scan_cut.h).
struct RouteAck {
  static constexpr Kind kKind = Kind::kRouteAck;
  RouteChange* change;
  uint64_t routed;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, routed, change}; }
  static RouteAck open(const shard::Envelope& e) {
    return {static_cast<RouteChange*>(e.ptr), e.value};
  }
  void discard() const;  // routing_table.cc
};

// A connection detached and quiesced before its CONNECT was accepted, on its way to the
// shard holding its session (or its home). Ownership moves with it.
struct Migrate {
  static constexpr Kind kKind = Kind::kMigrate;
  ClientConnection* connection;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, connection}; }
  static Migrate open(const shard::Envelope& e) {
    return {static_cast<ClientConnection*>(e.ptr)};
  }
  void discard() const;  // client_connection.cc: closes it
};

// A connected publisher and its session, moved to the shard its messages go to.
struct Rehome {
  static constexpr Kind kKind = Kind::kRehome;
  ClientConnection* connection;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, connection}; }
  static Rehome open(const shard::Envelope& e) {
    return {static_cast<ClientConnection*>(e.ptr)};
  }
  void discard() const;  // client_connection.cc: closes it, ends its session
};

// To a session's home: the session it lent out under `ticket` ended away.
struct SessionGone {
  static constexpr Kind kKind = Kind::kSessionGone;
  uint64_t ticket;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, ticket, nullptr}; }
  static SessionGone open(const shard::Envelope& e) { return {e.value}; }
  void discard() const {}
};

// The sender's busy thousandths (Shard::busy_permille), for rehoming's room check.
struct Load {
  static constexpr Kind kKind = Kind::kLoad;
  uint32_t permille;
  shard::Delivery delivery() const { return shard::Delivery::kDroppable; }
  shard::Envelope envelope() const { return {wire(kKind), 0, permille, 0, nullptr}; }
  static Load open(const shard::Envelope& e) { return {e.arg}; }
  void discard() const {}
};

// A retained message for its topic's owner shard. With a token, the publisher's
// connection waits for the owner's answer (RetainAnswer) before its PUBACK/PUBREC.
struct RetainStore {
  static constexpr Kind kKind = Kind::kRetainStore;
  Message* message;     // one reference
  uint64_t connection;  // the publisher's connection, when it waits for the answer
  uint32_t token;       // 0: nobody waits
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, token, connection, message}; }
  static RetainStore open(const shard::Envelope& e) {
    return {static_cast<Message*>(e.ptr), e.value, e.arg};
  }
  void discard() const { message->unref(); }
};

// From a retained message's owner shard back to its publisher's: stored or refused (the
// retained limits), for the acknowledgement waiting under `token`.
struct RetainAnswer {
  static constexpr Kind kKind = Kind::kRetainAnswer;
  uint64_t connection;
  uint32_t token;  // below 2^31
  bool stored;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const {
    return {wire(kKind), 0, (token << 1) | (stored ? 1u : 0u), connection, nullptr};
  }
  static RetainAnswer open(const shard::Envelope& e) {
    return {e.value, e.arg >> 1, (e.arg & 1) != 0};
  }
  void discard() const {}
};

// A retained scan (retained_router.h) to its owner shard: fill the next batch.
struct RetainScan {
  static constexpr Kind kKind = Kind::kRetainScan;
  RetainedScan* scan;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, scan}; }
  static RetainScan open(const shard::Envelope& e) { return {static_cast<RetainedScan*>(e.ptr)}; }
  void discard() const;  // retained_router.cc
};

// A retained scan back home with a batch.
struct RetainBatch {
  static constexpr Kind kKind = Kind::kRetainBatch;
  RetainedScan* scan;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, scan}; }
  static RetainBatch open(const shard::Envelope& e) {
    return {static_cast<RetainedScan*>(e.ptr)};
  }
  void discard() const;  // retained_router.cc
};

// A message for one member of the shared group the receiver knows by `group_key`.
struct SharedPublish {
  static constexpr Kind kKind = Kind::kSharedPublish;
  Message* message;  // one reference
  uint64_t group_key;
  uint32_t wait = 0;  // as Publish's
  shard::Delivery delivery() const { return by_qos(message); }
  shard::Envelope envelope() const { return {wire(kKind), 0, wait, group_key, message}; }
  static SharedPublish open(const shard::Envelope& e) {
    return {static_cast<Message*>(e.ptr), e.value, e.arg};
  }
  void discard() const { message->unref(); }
};

// A shard's counters for shard 0's $SYS; read there and sent back.
struct SysSnapshotMail {
  static constexpr Kind kKind = Kind::kSysSnapshot;
  SysSnapshot* snapshot;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, snapshot}; }
  static SysSnapshotMail open(const shard::Envelope& e) {
    return {static_cast<SysSnapshot*>(e.ptr)};
  }
  void discard() const;  // sys_publisher.cc
};

struct SysSnapshotBack {
  static constexpr Kind kKind = Kind::kSysSnapshotBack;
  SysSnapshot* snapshot;
  shard::Delivery delivery() const { return shard::Delivery::kLazy; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, snapshot}; }
  static SysSnapshotBack open(const shard::Envelope& e) {
    return {static_cast<SysSnapshot*>(e.ptr)};
  }
  void discard() const;  // sys_publisher.cc
};

// Dead messages back home to be freed (MessageReclaimer's list).
struct Reclaim {
  static constexpr Kind kKind = Kind::kReclaim;
  Message* dead;
  shard::Delivery delivery() const { return shard::Delivery::kLazy; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, dead}; }
  static Reclaim open(const shard::Envelope& e) { return {static_cast<Message*>(e.ptr)}; }
  void discard() const { MessageReclaimer::free_list(dead); }
};

// An admin call that changes control-plane state, to the leader (shard 0); it comes back
// answered in AdminDone (control_plane.h).
struct AdminForward {
  static constexpr Kind kKind = Kind::kAdminForward;
  AdminOp* op;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, op}; }
  static AdminForward open(const shard::Envelope& e) { return {static_cast<AdminOp*>(e.ptr)}; }
  void discard() const;  // control_plane.cc
};

struct AdminDone {
  static constexpr Kind kKind = Kind::kAdminDone;
  AdminOp* op;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, op}; }
  static AdminDone open(const shard::Envelope& e) { return {static_cast<AdminOp*>(e.ptr)}; }
  void discard() const;  // control_plane.cc
};

// A change of the revocation list from the leader to every other shard; each acks it,
// and the last ack frees it on the leader.
struct ControlChangeMail {
  static constexpr Kind kKind = Kind::kControlChange;
  ControlChange* change;  // shared by every receiver, read-only
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, change}; }
  static ControlChangeMail open(const shard::Envelope& e) {
    return {static_cast<ControlChange*>(e.ptr)};
  }
  void discard() const;  // control_plane.cc
};

struct ControlAck {
  static constexpr Kind kKind = Kind::kControlAck;
  ControlChange* change;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, change}; }
  static ControlAck open(const shard::Envelope& e) { return {static_cast<ControlChange*>(e.ptr)}; }
  void discard() const;  // control_plane.cc
};

// An operator's page (/metrics, /status) asked on the sender: the receiver writes its
// own slot of the report and sends it back. The report stays owned by the shard that
// made it (which frees it with its broker if the shards stop first: discard does nothing).
struct ReportAsk {
  static constexpr Kind kKind = Kind::kReportAsk;
  OperatorReport* report;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, report}; }
  static ReportAsk open(const shard::Envelope& e) { return {static_cast<OperatorReport*>(e.ptr)}; }
  void discard() const {}
};

struct ReportBack {
  static constexpr Kind kKind = Kind::kReportBack;
  OperatorReport* report;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, report}; }
  static ReportBack open(const shard::Envelope& e) {
    return {static_cast<OperatorReport*>(e.ptr)};
  }
  void discard() const {}
};

// Start-up with persistence: the sender restored its sessions, and every other shard has
// applied the routes of their subscriptions. A shard listens once every shard said so, so
// that no client's message can miss a restored subscriber (docs/architecture.md, persistence).
struct Recovered {
  static constexpr Kind kKind = Kind::kRecovered;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, 0, 0, nullptr}; }
  static Recovered open(const shard::Envelope&) { return {}; }
  void discard() const {}
};

// From a publisher's shard: answer `wait` with a DurableAck once this shard's log holds
// everything appended before this mail (a failed batch counts once its sessions' rewrite
// is written). A QoS 2 resend whose PUBREC never left waits so for its first routing.
struct LogBarrier {
  static constexpr Kind kKind = Kind::kLogBarrier;
  uint32_t wait;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, wait, 0, nullptr}; }
  static LogBarrier open(const shard::Envelope& e) { return {e.arg}; }
  void discard() const {}
};

// Back to a publisher's shard: what this shard wrote for the message under `wait` is on
// disk (`written`), or failed.
struct DurableAck {
  static constexpr Kind kKind = Kind::kDurableAck;
  uint32_t wait;  // below 2^31
  bool written;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const {
    return {wire(kKind), 0, (wait << 1) | (written ? 1u : 0u), 0, nullptr};
  }
  static DurableAck open(const shard::Envelope& e) { return {e.arg >> 1, (e.arg & 1) != 0}; }
  void discard() const {}
};

// To a filter's owner (filter_counts.h): count one more subscriber of the filter whose
// key is `key` unless it has its limit; answered with FilterReserved under `wait`.
struct FilterReserve {
  static constexpr Kind kKind = Kind::kFilterReserve;
  uint64_t key;
  uint32_t wait;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const { return {wire(kKind), 0, wait, key, nullptr}; }
  static FilterReserve open(const shard::Envelope& e) { return {e.value, e.arg}; }
  void discard() const {}
};

// Back from the owner: whether the subscriber under `wait` was counted.
struct FilterReserved {
  static constexpr Kind kKind = Kind::kFilterReserved;
  uint32_t wait;  // below 2^31
  bool granted;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const {
    return {wire(kKind), 0, (wait << 1) | (granted ? 1u : 0u), 0, nullptr};
  }
  static FilterReserved open(const shard::Envelope& e) {
    return {e.arg >> 1, (e.arg & 1) != 0};
  }
  void discard() const {}
};

// To a filter's owner: a subscriber counted without asking (+1: restored, put back) or
// gone (-1).
struct FilterCount {
  static constexpr Kind kKind = Kind::kFilterCount;
  uint64_t key;
  int delta;
  shard::Delivery delivery() const { return shard::Delivery::kRequired; }
  shard::Envelope envelope() const {
    return {wire(kKind), 0, delta > 0 ? 1u : 0u, key, nullptr};
  }
  static FilterCount open(const shard::Envelope& e) { return {e.value, e.arg != 0 ? 1 : -1}; }
  void discard() const {}
};

template <typename... Kinds>
struct KindList {};

// Every kind, the busiest first (open() tries them in this order).
using AllKinds = KindList<Publish, PublishBatchMail, Reclaim, BatchBack, SharedPublish,
                          RouteChangeMail, RouteAck, Migrate, Rehome, SessionGone, Load,
                          RetainStore, RetainScan, RetainBatch, RetainAnswer, SysSnapshotMail,
                          SysSnapshotBack, AdminForward, AdminDone, ControlChangeMail,
                          ControlAck, Recovered, LogBarrier, DurableAck, ReportAsk, ReportBack,
                          FilterReserve, FilterReserved, FilterCount>;

namespace detail {

template <typename Handler, typename Mail>
uint32_t call(Handler& handler, const Mail& mail, uint16_t from) {
  if constexpr (std::is_void_v<decltype(handler(mail, from))>) {
    handler(mail, from);
    return 1;
  } else {
    return handler(mail, from);
  }
}

template <typename Handler, typename... Kinds>
uint32_t open_as(KindList<Kinds...>, const shard::Envelope& envelope, Handler& handler) {
  uint32_t work = 0;
  const bool known = ((envelope.kind == wire(Kinds::kKind) &&
                       ((work = call(handler, Kinds::open(envelope), envelope.from)), true)) ||
                      ...);
  PG_ASSERT_MSG(known, "unknown mail kind");
  return work;
}

template <typename... Kinds>
constexpr bool kinds_distinct(KindList<Kinds...>) {
  const uint16_t kinds[] = {wire(Kinds::kKind)...};
  for (size_t i = 0; i < sizeof...(Kinds); ++i) {
    for (size_t j = i + 1; j < sizeof...(Kinds); ++j) {
      if (kinds[i] == kinds[j]) {
        return false;
      }
    }
  }
  return sizeof...(Kinds) == wire(Kind::kFilterCount);  // and every kind is listed (the last)
}
static_assert(kinds_distinct(AllKinds{}), "each mail kind listed once, all of them");

}  // namespace detail

// Unpacks `envelope` into its kind and calls `handler(mail, from)`; returns the work it
// stood for (the handler's result, or 1 where it returns nothing).
template <typename Handler>
uint32_t open(const shard::Envelope& envelope, Handler&& handler) {
  return detail::open_as(AllKinds{}, envelope, handler);
}

// Releases what an envelope that was never handled carries.
inline void discard(const shard::Envelope& envelope) {
  open(envelope, [](const auto& mail, uint16_t) { mail.discard(); });
}

}  // namespace mail
}  // namespace peregrine::broker
