"""Will messages: published on an abnormal close, a keep-alive timeout and DISCONNECT
0x04, not on a normal DISCONNECT; will QoS, retain and properties are honoured; the Will
Delay Interval delays it, a reconnect within the delay cancels it, and the session
ending first sends it [MQTT-3.1.3-9]."""

import time

import pytest

import mqtt_raw as m
from mqtt_raw import PUBACK, PUBCOMP, PUBREC, PUBREL, V311, V5

SEI = m.SESSION_EXPIRY_INTERVAL
DELAY = m.WILL_DELAY_INTERVAL


def watcher(b, name, filter_="will/#", qos=2, rap=False):
    w = m.connected(b.port, name, V5)
    assert w.subscribe((filter_, m.sub_options(qos, retain_as_published=rap))) == [qos]
    return w


def take(w, timeout=10.0):
    """The next message, acknowledged whatever its QoS."""
    msg = w.next_message(timeout)
    if msg.qos == 1:
        w.send_ack(PUBACK, msg.packet_id)
    elif msg.qos == 2:
        w.send_ack(PUBREC, msg.packet_id)
        assert w.read_ack(PUBREL).packet_id == msg.packet_id
        w.send_ack(PUBCOMP, msg.packet_id)
    return msg


def will(topic, payload, qos=0, retain=False, properties=()):
    return dict(topic=topic, payload=payload, qos=qos, retain=retain, properties=properties)


@pytest.mark.parametrize("version", [V311, V5])
def test_will_is_published_when_the_socket_closes_without_disconnect(broker, version):
    b = broker()
    w = watcher(b, f"w-abn{version}")
    c = m.connected(b.port, f"abn{version}", version, will=will("will/abn", b"gone", qos=1))
    c.close()
    msg = take(w)
    assert (msg.topic, msg.payload, msg.qos, msg.retain) == ("will/abn", b"gone", 1, False)


@pytest.mark.parametrize("version", [V311, V5])
def test_will_is_published_on_keep_alive_timeout(broker, version):
    b = broker()
    w = watcher(b, f"w-ka{version}")
    c = m.connected(b.port, f"ka{version}", version, keepalive=1,
                    will=will("will/ka", b"silent"))
    start = time.monotonic()
    msg = take(w)
    elapsed = time.monotonic() - start
    assert (msg.topic, msg.payload) == ("will/ka", b"silent")
    assert 1.2 <= elapsed <= 4.0, elapsed
    assert c.expect_closed(10)


def test_will_is_published_on_disconnect_with_reason_0x04(broker):
    b = broker()
    w = watcher(b, "w-04")
    c = m.connected(b.port, "dw04", V5, will=will("will/04", b"asked for"))
    c.send(m.disconnect(0x04))
    assert c.expect_closed(10)
    msg = take(w)
    assert (msg.topic, msg.payload) == ("will/04", b"asked for")


@pytest.mark.parametrize("version,reason", [(V311, None), (V5, None), (V5, 0x00)])
def test_no_will_on_a_normal_disconnect(broker, version, reason):
    b = broker()
    w = watcher(b, f"w-norm{version}{reason}")
    cid = f"norm{version}{reason}"
    c = m.connected(b.port, cid, version, will=will("will/norm", b"must not"))
    c.send(m.disconnect(reason))
    assert c.expect_closed(10)
    # Same client id, same home shard: its messages come after any will would have.
    c = m.connected(b.port, cid, version)
    c.publish("will/marker", b"end")
    assert [(x.topic, x.payload) for x in w.messages_until("will/marker")] == \
        [("will/marker", b"end")]
    assert b.counters()["wills_published"] == 0


def test_will_qos_is_honoured(broker):
    b = broker()
    w = watcher(b, "w-qos", qos=2)
    for q in (0, 1, 2):
        m.connected(b.port, f"wq{q}", V311, will=will(f"will/q{q}", b"", qos=q)).close()
        msg = take(w)
        assert (msg.topic, msg.qos) == (f"will/q{q}", q)


