"""[limits] max_packet_size: counted with the fixed header, enforced from the header; and a
v5 client's own Maximum Packet Size, honoured on what the broker sends it."""

import time

import pytest

import mqtt_raw as m
from mqtt_raw import V311, V5

LIMIT = 1024
CONFIG = f"[limits]\nmax_packet_size = {LIMIT}\n"


def publish_of_total_size(topic, total, version):
    """A QoS 0 PUBLISH whose encoded size, fixed header included, is exactly `total`."""
    overhead = len(m.publish(topic, b"", version))
    n = total - overhead
    # Remaining length grows from 1 to 2 bytes past 127: adjust once.
    while len(m.publish(topic, b"x" * n, version)) > total:
        n -= 1
    pkt = m.publish(topic, b"x" * n, version)
    assert len(pkt) == total
    return pkt, n


@pytest.mark.parametrize("version", [V311, V5])
def test_packet_of_exactly_the_limit_is_accepted_one_more_byte_is_not(broker, version):
    b = broker(config=CONFIG)
    # Same version as the publisher, so the forwarded packet is the same size too.
    sub = m.connected(b.port, f"mps-sub{version}", version)
    sub.subscribe("mps/#")
    pub = m.connected(b.port, f"mps-pub{version}", version)
    exact, n = publish_of_total_size("mps/x", LIMIT, version)
    pub.send(exact)
    msg = sub.next_message()
    assert (msg.topic, msg.payload) == ("mps/x", b"x" * n)
    pub.send(publish_of_total_size("mps/x", LIMIT + 1, version)[0])
    if version == V5:
        assert m.Disconnect(pub.read_packet()).reason == 0x95
    assert pub.expect_closed(10)
    if version == V311:
        assert pub.buf == b""
    # The oversized message went nowhere; the subscriber is unaffected.
    other = m.connected(b.port, f"mps-other{version}", V311)
    other.publish("mps/end", b"")
    assert [x.topic for x in sub.messages_until("mps/end")] == ["mps/end"]


@pytest.mark.parametrize("version", [V311, V5])
def test_huge_length_is_refused_from_the_fixed_header_alone(broker, version):
    b = broker(config=CONFIG)
    c = m.connected(b.port, f"hdr{version}", version)
    # PUBLISH announcing 200 MB; no body follows.
    start = time.monotonic()
    c.send(b"\x30" + m.varint(200_000_000))
    if version == V5:
        assert m.Disconnect(c.read_packet(timeout=10)).reason == 0x95
    assert c.expect_closed(10)
    assert time.monotonic() - start < 8
    if version == V311:
        assert c.buf == b""


def test_just_over_the_limit_header_is_refused_without_the_body(broker):
    b = broker(config=CONFIG)
    c = m.connected(b.port, "hdr-small", V5)
    # Remaining length LIMIT: 1 + 2 + LIMIT bytes in total, over the limit by 3.
    c.send(b"\x30" + m.varint(LIMIT) + b"\x00\x01")
    assert m.Disconnect(c.read_packet(timeout=10)).reason == 0x95
    assert c.expect_closed(10)


def test_oversized_v5_connect_gets_connack_0x95(broker):
    b = broker(config=CONFIG)
    c = m.RawClient(b.port)
    pkt = m.connect("big", V5, properties=[(m.USER_PROPERTY, ("k", "v" * 2000))])
    assert len(pkt) > LIMIT
    c.send(pkt)
    ack = m.Connack(c.read_packet(), V5)
    assert ack.code == 0x95
    assert c.expect_closed(10)


def test_oversized_connect_header_alone_is_closed(broker):
    b = broker(config=CONFIG)
    c = m.RawClient(b.port)
    c.send(b"\x10" + m.varint(100_000_000))
    assert c.expect_closed(8)


def test_default_limit_allows_large_messages(broker):
    """Default max_packet_size is 1 MiB: a 512 KiB message goes through."""
    b = broker()
    sub = m.connected(b.port, "big-sub", V5)
    sub.subscribe("big")
    pub = m.connected(b.port, "big-pub", V311)
    payload = bytes(range(256)) * 2048
    pub.publish("big", payload)
    assert sub.next_message().payload == payload
    # And just over 1 MiB is refused.
    pub5 = m.connected(b.port, "big-pub5", V5)
    pub5.send(b"\x30" + m.varint(1048576))
    assert m.Disconnect(pub5.read_packet()).reason == 0x95


