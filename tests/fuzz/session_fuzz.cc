// libFuzzer target for a whole session's life: the input after its option byte is a
// script of operations on two connections of one client id and a peer — send the next
// bytes (raw packets), step the floor, drop and reconnect (takeover and resume), let time
// pass (keep alive, will delay, session expiry), a peer publishes or subscribes — so
// packet handlers meet each other in any order and any timing.
#include "tests/fuzz/floor_fuzz.h"

using peregrine::mqtt::ProtocolVersion;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!peregrine::fuzz::FuzzFloor::accepts(size)) {
    return 0;
  }
  peregrine::fuzz::FuzzFloor f(data[0]);
  peregrine::sim::SimClient peer(f.floor(), "peer", ProtocolVersion::kV5);
  peer.connect(0, true);
  peregrine::sim::SimPipe* raw = f.open(true);
  f.send_connect(raw, "fuzz");
  size_t at = 1;
  while (at < size) {
    const uint8_t op = data[at++];
    const size_t n = std::min<size_t>(op >> 3, size - at);
    switch (op & 7) {
      case 0:
      case 1:
      case 2:  // the next bytes, as they are
        f.feed(raw, std::span<const uint8_t>(data + at, n));
        at += n;
        break;
      case 3:
        f.run(1 + n);
        break;
      case 4:  // a new connection of the same client takes the session over
        raw = f.open(true);
        f.send_connect(raw, "fuzz");
        break;
      case 5:
        f.floor().clock().advance(uint64_t{n} * 1000);
        break;
      case 6:
        if (peer.connected()) {
          peer.publish(n % 2 == 0 ? "a/b" : "c", "x", static_cast<uint8_t>(n % 3), n % 5 == 0);
        }
        break;
      default:
        if (peer.connected()) {
          peer.subscribe(n % 2 == 0 ? "#" : "a/+", static_cast<uint8_t>(n % 3));
        }
        break;
    }
    f.run(1);
    peer.poll();
  }
  f.run(30);
  peer.poll();
  return 0;
}
