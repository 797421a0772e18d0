// libFuzzer target for CONNECT and the AUTH exchange (SCRAM-SHA-256 is configured): the
// input after its option byte (floor_fuzz.h) is a connection's first bytes, fed to the
// real broker floor in pieces. A second, well-behaved client with the same client id
// connects meanwhile, so takeover and migration meet whatever the input did.
#include "tests/fuzz/floor_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!peregrine::fuzz::FuzzFloor::accepts(size)) {
    return 0;
  }
  peregrine::fuzz::FuzzFloor f(data[0]);
  peregrine::sim::SimPipe* raw = f.open(false);
  const std::span<const uint8_t> input(data + 1, size - 1);
  peregrine::fuzz::trickle(f, raw, input.first(input.size() / 2), 61);
  peregrine::sim::SimPipe* other = f.open(true);
  f.send_connect(other, "seed");
  peregrine::fuzz::trickle(f, raw, input.subspan(input.size() / 2), 61);
  f.run(50);
  return 0;
}
