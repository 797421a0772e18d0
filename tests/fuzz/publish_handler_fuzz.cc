// libFuzzer target for PUBLISH and the QoS 1/2 flows in both directions: a connection
// that CONNECTed properly (3.1.1 or 5, a persistent session, two topic aliases' worth of
// room, Receive Maximum 2) sends the input's bytes after its option byte; a subscriber to
// '#' at QoS 2 on the other shard receives whatever gets routed, and reconnects halfway.
#include "tests/fuzz/floor_fuzz.h"

using peregrine::mqtt::ProtocolVersion;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!peregrine::fuzz::FuzzFloor::accepts(size)) {
    return 0;
  }
  peregrine::fuzz::FuzzFloor f(data[0]);
  auto owned = f.client("sub", ProtocolVersion::kV5, 0, false, 60);
  peregrine::sim::SimClient& sub = *owned;
  sub.subscribe("#", 2);
  f.run(20);
  sub.poll();
  peregrine::sim::SimPipe* raw = f.open(true);
  f.send_connect(raw, "fuzz");
  f.run(10);
  const std::span<const uint8_t> input(data + 1, size - 1);
  peregrine::fuzz::trickle(f, raw, input.first(input.size() / 2), 97);
  sub.poll();
  sub.drop();
  sub.connect(f.floor().shards() - 1, false, 60);
  peregrine::fuzz::trickle(f, raw, input.subspan(input.size() / 2), 97);
  for (int i = 0; i < 20; ++i) {
    f.run(5);
    sub.poll();
  }
  return 0;
}
