"""Connect, subscribe, publish and receive with every protocol version."""

import re

import pytest

import mqtt_raw as m
from clients import MosquittoSub, PahoClient, mosquitto_pub
from mqtt_raw import V31, V311, V5


def test_v5_connack_advertises_the_feature_set(broker):
    b = broker()
    c = m.RawClient(b.port, V5)
    ack = c.connect("caps")
    assert ack.session_present is False
    p = ack.props
    # QoS 2 and retain are available: absent means "yes"; if present they must say so.
    assert p.get(m.MAXIMUM_QOS, 2) == 2, p
    assert p.get(m.RETAIN_AVAILABLE, 1) == 1, p
    assert p.get(m.SUBSCRIPTION_IDENTIFIER_AVAILABLE, 1) == 1, p
    assert p.get(m.WILDCARD_SUBSCRIPTION_AVAILABLE, 1) == 1, p
    assert p.get(m.SHARED_SUBSCRIPTION_AVAILABLE, 1) == 1, p
    assert p.get(m.RECEIVE_MAXIMUM) == 1024, p
    assert p.get(m.TOPIC_ALIAS_MAXIMUM) == 64, p
    assert m.ASSIGNED_CLIENT_IDENTIFIER not in p, p
    b.wait_for_log(r"client connected client_id=caps shard=[01] protocol=5\b")


def test_v5_empty_client_id_gets_an_assigned_identifier(broker):
    b = broker()
    a = m.RawClient(b.port, V5)
    id_a = a.connect("").props.get(m.ASSIGNED_CLIENT_IDENTIFIER)
    c = m.RawClient(b.port, V5)
    id_c = c.connect("").props.get(m.ASSIGNED_CLIENT_IDENTIFIER)
    assert id_a and id_c and id_a != id_c
    b.wait_for_log(r"client connected client_id=%s shard=[01] protocol=5" % re.escape(id_a))
    # Both assigned-id clients are fully usable.
    assert a.subscribe("assigned/#") == [0]
    c.publish("assigned/x", b"to a")
    msg = a.next_message()
    assert (msg.topic, msg.payload) == ("assigned/x", b"to a")
    # An assigned id is not "empty": it must not take over the other client.
    assert c.is_open() and a.is_open()


def test_v311_empty_client_id_with_clean_session_is_accepted(broker):
    b = broker()
    c = m.RawClient(b.port, V311)
    c.send(m.connect("", V311, clean=True))
    assert c.read_packet().raw == b"\x20\x02\x00\x00"
    assert c.subscribe("empty/id") == [0]
    c.publish("empty/id", b"x")
    assert c.next_message().payload == b"x"


def test_v311_empty_client_id_without_clean_session_is_rejected(broker):
    b = broker()
    c = m.RawClient(b.port, V311)
    c.send(m.connect("", V311, clean=False))
    assert c.read_packet().raw == b"\x20\x02\x00\x02"
    assert c.expect_closed(10)
    assert c.buf == b""


def test_v31_mqisdp_client_connects_subscribes_and_receives(broker):
    b = broker()
    c = m.RawClient(b.port, V31)
    c.send(m.connect("old31", V31))
    assert c.read_packet().raw == b"\x20\x02\x00\x00"
    b.wait_for_log(r"client connected client_id=old31 shard=[01] protocol=3\b")
    assert c.subscribe("old/+") == [0]
    c.publish("old/x", b"hello 3.1")
    msg = c.next_message()
    assert (msg.topic, msg.payload, msg.qos, msg.retain) == ("old/x", b"hello 3.1", 0, False)


def test_every_version_pair_publishes_and_receives_exact_bytes(broker):
    b = broker()
    subs = {v: m.connected(b.port, f"sub{v}", v) for v in (V31, V311, V5)}
    for s in subs.values():
        assert s.subscribe("a/#") == [0]
    pubs = {v: m.connected(b.port, f"pub{v}", v) for v in (V31, V311, V5)}
    binary = bytes(range(256))
    sent = []
    for v, p in pubs.items():
        for topic, payload in ((f"a/{v}", binary), (f"a/{v}/ü/€", b""), ("a", f"v{v}".encode())):
            p.publish(topic, payload)
            sent.append((topic, payload))
    for v, s in subs.items():
        got = [s.next_message() for _ in sent]
        assert all(msg.qos == 0 and not msg.retain for msg in got)
        # Per publisher the order is kept; across publishers it is not defined.
        for pv in pubs:
            mine = [(t, pl) for t, pl in sent if t.startswith(f"a/{pv}") or pl == f"v{pv}".encode()]
            theirs = [(msg.topic, msg.payload) for msg in got
                      if msg.topic.startswith(f"a/{pv}") or msg.payload == f"v{pv}".encode()]
            assert theirs == mine, f"subscriber v{v} from publisher v{pv}"


@pytest.mark.parametrize("qos", [1, 2])
def test_v5_publish_with_qos_above_0_is_acknowledged(broker, qos):
    b = broker()
    sub = m.connected(b.port, "v5qsub", V311)
    sub.subscribe(("v5q/#", 2))
    c = m.connected(b.port, "v5q", V5)
    c.publish("v5q/x", b"yes", qos=qos, packet_id=1)
    ack = c.read_packet()
    assert ack.type == (m.PUBACK if qos == 1 else m.PUBREC)
    msg = sub.next_message()
    assert (msg.topic, msg.payload, msg.qos) == ("v5q/x", b"yes", qos)


