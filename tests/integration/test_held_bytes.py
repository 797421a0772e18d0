"""QoS 1/2 memory is bounded in bytes: what one session holds (in flight until acknowledged,
plus queued) by [limits] max_session_bytes, and what all sessions hold by
held_bytes_budget (each shard an equal share; at it, the sessions holding the most lose new
messages). Drops are counted, logged once per episode and shown in $SYS; publishers are
never refused."""

import os
import re
import time

import mqtt_raw as m
from mqtt_raw import V311, V5

MESSAGE = 512 * 1024
ASAN_ENV = {"ASAN_OPTIONS": ":".join(
    x for x in (os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=8") if x)}


def stuck_subscriber(b, client_id, topic):
    """A QoS 1 subscriber that never reads (a tiny receive buffer)."""
    c = m.RawClient(b.port, V5, rcvbuf=4096)
    c.connect(client_id)
    assert c.subscribe((topic, 1)) == [1]
    return c


def test_a_qos1_subscriber_that_stops_reading_holds_at_most_max_session_bytes(broker):
    """The issue's case: without a byte bound its 1,024-message window held ~1 GiB of
    1 MiB messages. 200 messages of 512 KiB (100 MiB) for it: the broker keeps 4 MiB."""
    b = broker(config="[limits]\nmax_session_bytes = 4194304\n[sys]\ninterval_ms = 200\n",
               env=ASAN_ENV)
    stuck = stuck_subscriber(b, "stuck", "held/#")  # kept: a collected socket closes
    watcher = m.connected(b.port, "watcher", V5)
    watcher.subscribe("$SYS/broker/sessions/held/#")
    pub = m.connected(b.port, "held-pub", V311)
    baseline = b.rss_kib()
    for i in range(200):
        pub.publish_qos1("held/x", bytes([i]) * MESSAGE)  # each acknowledged at once
    growth_mib = (b.rss_kib() - baseline) / 1024
    assert growth_mib < 40, f"RSS grew {growth_mib:.0f} MiB for one stuck subscriber"
    seen = {}
    deadline = time.monotonic() + 10
    while int(seen.get("$SYS/broker/sessions/held/dropped/session_limit", b"0")) < 150:
        assert time.monotonic() < deadline, seen
        msg = watcher.next_message()
        seen[msg.topic] = msg.payload
    held = int(seen.get("$SYS/broker/sessions/held/bytes", b"0"))
    assert 0 < held <= 4 * 1024 * 1024 + MESSAGE + 16, held
    log = b.log_text()
    assert len(re.findall(r"session client_id=stuck holds \d+ bytes", log)) == 1, \
        "not logged once per episode"
    counters = b.counters()
    assert counters["session_bytes_dropped"] >= 190, counters
    stuck.close()


def test_at_the_budget_the_largest_holders_lose_messages_and_a_reader_gets_all(broker):
    """held_bytes_budget 4 MiB over two shards: two stuck subscribers are held to their
    fair share, while one that reads and acknowledges gets every message and the
    publisher every PUBACK."""
    b = broker(config="[limits]\nmax_session_bytes = 67108864\n"
                      "held_bytes_budget = 4194304\n", env=ASAN_ENV)
    stuck = [stuck_subscriber(b, f"stuck-{x}", "bud/#") for x in "ab"]
    reader = m.connected(b.port, "reader", V5)
    assert reader.subscribe(("bud/#", 1)) == [1]
    pub = m.connected(b.port, "bud-pub", V311)
    for i in range(60):
        pub.publish_qos1("bud/x", bytes([i]) * (256 * 1024))
        msg = reader.next_message()
        assert msg.payload[:1] == bytes([i]) and msg.qos == 1
        reader.send_ack(m.PUBACK, msg.packet_id)
    counters = b.counters()
    assert counters["budget_dropped"] > 0, counters
    for c in stuck:
        c.close()
    assert len(re.findall(r"its share of held_bytes_budget: new", b.log_text())) <= 2
