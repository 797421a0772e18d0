"""Keep alive (1.5 x the client's value) and [limits] connect_timeout_ms."""

import time

import pytest

import mqtt_raw as m
from mqtt_raw import V311, V5

CONNECT_TIMEOUT_CONFIG = "[limits]\nconnect_timeout_ms = 500\n"


def wait_closed(c, limit):
    """Seconds until the peer closed `c`; fails if it stays open `limit` seconds."""
    start = time.monotonic()
    assert c.expect_closed(limit), f"still open after {limit}s"
    return time.monotonic() - start


def test_silent_v5_client_gets_disconnect_0x8d_after_one_and_a_half_keepalives(broker):
    b = broker()
    c = m.RawClient(b.port, V5)
    ack = c.connect("ka5", keepalive=1)
    assert m.SERVER_KEEP_ALIVE not in ack.props, "test assumes the client's keep alive"
    start = time.monotonic()
    pkt = c.read_packet(timeout=10)
    elapsed = time.monotonic() - start
    assert m.Disconnect(pkt).reason == 0x8D
    assert c.expect_closed(10)
    # 1.5 s measured from CONNACK (which comes after the broker's clock started).
    assert 1.2 <= elapsed <= 6.0, elapsed


def test_silent_v3_client_is_closed_after_one_and_a_half_keepalives(broker):
    b = broker()
    c = m.connected(b.port, "ka3", V311, keepalive=1)
    elapsed = wait_closed(c, 10)
    assert c.buf == b""
    assert 1.2 <= elapsed <= 6.0, elapsed


@pytest.mark.parametrize("version", [V311, V5])
def test_pingreq_keeps_the_connection_alive(broker, version):
    b = broker()
    c = m.connected(b.port, f"ping{version}", version, keepalive=1)
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:
        c.ping()
        time.sleep(0.4)
    assert c.is_open()
    # Stop pinging: now it goes.
    assert c.expect_closed(10)


def test_any_packet_counts_as_activity(broker):
    b = broker()
    c = m.connected(b.port, "busy", V311, keepalive=1)
    c.subscribe("busy/#")
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        c.publish("busy/x", b".")
        assert c.next_message().payload == b"."
        time.sleep(0.4)
    assert c.is_open()


@pytest.mark.parametrize("version", [V311, V5])
def test_a_packet_every_0_9_s_keeps_a_1_s_keep_alive_open(broker, version):
    """1.5 x keep alive counts from the last packet received, even when the broker had
    nothing else to do (and slept) between two packets."""
    b = broker()
    c = m.connected(b.port, f"ka-edge{version}", version, keepalive=1)
    for _ in range(3):
        time.sleep(0.9)
        c.ping(timeout=2)
    assert c.is_open()


def test_keepalive_zero_is_never_disconnected(broker):
    b = broker()
    forever = m.connected(b.port, "ka0", V5, keepalive=0)
    control = m.connected(b.port, "ka1", V5, keepalive=1)
    # While the control client is timed out, the keep-alive-0 one stays.
    assert m.Disconnect(control.read_packet(timeout=10)).reason == 0x8D
    time.sleep(1.0)
    assert forever.is_open()
    forever.ping()


def test_silent_socket_is_closed_after_connect_timeout(broker):
    b = broker(config=CONNECT_TIMEOUT_CONFIG)
    c = m.RawClient(b.port)
    elapsed = wait_closed(c, 10)
    assert c.buf == b""
    assert 0.4 <= elapsed <= 6.0, elapsed


@pytest.mark.parametrize("version", [V311, V5])
def test_partial_connect_is_closed_after_connect_timeout(broker, version):
    b = broker(config=CONNECT_TIMEOUT_CONFIG)
    c = m.RawClient(b.port)
    full = m.connect("partial", version)
    c.send(full[:len(full) - 3])
    elapsed = wait_closed(c, 10)
    assert c.buf == b""
    assert 0.4 <= elapsed <= 6.0, elapsed


def test_trickled_connect_is_closed_after_connect_timeout(broker):
    """Bytes arriving slowly do not restart the connect timer."""
    b = broker(config=CONNECT_TIMEOUT_CONFIG)
    c = m.RawClient(b.port)
    start = time.monotonic()
    full = m.connect("trickle" * 10, V311)
    closed = False
    for i in range(len(full) - 1):
        try:
            c.send(full[i:i + 1])
        except OSError:
            closed = True
            break
        if not c.is_open():
            closed = True
            break
        time.sleep(0.1)
    assert closed or c.expect_closed(10)
    assert time.monotonic() - start <= 6.0


def test_connect_in_time_is_not_affected_by_connect_timeout(broker):
    b = broker(config=CONNECT_TIMEOUT_CONFIG)
    c = m.RawClient(b.port)
    time.sleep(0.2)
    c.send(m.connect("intime", V311, keepalive=0))
    assert c.read_packet().raw == b"\x20\x02\x00\x00"
    time.sleep(1.0)  # twice the connect timeout
    assert c.is_open()
    c.ping()
