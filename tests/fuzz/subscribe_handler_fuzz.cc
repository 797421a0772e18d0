// libFuzzer target for SUBSCRIBE and UNSUBSCRIBE (filters, shared groups, options,
// subscription identifiers): a connection that CONNECTed properly sends the input's bytes
// after its option byte, while retained messages wait on both shards and a publisher
// keeps publishing to topics the fuzzed filters may match.
#include "tests/fuzz/floor_fuzz.h"

using peregrine::mqtt::ProtocolVersion;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!peregrine::fuzz::FuzzFloor::accepts(size)) {
    return 0;
  }
  peregrine::fuzz::FuzzFloor f(data[0]);
  auto owned = f.client("pub", ProtocolVersion::kV311, 0, true);
  peregrine::sim::SimClient& pub = *owned;
  for (const char* topic : {"a", "a/b", "a/b/c", "$SYS/x", "b/a", "c"}) {
    pub.publish(topic, "retained", 1, true);
  }
  peregrine::sim::SimPipe* raw = f.open(true);
  f.send_connect(raw, "fuzz");
  f.run(10);
  const std::span<const uint8_t> input(data + 1, size - 1);
  for (size_t at = 0; at < input.size(); at += 53) {
    f.feed(raw, input.subspan(at, std::min<size_t>(53, input.size() - at)));
    pub.publish(at % 2 == 0 ? "a/b" : "c", "live", static_cast<uint8_t>(at % 3));
    f.run(2);
    pub.poll();
  }
  f.run(50);
  pub.poll();
  return 0;
}
