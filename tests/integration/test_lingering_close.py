"""A close that lets the reason code arrive: after its last packet (a DISCONNECT, a refusing
CONNACK) the broker shuts down its write side and reads and discards the client's input
for a bounded time and byte count before it closes. Closing at once would answer a client
still sending with a reset, and the reset lets the client's kernel drop the DISCONNECT
before the client reads it."""

import os
import socket
import time

import mqtt_raw as m
from mqtt_raw import V5


def test_receive_maximum_exceeded_reaches_a_client_that_answers_as_it_reads(broker):
    """The issue's client: Receive Maximum + 1 QoS 2 PUBLISHes at once, then a PUBREL for
    each PUBREC as it reads them. The 1,024 PUBRECs and DISCONNECT 0x93 all arrive."""
    b = broker(config="[limits]\nreceive_maximum = 1024\n")
    c = m.connected(b.port, "rm-over", V5)
    c.send(b"".join(m.publish("rm/x", b"p", V5, qos=2, packet_id=i) for i in range(1, 1026)))
    first = m.Ack(c.read_packet(), m.PUBREC)
    # By now the broker has read all 1,025, answered, and closed its side: the PUBRELs
    # below reach a socket the broker is done with.
    time.sleep(0.3)
    pubrecs = [first]
    c.send(m.ack(m.PUBREL, first.packet_id))
    while True:
        pkt = c.read_packet(timeout=10)
        if pkt.type != m.PUBREC:
            break
        pubrecs.append(m.Ack(pkt, m.PUBREC))
        c.send(m.ack(m.PUBREL, pubrecs[-1].packet_id))
    assert [a.packet_id for a in pubrecs] == list(range(1, 1025))
    assert m.Disconnect(pkt).reason == 0x93
    assert c.expect_closed(5)
    counters = b.counters()
    assert counters["linger_started"] >= 1, counters


def raw_connected(port, client_id):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(m.connect(client_id, V5))
    s.recv(4096)  # CONNACK
    return s


def test_a_client_that_keeps_sending_is_closed_at_the_byte_bound(broker):
    """After a protocol error the client never reads and never stops sending: the broker
    stops discarding after its byte bound and the socket closes (a reset, at that point)."""
    b = broker()
    s = raw_connected(b.port, "flood")
    s.sendall(bytes.fromhex("f000"))  # reserved packet type 15 without AUTH's layout
    junk = b"\x00" * 65536
    deadline = time.monotonic() + 10
    closed = False
    while time.monotonic() < deadline:
        try:
            s.sendall(junk)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
    assert closed, "still accepting input 10 s after its goodbye"
    counters = b.counters()
    assert counters["linger_started"] == 1, counters


def socket_inodes(pid):
    """The broker's open sockets, by inode ("socket:[N]")."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


def test_a_client_that_neither_reads_nor_closes_is_let_go_after_the_linger(broker):
    """It gets our FIN right away; the broker closes its socket within the linger bound
    (2 s) although the client never closes its side."""
    b = broker()
    before = socket_inodes(b.proc.pid)
    s = raw_connected(b.port, "mute")
    # Ours is the socket that appeared (the fixture's readiness probe may close meanwhile).
    ours = socket_inodes(b.proc.pid) - before
    assert ours, "no new socket in the broker for the connection"
    s.sendall(bytes.fromhex("e005000000000000"))  # DISCONNECT with trailing bytes
    start = time.monotonic()
    s.settimeout(5)
    assert s.recv(100)[:1] == b"\xe0"  # its DISCONNECT
    assert s.recv(100) == b""         # and our FIN, at once
    while ours & socket_inodes(b.proc.pid):
        assert time.monotonic() - start < 6, "the broker still holds the socket"
        time.sleep(0.05)
    assert time.monotonic() - start > 1.5, "closed before the linger ran out"
    s.close()


def test_lingering_is_bounded_per_shard(broker):
    """[limits] max_lingering = 2 on one shard: three clients that misbehave and never
    close; two linger, the third is closed as soon as its DISCONNECT is written."""
    b = broker(shards=1, config="[limits]\nmax_lingering = 2\n")
    clients = [raw_connected(b.port, f"mute-{i}") for i in range(3)]
    for s in clients:
        s.sendall(bytes.fromhex("e005000000000000"))  # DISCONNECT with trailing bytes
    for s in clients:
        s.settimeout(5)
        assert s.recv(100)[:1] == b"\xe0"  # each is told why, lingering or not
    counters = b.counters()
    assert (counters["linger_started"], counters["linger_refused"]) == (2, 1), counters
    for s in clients:
        s.close()
