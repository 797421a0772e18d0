"""A storm of retained messages: 100,000 stored, then one `#` subscription reads them all
while the broker keeps answering everyone else promptly (retained scans run in slices).

PEREGRINE_STORM_COUNT scales the number of messages (default 100000); lower it for slow
builds (ASan) rather than loosening the assertions. Marked `storm`: deselect with
`-m "not storm"`.
"""

import multiprocessing
import os
import socket
import struct
import time

import pytest

import mqtt_raw as m
from mqtt_raw import V311

COUNT = int(os.environ.get("PEREGRINE_STORM_COUNT", "100000"))
BATCH = 10_000
PING_EVERY = 0.020
RTT_LIMIT = 0.050


def topic_of(i):
    return f"storm/{i // 1000}/{i % 1000}"


def pinger(port, client_id, stop, out):
    """Child process (no GIL shared with the reader): PINGREQ every ~20 ms, round trips."""
    c = m.connected(port, client_id, V311)
    sock = c.sock
    rtts = []
    next_at = time.perf_counter()
    while not stop.is_set():
        start = time.perf_counter()
        sock.sendall(b"\xc0\x00")
        got = b""
        while len(got) < 2:
            chunk = sock.recv(2 - len(got))
            if not chunk:
                out.put(("closed", rtts))
                return
            got += chunk
        rtts.append(time.perf_counter() - start)
        if got != b"\xd0\x00":
            out.put((f"bad PINGRESP {got.hex()}", rtts))
            return
        next_at += PING_EVERY
        time.sleep(max(0.0, next_at - time.perf_counter()))
    out.put(("ok", rtts))


def read_retained(c, count, timeout):
    """Reads `count` QoS 0 PUBLISHes from `c` as fast as Python allows; returns
    ({topic: times seen}, [problems])."""
    seen = {}
    problems = []
    buf = bytearray(c.buf)
    for pkt in c.queued:
        buf[0:0] = pkt.raw
    c.queued, c.buf = [], b""
    off = 0
    n = 0
    deadline = time.monotonic() + timeout
    c.sock.settimeout(1.0)
    while n < count:
        # Parse every complete packet in the buffer.
        while True:
            if len(buf) - off < 2:
                break
            length, mult, i = 0, 1, off + 1
            while True:
                if i >= len(buf):
                    length = None
                    break
                byte = buf[i]
                length += (byte & 0x7F) * mult
                mult *= 128
                i += 1
                if not byte & 0x80:
                    break
            if length is None or i + length > len(buf):
                break
            first = buf[off]
            if first != 0x31:  # PUBLISH, QoS 0, RETAIN=1
                problems.append(f"packet {n}: first byte {first:#x}")
            tlen = struct.unpack_from(">H", buf, i)[0]
            topic = bytes(buf[i + 2:i + 2 + tlen]).decode()
            payload = bytes(buf[i + 2 + tlen:i + length])
            if payload != topic.encode()[6:]:
                problems.append(f"{topic}: payload {payload!r}")
            seen[topic] = seen.get(topic, 0) + 1
            n += 1
            off = i + length
        if off > 1 << 20:
            del buf[:off]
            off = 0
        if n >= count:
            break
        if time.monotonic() > deadline:
            problems.append(f"timed out after {n} of {count} messages")
            break
        try:
            data = c.sock.recv(1 << 20)
        except socket.timeout:
            continue
        if not data:
            problems.append(f"connection closed after {n} messages")
            break
        buf += data
    return seen, problems


@pytest.mark.storm
def test_wildcard_subscriber_reads_100k_retained_while_pings_stay_fast(broker):
    b = broker(shards=2)
    pub, _, shard = b.client_on_shard("storm-pub", V311)
    start = time.monotonic()
    for first in range(0, COUNT, BATCH):
        pub.send(b"".join(m.publish(topic_of(i), topic_of(i).encode()[6:], retain=True)
                          for i in range(first, min(COUNT, first + BATCH))))
    pub.ping(timeout=60)  # every PUBLISH before it has been handled
    stored_s = time.monotonic() - start

    # The pinger shares the subscriber's (and publisher's) home shard: the busy one.
    c, ping_id, _ = b.client_on_shard("storm-ping", V311, want=shard)
    c.disconnect()
    ctx = multiprocessing.get_context("fork")
    stop, out = ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=pinger, args=(b.port, ping_id, stop, out), daemon=True)
    proc.start()
    try:
        time.sleep(0.1)  # a few quiet round trips first
        # Same home shard as the publisher: its scans queue behind the stores.
        sub, _, _ = b.client_on_shard("storm-sub", V311, want=shard)
        start = time.monotonic()
        assert sub.subscribe("#") == [0]
        seen, problems = read_retained(sub, COUNT, timeout=50)
        read_s = time.monotonic() - start
        sub.no_packet(0.3)  # and nothing after them
        time.sleep(0.1)
    finally:
        stop.set()
        status, rtts = out.get(timeout=10)
        proc.join(10)
    assert status == "ok", status
    rtts.sort()
    p99 = rtts[int(len(rtts) * 0.99) - 1] if rtts else 0
    print(f"\nstorm: {COUNT} retained stored in {stored_s:.2f}s, read in {read_s:.2f}s; "
          f"{len(rtts)} pings: median {rtts[len(rtts) // 2] * 1000:.2f} ms "
          f"p99 {p99 * 1000:.2f} ms max {rtts[-1] * 1000:.2f} ms")
    assert not problems, problems[:10]
    missing = [topic_of(i) for i in range(COUNT) if topic_of(i) not in seen]
    twice = [t for t, k in seen.items() if k != 1]
    assert not missing and not twice and len(seen) == COUNT, \
        (f"{len(seen)} topics; missing {len(missing)} e.g. {missing[:3]}; "
         f"duplicated {len(twice)} e.g. {twice[:3]}")
    assert len(rtts) >= 10
    assert p99 < RTT_LIMIT and rtts[-1] < RTT_LIMIT, \
        f"ping round trips p99 {p99 * 1000:.1f} ms, max {rtts[-1] * 1000:.1f} ms"
