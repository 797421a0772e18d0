"""QoS 1 and 2 in both directions: granted and delivered QoS, the acknowledgement flows,
the outbound window (client's Receive Maximum capped by [limits] max_inflight), inbound
QoS 2 exactly once, and our Receive Maximum ([limits] receive_maximum)."""

import pytest

import mqtt_raw as m
from mqtt_raw import PUBACK, PUBCOMP, PUBREC, PUBREL, V31, V311, V5


def ack_body_ok(a, pid):
    assert (a.packet_id, a.reason, a.props) == (pid, 0, {}), a


@pytest.mark.parametrize("version", [V31, V311, V5])
def test_suback_grants_the_requested_qos(broker, version):
    b = broker()
    c = m.connected(b.port, f"grant{version}", version)
    assert c.subscribe(("g/0", 0), ("g/1", 1), ("g/2", 2)) == [0, 1, 2]
    # Changing the QoS of an existing subscription is granted too.
    assert c.subscribe(("g/2", 1), ("g/0", 2)) == [1, 2]


@pytest.mark.parametrize("version", [V311, V5])
def test_delivered_qos_is_the_minimum_of_publish_and_subscription(broker, version):
    b = broker()
    sub = m.connected(b.port, f"minq-sub{version}", version)
    assert sub.subscribe(("minq/0/#", 0), ("minq/1/#", 1), ("minq/2/#", 2)) == [0, 1, 2]
    pub = m.connected(b.port, f"minq-pub{version}", version)
    for s in range(3):
        for q in range(3):
            topic = f"minq/{s}/{q}"
            if q == 0:
                pub.publish(topic, b"p")
            elif q == 1:
                pub.publish_qos1(topic, b"p")
            else:
                pub.publish_qos2(topic, b"p")
    got = {}
    ids = set()
    for _ in range(9):
        msg = sub.next_message()
        got[msg.topic] = msg.qos
        assert msg.retain is False and msg.dup is False, msg
        if msg.qos == 0:
            assert msg.packet_id is None
        else:
            assert msg.packet_id != 0, f"outbound packet id 0 on {msg!r}"
            assert msg.packet_id not in ids, f"packet id {msg.packet_id} reused while in flight"
            ids.add(msg.packet_id)
            if msg.qos == 1:
                sub.send_ack(PUBACK, msg.packet_id)
            else:
                sub.send_ack(PUBREC, msg.packet_id)
                rel = sub.read_ack(PUBREL)
                ack_body_ok(rel, msg.packet_id)
                sub.send_ack(PUBCOMP, msg.packet_id)
    assert got == {f"minq/{s}/{q}": min(s, q) for s in range(3) for q in range(3)}
    sub.no_packet(0.2)


def test_v311_acknowledgements_have_the_exact_bytes(broker):
    b = broker()
    sub = m.connected(b.port, "bytes-sub", V311)
    sub.subscribe(("bytes/#", 2))
    pub = m.connected(b.port, "bytes-pub", V311)
    pub.publish("bytes/1", b"one", qos=1, packet_id=0x1234)
    assert pub.read_packet().raw == b"\x40\x02\x12\x34"
    pub.publish("bytes/2", b"two", qos=2, packet_id=0xABCD)
    assert pub.read_packet().raw == b"\x50\x02\xab\xcd"
    pub.send(m.ack(PUBREL, 0xABCD))
    assert pub.read_packet().raw == b"\x70\x02\xab\xcd"
    one = sub.next_message()
    assert (one.topic, one.payload, one.qos) == ("bytes/1", b"one", 1)
    sub.send_ack(PUBACK, one.packet_id)
    two = sub.next_message()
    assert (two.topic, two.payload, two.qos) == ("bytes/2", b"two", 2)
    sub.send_ack(PUBREC, two.packet_id)
    rel = sub.read_packet()
    assert rel.raw == b"\x62\x02" + m.u16(two.packet_id), rel
    sub.send_ack(PUBCOMP, two.packet_id)
    sub.no_packet(0.2)


@pytest.mark.parametrize("version", [V311, V5])
def test_outbound_qos2_waits_for_pubcomp_before_the_next_message_with_window_1(broker,
                                                                              version):
    """PUBREC → PUBREL → PUBCOMP; the window slot is only free again at PUBCOMP."""
    b = broker(config="[limits]\nmax_inflight = 1\n")
    sub = m.connected(b.port, f"q2w-sub{version}", version)
    sub.subscribe(("q2w/#", 2))
    pub = m.connected(b.port, f"q2w-pub{version}", V311)
    pub.publish_qos2("q2w/x", b"first")
    pub.publish_qos2("q2w/x", b"second")
    first = sub.next_message()
    assert (first.payload, first.qos) == (b"first", 2)
    sub.no_packet(0.3)
    sub.send_ack(PUBREC, first.packet_id)
    ack_body_ok(sub.read_ack(PUBREL), first.packet_id)
    sub.no_packet(0.3)  # still in flight until PUBCOMP
    sub.send_ack(PUBCOMP, first.packet_id)
    second = sub.next_message()
    assert (second.payload, second.qos, second.dup) == (b"second", 2, False)