def test_retained_will_is_stored_and_delivered_with_retain(broker):
    b = broker()
    w = watcher(b, "w-ret", rap=True)
    plain = watcher(b, "w-ret-plain")
    c, cid, home = b.client_on_shard("wret", V5, will=will("will/ret", b"last words", qos=1,
                                                            retain=True))
    c.close()
    msg = take(w)
    assert (msg.topic, msg.payload, msg.qos, msg.retain) == ("will/ret", b"last words", 1, True)
    assert take(plain).retain is False  # live delivery without Retain As Published
    # Stored: a new subscription gets it as a retained message. The subscriber shares the
    # will's shard, so its subscription reaches the store after the will did.
    late, _, _ = b.client_on_shard("wret-late", V311, want=home)
    late.subscribe(("will/ret", 1))
    msg = take(late)
    assert (msg.topic, msg.payload, msg.qos, msg.retain) == ("will/ret", b"last words", 1, True)


def test_will_properties_are_carried(broker):
    b = broker()
    w = watcher(b, "w-props")
    props = [(m.CONTENT_TYPE, "text/plain"), (m.RESPONSE_TOPIC, "reply/here"),
             (m.CORRELATION_DATA, b"\x00\x01corr"), (m.PAYLOAD_FORMAT_INDICATOR, 1),
             (m.USER_PROPERTY, ("k1", "v1")), (m.USER_PROPERTY, ("k2", "v2")),
             (m.USER_PROPERTY, ("k1", "again")), (m.MESSAGE_EXPIRY_INTERVAL, 30)]
    c = m.connected(b.port, "wprops", V5, will=will("will/props", "héllo".encode(),
                                                     properties=props))
    c.close()
    msg = take(w)
    assert msg.payload == "héllo".encode()
    p = msg.props
    assert p.get(m.CONTENT_TYPE) == "text/plain", p
    assert p.get(m.RESPONSE_TOPIC) == "reply/here", p
    assert p.get(m.CORRELATION_DATA) == b"\x00\x01corr", p
    assert p.get(m.PAYLOAD_FORMAT_INDICATOR) == 1, p
    assert p.get(m.USER_PROPERTY) == [("k1", "v1"), ("k2", "v2"), ("k1", "again")], p
    assert 29 <= p.get(m.MESSAGE_EXPIRY_INTERVAL, 0) <= 30, p
    assert DELAY not in p, p


def test_will_delay_interval_delays_the_will(broker):
    b = broker()
    w = watcher(b, "w-delay")
    c = m.connected(b.port, "delayed", V5, properties=[(SEI, 10)],
                    will=will("will/delay", b"late", properties=[(DELAY, 2)]))
    c.close()
    start = time.monotonic()
    msg = take(w)
    elapsed = time.monotonic() - start
    assert (msg.topic, msg.payload) == ("will/delay", b"late")
    assert 1.8 <= elapsed <= 4.0, elapsed


def test_reconnecting_within_the_will_delay_cancels_the_will(broker):
    b = broker()
    w = watcher(b, "w-cancel")
    kw = dict(clean=False, properties=[(SEI, 10)])
    back = m.connected(b.port, "comes-back", V5, **kw,
                       will=will("will/back", b"must not", properties=[(DELAY, 1)]))
    away = m.connected(b.port, "stays-away", V5, **kw,
                       will=will("will/away", b"control", properties=[(DELAY, 1)]))
    back.close()
    away.close()
    b.wait_for_log(r"client disconnected client_id=comes-back\b")
    again = m.RawClient(b.port, V5)
    assert again.connect("comes-back", **kw).session_present
    # The control's will comes after its 1 s delay; then wait as long again.
    msg = take(w)
    assert (msg.topic, msg.payload) == ("will/away", b"control")
    w.no_packet(1.2)
    assert again.is_open()


def test_will_is_sent_when_the_session_ends_before_the_delay(broker):
    b = broker()
    w = watcher(b, "w-end")
    c = m.connected(b.port, "short-session", V5, properties=[(SEI, 1)],
                    will=will("will/end", b"session over", properties=[(DELAY, 10)]))
    c.close()
    start = time.monotonic()
    msg = take(w)
    elapsed = time.monotonic() - start
    assert (msg.topic, msg.payload) == ("will/end", b"session over")
    assert 0.7 <= elapsed <= 4.0, elapsed


def test_will_with_delay_and_session_expiry_0_is_sent_at_once(broker):
    """Session Expiry 0: the session ends with the connection, so does the delay."""
    b = broker()
    w = watcher(b, "w-zero")
    c = m.connected(b.port, "no-session", V5,
                    will=will("will/zero", b"now", properties=[(DELAY, 10)]))
    c.close()
    start = time.monotonic()
    msg = take(w)
    assert (msg.topic, msg.payload) == ("will/zero", b"now")
    assert time.monotonic() - start < 1.0
