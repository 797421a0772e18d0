"""Out of file descriptors: the broker pauses accepting instead of spinning, keeps serving
the clients it has, and accepts again once descriptors are free."""

import socket
import time

import mqtt_raw as m
from mqtt_raw import V311


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime, all threads
    return ticks / 100.0


def test_full_descriptor_table_pauses_accept_and_recovers(broker):
    b = broker(shards=2, nofile=48)
    early = m.connected(b.port, "early", V311)
    early.subscribe("fd/#")
    flood = []
    for _ in range(80):
        s = socket.create_connection(("127.0.0.1", b.port), timeout=2)
        flood.append(s)
    b.wait_for_log(r"accepting paused", timeout=10)
    # Paused, not spinning: well under a core over a second.
    before = cpu_seconds(b.proc.pid)
    time.sleep(1.0)
    assert cpu_seconds(b.proc.pid) - before < 0.5
    # The connected client is still served.
    early.ping(timeout=5)
    for s in flood:
        s.close()
    # Descriptors free again: a new client gets in and its message reaches `early`.
    deadline = time.monotonic() + 10
    late = None
    while late is None and time.monotonic() < deadline:
        try:
            late = m.connected(b.port, "late", V311)
        except Exception:
            time.sleep(0.2)
    assert late is not None, "no new connection accepted after descriptors were freed"
    late.publish("fd/x", b"after")
    assert early.next_message(timeout=5).payload == b"after"