def test_v5_receive_maximum_2_allows_two_unacknowledged_qos1_messages(broker):
    b = broker()
    sub = m.connected(b.port, "rm2-sub", V5, properties=[(m.RECEIVE_MAXIMUM, 2)])
    sub.subscribe(("rm2/#", 1))
    pub = m.connected(b.port, "rm2-pub", V311)
    for i in range(6):
        pub.publish_qos1("rm2/x", f"m{i}".encode())
    a, c = sub.next_message(), sub.next_message()
    assert [a.payload, c.payload] == [b"m0", b"m1"]
    sub.no_packet(0.5)
    sub.send_ack(PUBACK, a.packet_id)
    d = sub.next_message()
    assert d.payload == b"m2"
    sub.no_packet(0.3)
    sub.send_ack(PUBACK, c.packet_id)
    sub.send_ack(PUBACK, d.packet_id)
    rest = [sub.next_message(), sub.next_message()]
    assert [x.payload for x in rest] == [b"m3", b"m4"]
    sub.no_packet(0.3)
    sub.send_ack(PUBACK, rest[0].packet_id)
    last = sub.next_message()
    assert last.payload == b"m5"
    for x in (a, c, d, *rest, last):
        assert x.qos == 1 and x.packet_id != 0 and not x.dup, x


@pytest.mark.parametrize("version", [V311, V5])
def test_max_inflight_caps_the_window(broker, version):
    b = broker(config="[limits]\nmax_inflight = 3\n")
    # v5 without Receive Maximum means 65535; v3 has none: both get max_inflight.
    sub = m.connected(b.port, f"cap-sub{version}", version)
    sub.subscribe(("cap/#", 1))
    pub = m.connected(b.port, f"cap-pub{version}", V311)
    for i in range(8):
        pub.publish_qos1("cap/x", f"{i}".encode())
    first = [sub.next_message() for _ in range(3)]
    sub.no_packet(0.5)
    for x in first:
        sub.send_ack(PUBACK, x.packet_id)
    rest = []
    while len(rest) < 5:
        x = sub.next_message()
        rest.append(x)
        sub.send_ack(PUBACK, x.packet_id)
    assert [x.payload for x in first + rest] == [f"{i}".encode() for i in range(8)]


@pytest.mark.parametrize("version", [V311, V5])
def test_inbound_qos2_duplicate_before_pubrel_is_delivered_once(broker, version):
    b = broker()
    sub = m.connected(b.port, f"dup2-sub{version}", V311)
    sub.subscribe("dup2/#")
    pub = m.connected(b.port, f"dup2-pub{version}", version)
    pub.publish("dup2/x", b"once", qos=2, packet_id=7)
    ack_body_ok(pub.read_ack(PUBREC), 7)
    pub.publish("dup2/x", b"once", qos=2, packet_id=7, dup=True)
    ack_body_ok(pub.read_ack(PUBREC), 7)
    pub.send_ack(PUBREL, 7)
    ack_body_ok(pub.read_ack(PUBCOMP), 7)
    # Completed: the same id now starts a new message.
    pub.publish("dup2/x", b"again", qos=2, packet_id=7)
    ack_body_ok(pub.read_ack(PUBREC), 7)
    pub.send_ack(PUBREL, 7)
    ack_body_ok(pub.read_ack(PUBCOMP), 7)
    pub.publish("dup2/end", b"")
    assert [x.payload for x in sub.messages_until("dup2/end")] == [b"once", b"again", b""]


def test_v5_pubrel_for_an_unknown_packet_id_gets_pubcomp_0x92(broker):
    b = broker()
    c = m.connected(b.port, "unknown-rel5", V5)
    c.send_ack(PUBREL, 4242)
    comp = c.read_ack(PUBCOMP)
    assert (comp.packet_id, comp.reason) == (4242, 0x92), comp
    # The connection goes on.
    c.ping()


def test_v311_pubrel_for_an_unknown_packet_id_gets_pubcomp(broker):
    b = broker()
    c = m.connected(b.port, "unknown-rel3", V311)
    c.send_ack(PUBREL, 4242)
    assert c.read_packet().raw == b"\x70\x02\x10\x92"
    c.ping()


def test_v5_client_over_our_receive_maximum_gets_disconnect_0x93(broker):
    b = broker(config="[limits]\nreceive_maximum = 2\n")
    c = m.RawClient(b.port, V5)
    ack = c.connect("over-rm")
    assert ack.props.get(m.RECEIVE_MAXIMUM) == 2, ack.props
    sub = m.connected(b.port, "over-rm-sub", V311)
    sub.subscribe("orm/#")
    c.publish("orm/x", b"1", qos=2, packet_id=1)
    c.publish("orm/x", b"2", qos=2, packet_id=2)
    ack_body_ok(c.read_ack(PUBREC), 1)
    ack_body_ok(c.read_ack(PUBREC), 2)
    c.publish("orm/x", b"3", qos=2, packet_id=3)
    assert m.Disconnect(c.read_packet()).reason == 0x93
    assert c.expect_closed(10)
    got = [sub.next_message().payload for _ in range(2)]
    assert got == [b"1", b"2"]
    sub.no_packet(0.3)


def test_receive_maximum_counts_only_messages_awaiting_pubrel(broker):
    b = broker(config="[limits]\nreceive_maximum = 2\n")
    c = m.connected(b.port, "rm-ok", V5)
    sub = m.connected(b.port, "rm-ok-sub", V311)
    sub.subscribe("rmok/#")
    # Ten QoS 2 messages, never more than two awaiting PUBREL: fine.
    for i in range(10):
        c.publish_qos2("rmok/x", f"{i}".encode(), packet_id=i % 3 + 1)
    # QoS 1 does not count against it.
    for i in range(10):
        c.publish("rmok/y", b"q1", qos=1, packet_id=100 + i)
    for i in range(10):
        assert c.read_ack(PUBACK).packet_id == 100 + i
    assert c.is_open()
    assert [x.payload for x in sub.messages_until("rmok/x", b"9")] == \
        [f"{i}".encode() for i in range(10)]
