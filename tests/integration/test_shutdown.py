"""SIGTERM/SIGINT: v5 clients get DISCONNECT 0x8B, everyone is closed, counters are logged,
exit code 0."""

import re
import signal
import time

import pytest

import mqtt_raw as m
from conftest import port_accepts
from mqtt_raw import V31, V311, V5

COUNTERS_RE = r"counters:((?: [A-Za-z0-9_.]+=\d+)+)\s*$"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_disconnects_v5_with_0x8b_closes_v3_and_exits_0(broker, sig):
    b = broker()
    v5 = [m.connected(b.port, f"down5-{i}", V5) for i in range(20)]
    v311 = m.connected(b.port, "down311", V311)
    v31 = m.connected(b.port, "down31", V31)
    v5[0].subscribe("down/#")
    b.proc.send_signal(sig)
    for i, c in enumerate(v5):
        pkt = c.read_packet(timeout=10)
        assert m.Disconnect(pkt).reason == 0x8B, f"client {i}: {pkt!r}"
        assert c.expect_closed(10), f"client {i} not closed"
    for c in (v311, v31):
        assert c.expect_closed(10)
        assert c.buf == b"", f"v3 client got bytes: {c.buf.hex()}"
    start = time.monotonic()
    assert b.stop() == 0
    assert time.monotonic() - start < 10
    assert re.search(COUNTERS_RE, b.log_text(), re.MULTILINE), "no counters: line"
    assert not port_accepts(b.port)


def test_idle_broker_shuts_down_cleanly_and_logs_counters(broker):
    b = broker()
    assert b.stop() == 0
    lines = re.findall(COUNTERS_RE, b.log_text(), re.MULTILINE)
    assert len(lines) == 1, lines
    pairs = lines[0].split()
    names = [p.split("=")[0] for p in pairs]
    assert len(names) == len(set(names)), f"duplicate counter names: {pairs}"
    assert not port_accepts(b.port)


def test_half_open_and_mid_packet_connections_do_not_block_shutdown(broker):
    """Connections stuck before or inside a packet do not hold the broker: it exits 0
    within its shutdown bound, and the v5 client that completed CONNECT is told why
    before its socket closes. (Whether the broker or the kernel at exit closes the other
    two cannot be told apart from outside; what matters is that they do not delay exit.)"""
    b = broker()
    idle = m.RawClient(b.port)                         # never sent anything
    partial = m.RawClient(b.port)
    partial.send(m.connect("half", V5)[:6])            # half a CONNECT
    mid = m.connected(b.port, "mid", V5)
    mid.send(b"\x30\x20" + m.utf8("mid/t"))            # half a PUBLISH
    b.wait_input_read()
    b.proc.send_signal(signal.SIGTERM)
    # Read while the broker shuts down, not after: the DISCONNECT must come from it.
    assert m.Disconnect(mid.read_packet(timeout=5)).reason == 0x8B
    assert mid.expect_closed(5)
    # A client closes when the broker's FIN reaches it; one that did not would hold the
    # broker's linger for drain_timeout_ms (5 s by default, as long as this wait).
    mid.close()
    assert b.proc.wait(5) == 0
    for c in (idle, partial):
        assert c.expect_closed(1)


