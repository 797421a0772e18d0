// What travels through a mailbox: a small typed value. `kind` is defined by the service
// above the shard layer (the broker); the shard layer only moves envelopes.
#pragma once

#include <cstdint>

namespace peregrine::shard {

struct Envelope {
  uint16_t kind = 0;
  uint16_t from = 0;  // filled in by Shard::post()
  uint32_t arg = 0;
  uint64_t value = 0;
  void* ptr = nullptr;
};

}  // namespace peregrine::shard