def test_retained_message_reaches_a_later_subscriber_with_retain_set(broker):
    b = broker()
    sub = m.connected(b.port, "rsub", V311)
    sub.subscribe("r/#")
    pub = m.connected(b.port, "rpub", V311)
    pub.publish("r/x", b"kept", retain=True)
    msg = sub.next_message()
    # [MQTT-3.3.1-9]: retain is 0 when forwarded on an established subscription.
    assert (msg.topic, msg.payload, msg.retain) == ("r/x", b"kept", False)
    late = m.connected(b.port, "rlate", V311)
    late.subscribe("r/#")
    msg = late.next_message()
    assert (msg.topic, msg.payload, msg.retain) == ("r/x", b"kept", True)


@pytest.mark.parametrize("version", [V311, V5])
def test_unsubscribe_stops_delivery(broker, version):
    b = broker()
    c = m.connected(b.port, "unsub", version)
    assert c.subscribe("u/#", "u/sync") == [0, 0]
    pub = m.connected(b.port, "unsubpub", V311)
    pub.publish("u/a", b"1")
    assert c.next_message().payload == b"1"
    codes = c.unsubscribe("u/#")
    assert codes == ([0x00] if version == V5 else [])
    if version == V5:
        assert c.unsubscribe("never/subscribed") == [0x11]
    pub.publish("u/a", b"2")
    pub.publish("u/sync", b"end")
    got = c.messages_until("u/sync")
    assert [(x.topic, x.payload) for x in got] == [("u/sync", b"end")]


@pytest.mark.parametrize("version", [V311, V5])
def test_paho_clients_publish_and_receive(broker, version):
    b = broker()
    sub = PahoClient(b.port, f"paho-sub-{version}", version)
    pub = PahoClient(b.port, f"paho-pub-{version}", version)
    try:
        assert sub.subscribe("paho/#", qos=1) == [1]
        for i in range(20):
            pub.publish(f"paho/{i}", f"msg {i}".encode())
        got = [sub.next_message() for _ in range(20)]
        assert got == [(f"paho/{i}", f"msg {i}".encode(), 0, False) for i in range(20)]
        # QoS 1 end to end: acknowledged (wait_for_publish) and delivered at QoS 1.
        pub.publish("paho/q1", b"q1", qos=1)
        assert sub.next_message() == ("paho/q1", b"q1", 1, False)
        assert not sub.disconnected.is_set() and not pub.disconnected.is_set()
    finally:
        sub.close()
        pub.close()


@pytest.mark.parametrize("sub_version", [V311, V5])
def test_mosquitto_clients_end_to_end(broker, sub_version):
    b = broker()
    sub = MosquittoSub(b.port, "a/#", sub_version, count=3, client_id=f"msub{sub_version}")
    sub.wait_subscribed()
    for v in (V31, V311, V5):
        mosquitto_pub(b.port, "a/b/c", f"hello {v}", v, client_id=f"mpub{v}")
    code, msgs = sub.finish()
    assert code == 0, sub.lines
    assert msgs == ["a/b/c hello 3", "a/b/c hello 4", "a/b/c hello 5"]


@pytest.mark.parametrize("version", [V311, V5])
def test_packets_split_at_every_kind_of_boundary_arrive_whole_and_in_order(broker, version):
    """A stream of PUBLISH packets (QoS 0 and 1, small and multi-kilobyte, so one- and
    two-byte remaining lengths) written in pieces that end inside fixed headers, inside
    remaining lengths, inside bodies and exactly on packet ends, each piece its own read
    (TCP_NODELAY, a pause between them), then the rest in one burst: every message arrives
    once, whole and in order, and every QoS 1 one is acknowledged."""
    import random
    import socket
    import time

    b = broker()
    sub = m.RawClient(b.port, version)
    sub.connect("split-sub")
    assert sub.subscribe("split/#") == [0]
    pub = m.RawClient(b.port, version)
    pub.connect("split-pub")
    pub.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rng = random.Random(7)
    stream = b""
    expected = []
    for i in range(60):
        size = rng.choice([0, 1, 100, 126, 127, 128, 3000, 20000])
        payload = bytes((i + k) % 251 for k in range(size))
        qos = i % 2
        stream += m.publish(f"split/{i}", payload, version=version, qos=qos,
                            packet_id=i + 1 if qos else None)
        expected.append((f"split/{i}", payload))
    # Cut points: every offset of the first few packets' headers, then random ones.
    cuts = sorted(set(list(range(1, 12)) + rng.sample(range(12, len(stream) // 2), 80)))
    pieces = [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream) // 2])]
    for piece in pieces:
        pub.send(piece)
        time.sleep(0.002)
    pub.send(stream[len(stream) // 2:])
    got = [sub.next_message() for _ in expected]
    assert [(g.topic, g.payload) for g in got] == expected
    acks = [pub.read_ack(m.PUBACK).packet_id for _ in range(30)]
    assert acks == [i + 1 for i in range(60) if i % 2]
    assert pub.is_open() and sub.is_open()