def test_every_busy_v5_client_gets_0x8b_before_its_connection_closes(broker):
    """20 v5 clients each publishing QoS 0 as fast as they can and reading a fan-out of
    everyone's messages more slowly than it comes (megabytes queue for each): SIGTERM must
    still reach every one as DISCONNECT 0x8B after what was queued for it, within the
    drain bound (it was a fixed 2 s linger, and a close with their unread input reset the
    connection and threw away what was sent). The broker exits within that bound."""
    import socket
    import threading
    b = broker(config="drain_timeout_ms = 6000\n")
    clients = []
    for i in range(20):
        c = m.connected(b.port, f"busy-{i}", V5)
        c.subscribe(("busy/#", 0))
        clients.append(c)
    block = b"".join(m.publish(f"busy/{i % 20}", b"x" * 200, V5) for i in range(300))
    told_stop = [threading.Event() for _ in clients]
    tails = [b""] * len(clients)

    def publish(i, c):
        try:
            while not told_stop[i].is_set():
                c.sock.sendall(block)
        except OSError:
            pass

    def read(i, c):
        c.sock.settimeout(30)
        tail = c.buf
        try:
            while True:
                data = c.sock.recv(16384)
                if not data:
                    break
                time.sleep(0.005)  # a busy client reads as it can: 3.2 MB/s at most
                tail = (tail + data)[-8:]
                if tail.endswith((b"\xe0\x01\x8b", b"\xe0\x02\x8b\x00")):
                    told_stop[i].set()  # told: it stops publishing, as a client does
        except OSError:
            pass
        tails[i] = tail

    threads = [threading.Thread(target=publish, args=(i, c), daemon=True)
               for i, c in enumerate(clients)]
    threads += [threading.Thread(target=read, args=(i, c), daemon=True)
                for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # busy
    start = time.monotonic()
    b.proc.send_signal(signal.SIGTERM)
    for t in threads[len(clients):]:
        t.join(30)
    for event in told_stop:
        event.set()
    told = [t.endswith((b"\xe0\x01\x8b", b"\xe0\x02\x8b\x00")) for t in tails]
    assert all(told), f"{told.count(False)} of 20 busy clients never read DISCONNECT 0x8B"
    assert b.stop() == 0
    assert time.monotonic() - start < 10


def test_200_busy_v5_clients_each_read_0x8b_before_the_drain_bound(broker):
    """200 v5 clients in a ring, each publishing QoS 0 to the next one's topic as fast as
    its socket takes it and reading its own stream slowly, so output queues up for every
    one of them: at SIGTERM each must read DISCONNECT 0x8B, and the broker exits within
    its drain bound. (What the broker queued and no send took yet is dropped at SIGTERM,
    drain_dropped_bytes; what a send holds — up to outbound_buffer_bytes — and the
    kernel's buffers still go first.)"""
    import selectors
    import socket
    n = 200
    b = broker(config="drain_timeout_ms = 8000\n", nofile=4096)
    clients = []
    for i in range(n):
        c = m.connected(b.port, f"ring-{i}", V5)
        assert c.subscribe((f"ring/{i}", 0)) == [0]
        c.sock.setblocking(False)
        clients.append(c)
    blocks = [b"".join(m.publish(f"ring/{(i + 1) % n}", b"y" * 500, V5) for _ in range(32))
              for i in range(n)]
    sel = selectors.DefaultSelector()
    for i, c in enumerate(clients):
        sel.register(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, i)
    sent = [0] * n          # offset into the current block
    tails = [b""] * n
    told = [False] * n
    closed = [False] * n
    stop_at = None
    deadline = time.monotonic() + 40
    while not all(closed) and time.monotonic() < deadline:
        if stop_at is None and time.monotonic() > deadline - 39:   # after ~1 s of load
            stop_at = time.monotonic()
            b.proc.send_signal(signal.SIGTERM)
        for key, events in sel.select(timeout=0.05):
            i = key.data
            c = clients[i]
            if events & selectors.EVENT_WRITE and not told[i]:
                try:
                    sent[i] += c.sock.send(blocks[i][sent[i]:])
                    sent[i] %= len(blocks[i])
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    told[i] = True
            if events & selectors.EVENT_READ:
                try:
                    data = c.sock.recv(8192)   # one read per wake-up: a slow reader
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    closed[i] = True
                    sel.unregister(c.sock)
                    continue
                tails[i] = (tails[i] + data)[-8:]
                if tails[i].endswith((b"\xe0\x01\x8b", b"\xe0\x02\x8b\x00")) and not told[i]:
                    told[i] = True    # told: it stops publishing, as a client does
                    sel.modify(c.sock, selectors.EVENT_READ, i)
        time.sleep(0.002)
    got = [t.endswith((b"\xe0\x01\x8b", b"\xe0\x02\x8b\x00")) for t in tails]
    assert all(got), f"{got.count(False)} of {n} busy clients never read DISCONNECT 0x8B"
    assert b.stop() == 0
    assert time.monotonic() - stop_at < 12


def test_0x8b_does_not_wait_behind_megabytes_a_send_holds(broker):
    """Slow readers with a 64 MiB outbound buffer each: tens of megabytes are queued for
    each, much of it in the one send the kernel is working through. At SIGTERM what no
    send took is dropped, and the send in flight is cut at its next packet boundary once
    the kernel hands it back, so each reader meets its DISCONNECT 0x8B after a few
    megabytes (the kernel's own buffers and one packet-mark step), not after the tens
    queued: well within the drain bound."""
    import threading
    n = 4
    b = broker(config="drain_timeout_ms = 8000\n[limits]\n"
                      "outbound_buffer_bytes = 67108864\nmax_packet_size = 1048576\n")
    readers = []
    for i in range(n):
        c = m.connected(b.port, f"deep-{i}", V5)
        assert c.subscribe(("deep/#", 0)) == [0]
        readers.append(c)
    pub = m.connected(b.port, "deep-pub", V5)
    block = b"".join(m.publish("deep/t", b"z" * 16384, V5) for _ in range(64))  # 1 MiB
    stop_publishing = threading.Event()
    read_after = [0] * n
    told = [False] * n
    signalled = threading.Event()

    def publish():
        try:
            while not stop_publishing.is_set():
                pub.sock.sendall(block)
        except OSError:
            pass

    def read(i, c):
        c.sock.settimeout(30)
        tail = b""
        try:
            while True:
                data = c.sock.recv(65536)
                if not data:
                    break
                if signalled.is_set():
                    read_after[i] += len(data)
                time.sleep(0.01)   # at most ~6 MB/s: far slower than the publisher
                tail = (tail + data)[-8:]
                if tail.endswith((b"\xe0\x01\x8b", b"\xe0\x02\x8b\x00")):
                    told[i] = True
                    break     # told: it closes, as a client does
        except OSError:
            pass
        c.close()

    threads = [threading.Thread(target=publish, daemon=True)]
    threads += [threading.Thread(target=read, args=(i, c), daemon=True)
                for i, c in enumerate(readers)]
    for t in threads:
        t.start()
    time.sleep(3.0)   # the queues fill: the publisher outruns the readers many times over
    stop_publishing.set()
    threads[0].join(10)
    pub.close()       # done publishing: it does not stay to read its own goodbye
    signalled.set()
    start = time.monotonic()
    b.proc.send_signal(signal.SIGTERM)
    for t in threads[1:]:
        t.join(30)
    assert all(told), f"{told.count(False)} of {n} slow readers never read DISCONNECT 0x8B"
    counters = b.counters()
    assert time.monotonic() - start < 8
    assert counters["drain_dropped_bytes"] > 0
    # What each still read: the kernel's buffers and a mark step, not the backlog.
    assert max(read_after) < 24 << 20, read_after