@pytest.mark.parametrize("qos", [0, 1])
def test_message_over_the_clients_maximum_packet_size_is_not_sent_to_it(broker, qos):
    b = broker()
    small = m.connected(b.port, f"cmps-small{qos}", V5, properties=[(m.MAXIMUM_PACKET_SIZE, 100)])
    assert small.subscribe(("cmps/#", qos)) == [qos]
    big = m.connected(b.port, f"cmps-big{qos}", V5)
    big.subscribe(("cmps/#", qos))
    pub = m.connected(b.port, f"cmps-pub{qos}", V311)
    send = pub.publish_qos1 if qos else pub.publish
    send("cmps/x", b"x" * 500)
    # A PUBLISH of exactly 100 bytes on the wire still fits.
    fits = 100 - len(m.publish("cmps/y", b"", V5, qos=qos, packet_id=1))
    send("cmps/y", b"y" * fits)
    pub.publish("cmps/end", b"")
    got = small.messages_until("cmps/end")
    assert [(x.topic, len(x.payload)) for x in got] == [("cmps/y", fits), ("cmps/end", 0)]
    assert len(got[0].raw) == 100
    for x in got:
        assert x.qos == 0 or x.packet_id, x
        if x.qos:
            small.send_ack(m.PUBACK, x.packet_id)
    # The dropped QoS 1 message took no window slot and is not resent.
    assert small.is_open()
    small.ping()
    got = big.messages_until("cmps/end")
    assert [(x.topic, len(x.payload)) for x in got] == \
        [("cmps/x", 500), ("cmps/y", fits), ("cmps/end", 0)]
    assert b.counters()["oversize_dropped"] == 1


def wire_size(pkt):
    return 1 + len(m.varint(len(pkt.body))) + len(pkt.body)


def test_a_client_too_small_for_any_connack_is_closed_without_one(broker):
    """Maximum Packet Size 2: no CONNACK fits (5 bytes at least), so none is sent
    [MQTT-3.1.2-24]; the connection closes. The issue's exact CONNECT."""
    b = broker()
    c = m.RawClient(b.port, V5)
    c.send(bytes.fromhex("10130004 4d515454 0502000a 05270000 00020001 70"))
    assert c.expect_closed(5)
    assert c.buf == b"", f"sent to a client that takes 2 bytes: {c.buf.hex()}"
    assert b.counters()["oversize_closed"] == 1


def test_a_refusing_connack_leaves_its_reason_string_out_to_fit(broker):
    """Maximum Packet Size 8 and a refused CONNECT (a will on $SYS): CONNACK 0x87 comes
    bare, 5 bytes, not with its Reason String [MQTT-3.2.2-19]."""
    b = broker()
    c = m.RawClient(b.port, V5)
    c.send(m.connect("tiny-refused", V5, properties=[(m.MAXIMUM_PACKET_SIZE, 8)],
                     will=dict(topic="$SYS/will", payload=b"x")))
    pkt = c.read_packet()
    ack = m.Connack(pkt, V5)
    assert (ack.code, ack.props, wire_size(pkt)) == (0x87, {}, 5)
    assert c.expect_closed(5)


def test_suback_and_disconnect_fit_the_clients_limit(broker):
    """Maximum Packet Size 20: a SUBACK that refuses a filter comes without its Reason
    String [MQTT-3.9.2-1], and the DISCONNECT for a protocol error without its own
    [MQTT-3.14.2-3]."""
    b = broker()
    c = m.connected(b.port, "tiny-sub", V5, properties=[(m.MAXIMUM_PACKET_SIZE, 20)])
    c.send(m.subscribe(1, ["ok/x", "$share//x"], V5))
    pkt = c.read_packet()
    sub = m.Suback(pkt, V5)
    assert (sub.codes, sub.props) == ([0x00, 0x8F], {})
    assert wire_size(pkt) <= 20
    # A client with room gets the reason string: the limit is what took it out.
    roomy = m.connected(b.port, "roomy-sub", V5)
    roomy.send(m.subscribe(1, ["ok/x", "$share//x"], V5))
    assert m.REASON_STRING in m.Suback(roomy.read_packet(), V5).props
    c.send(m.publish("t", b"p", V5, qos=1, packet_id=1,
                     properties=[(m.SUBSCRIPTION_IDENTIFIER, 1)]))
    pkt = c.read_packet()
    assert (m.Disconnect(pkt).reason, m.Disconnect(pkt).props) == (0x82, {})
    assert wire_size(pkt) <= 20
    assert c.expect_closed(5)


def test_a_subscription_identifier_in_a_clients_publish_is_a_protocol_error(broker):
    """[MQTT-3.3.4-6]: the issue's PUBLISH (QoS 1, two Subscription Identifiers) gets
    DISCONNECT 0x82, no PUBACK, and the message goes nowhere."""
    b = broker()
    sub = m.connected(b.port, "sid-sub", V311)
    sub.subscribe("topic")
    c = m.connected(b.port, "sid-pub", V5)
    c.send(bytes.fromhex("3215 0005 746f7069 63 04d2 04 0b010b01 7061796c6f6164"))
    pkt = c.read_packet()
    assert m.Disconnect(pkt).reason == 0x82, pkt
    assert c.expect_closed(5)
    sub.no_packet()
