// What the broker writes in its shards' durable logs (include/peregrine/durable_log.h):
// the record types and their bodies. The store sees only bytes; this file is the one
// place that gives them meaning, both ways. Pure.
//
//   kRetained  u64 LE wall-clock milliseconds the message was received at; u16 LE length
//              and the name of the virtual broker it belongs to ("": the default one,
//              the only one until tenancy lands); then the message as a complete MQTT 5
//              PUBLISH packet (retain set; packet id 1 when QoS > 0; its properties; its
//              payload). An empty payload clears the topic.
//
// Record types are never reused; a reader meeting one it does not know stops the start
// (a newer broker wrote it) rather than drop state silently.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "src/broker/message.h"

namespace peregrine::broker {

enum class RecordType : uint8_t {
  kRetained = 1,
};

// The body of a kRetained record for `message`, received `received_wall_ms` (epoch ms),
// of the virtual broker `tenant` ("": the default).
std::string encode_retained(const Message& message, int64_t received_wall_ms,
                            std::string_view tenant = {});
constexpr size_t kMaxTenantNameBytes = 255;

struct DecodedRetained {
  enum class Outcome : uint8_t { kMessage, kExpired, kMalformed } outcome = Outcome::kMalformed;
  Message* message = nullptr;  // kMessage: one reference, received "now" on the shard clock
  std::string tenant;          // kMessage: its virtual broker ("": the default)
  std::string why;             // kMalformed
};
// A kRetained body back into a message as of `now_wall_ms`; its Message Expiry Interval,
// if any, is what is left of it then (kExpired when nothing is).
DecodedRetained decode_retained(std::span<const uint8_t> body, int64_t now_wall_ms,
                                uint64_t now_ms);

}  // namespace peregrine::broker
