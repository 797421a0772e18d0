// libFuzzer target for what the broker reads back from its log at start
// (src/broker/durable_records.h): a record body that passed its checksum but is not what
// this broker wrote (a bug, another version). Checks: no crash or leak (ASan); a body
// that decodes re-encodes to one that decodes to the same message.
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/base/assert.h"
#include "src/broker/durable_records.h"

using namespace peregrine::broker;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> body(data, size);
  DecodedRetained first = decode_retained(body, 1'700'000'000'000, 5);
  if (first.outcome != DecodedRetained::Outcome::kMessage) {
    PG_ASSERT(first.message == nullptr);
    return 0;
  }
  const std::string again = encode_retained(*first.message, 1'700'000'000'000, first.tenant);
  DecodedRetained second = decode_retained(
      std::span(reinterpret_cast<const uint8_t*>(again.data()), again.size()),
      1'700'000'000'000, 5);
  PG_ASSERT(second.outcome == DecodedRetained::Outcome::kMessage);
  PG_ASSERT(second.message->topic() == first.message->topic());
  PG_ASSERT(second.tenant == first.tenant);
  PG_ASSERT(std::equal(second.message->payload().begin(), second.message->payload().end(),
                       first.message->payload().begin(), first.message->payload().end()));
  PG_ASSERT(second.message->qos() == first.message->qos());
  first.message->unref();
  second.message->unref();
  return 0;
}
