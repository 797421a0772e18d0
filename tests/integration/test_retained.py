"""Retained messages: the latest wins, an empty payload deletes, Retain Handling 0/1/2,
RETAIN=1 and QoS = min(message, subscription) on retained delivery, wildcard
subscriptions see the retained messages of every shard, Message Expiry Interval, and the
broker-wide [limits] max_retained_messages / max_retained_bytes split across shards.

Retained messages live on the shard that owns their topic. A subscriber whose home
shard is the publisher's is asked for its retained messages through the same mailboxes,
after the publisher's acknowledged PUBLISH: that is how these tests know a retained
message is stored before subscribing, without sleeping."""

import time

import pytest

import mqtt_raw as m
from mqtt_raw import PUBACK, V311, V5

SUBID = m.SUBSCRIPTION_IDENTIFIER
EXPIRY = m.MESSAGE_EXPIRY_INTERVAL


def pair(b, tag, pub_version=V311, sub_version=V5):
    """(publisher, make_subscriber) with every subscriber on the publisher's home shard."""
    pub, _, shard = b.client_on_shard(f"{tag}-pub", pub_version)
    n = [0]

    def make_subscriber(version=sub_version):
        n[0] += 1
        return b.client_on_shard(f"{tag}-sub{n[0]}-", version, want=shard)[0]

    make_subscriber.shard = shard
    return pub, make_subscriber


def drain(c, quiet=0.4, timeout=20.0):
    """Every PUBLISH until none arrives for `quiet` seconds; QoS 1 are acknowledged."""
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pkt = c.try_read_packet(quiet)
        if pkt is None:
            return out
        msg = m.Message(pkt, c.version)
        if msg.qos == 1:
            c.send_ack(PUBACK, msg.packet_id)
        out.append(msg)
    raise AssertionError(f"still receiving after {timeout}s")


def test_retained_message_published_after_suback_reaches_a_new_subscriber_once(broker):
    """The subscription is established at SUBACK: a retained message published after it
    is a live message for it, not also a retained one sent by the subscription's
    retained scan. (A race: tried 100 times with fresh clients.)"""
    b = broker(shards=2)
    twice = []
    for i in range(100):
        live = m.connected(b.port, f"once-live{i}", V5)
        pub = m.connected(b.port, f"once-pub{i}", V311)
        assert live.subscribe((f"once{i}/#", 0)) == [0]
        pub.publish_qos1(f"once{i}/x", b"v", retain=True)
        pub.publish(f"once{i}/end", b"")
        got = [(x.topic, x.retain) for x in live.messages_until(f"once{i}/end")]
        got += [(x.topic, x.retain) for x in drain(live, quiet=0.03)]
        if got != [(f"once{i}/x", False), (f"once{i}/end", False)]:
            twice.append(got)
        live.disconnect()
        pub.disconnect()
    assert not twice, f"{len(twice)} of 100 subscribers got: {twice[:3]}"


@pytest.mark.parametrize("version", [V311, V5])
def test_latest_retained_message_replaces_the_previous_one(broker, version):
    b = broker()
    pub, subscriber = pair(b, f"repl{version}", sub_version=version)
    pub.publish_qos1("repl/x", b"first", retain=True)
    pub.publish_qos1("repl/x", b"second", retain=True)
    s = subscriber()
    assert s.subscribe(("repl/x", 1)) == [1]
    got = drain(s)
    assert [(x.topic, x.payload, x.retain, x.qos) for x in got] == \
        [("repl/x", b"second", True, 1)]


def test_empty_retained_payload_deletes_it_and_is_delivered_to_subscribers(broker):
    b = broker()
    pub, subscriber = pair(b, "del")
    live = m.connected(b.port, "del-live", V5)
    live.subscribe(("del/#", m.sub_options(0, retain_handling=2)))  # live messages only
    pub.publish_qos1("del/x", b"doomed", retain=True)
    pub.publish_qos1("del/stay", b"stays", retain=True)
    pub.publish_qos1("del/x", b"", retain=True)
    got = [(x.topic, x.payload) for x in (live.next_message() for _ in range(3))]
    assert got == [("del/x", b"doomed"), ("del/stay", b"stays"), ("del/x", b"")]
    s = subscriber()
    s.subscribe("del/#")
    assert [(x.topic, x.payload, x.retain) for x in drain(s)] == [("del/stay", b"stays", True)]


def test_retain_handling_0_1_2(broker):
    b = broker()
    pub, subscriber = pair(b, "rh")
    pub.publish_qos1("rh/x", b"kept", retain=True)
    s = subscriber(V5)

    def sub(filter_, rh, sid):
        assert s.subscribe((filter_, m.sub_options(0, retain_handling=rh)),
                           properties=[(SUBID, sid)]) == [0]

    def ids(msgs):
        assert all((x.topic, x.payload, x.retain) == ("rh/x", b"kept", True) for x in msgs), \
            msgs
        return sorted(i for x in msgs for i in x.props.get(SUBID, []))

    # 0: sent at every subscribe, new or not.
    sub("rh/x", 0, 1)
    assert ids(drain(s)) == [1]
    sub("rh/x", 0, 2)
    assert ids(drain(s)) == [2]
    # 1: only when the subscription is new.
    sub("rh/+", 1, 3)
    assert ids(drain(s)) == [3]
    sub("rh/+", 1, 4)
    sub("+/x", 0, 5)  # control: a retained answer for this one must come
    assert ids(drain(s)) == [5]
    # 2: never.
    sub("rh/#", 2, 6)
    sub("#", 0, 7)
    assert ids(drain(s)) == [7]


def test_retained_delivery_has_retain_1_and_the_minimum_qos(broker):
    b = broker()
    pub, subscriber = pair(b, "rq")
    pub.publish("rq/0", b"zero", retain=True)
    pub.publish_qos1("rq/1", b"one", retain=True)
    pub.publish_qos2("rq/2", b"two", retain=True)
    for sub_qos in (0, 1, 2):
        s = subscriber(V311)
        assert s.subscribe(("rq/+", sub_qos)) == [sub_qos]
        got = []
        for _ in range(3):
            x = s.next_message()
            got.append((x.topic, x.payload, x.retain, x.qos))
            if x.qos:
                assert x.packet_id != 0
            if x.qos == 1:
                s.send_ack(PUBACK, x.packet_id)
            elif x.qos == 2:
                s.send_ack(m.PUBREC, x.packet_id)
                assert s.read_ack(m.PUBREL).packet_id == x.packet_id
                s.send_ack(m.PUBCOMP, x.packet_id)
        assert sorted(got) == [("rq/0", b"zero", True, 0),
                               ("rq/1", b"one", True, min(1, sub_qos)),
                               ("rq/2", b"two", True, min(2, sub_qos))], sub_qos
        s.no_packet(0.2)


def test_wildcard_subscription_gets_retained_messages_from_every_shard(broker):
    count = 60
    b = broker(shards=2)
    pub, subscriber = pair(b, "wc")
    topics = [f"wc/{i}/t{i * 7919 % 1000}" for i in range(count)]
    pub.send(b"".join(m.publish(t, t.encode(), retain=True) for t in topics))
    pub.ping()
    s = subscriber(V5)
    s.subscribe("wc/#")
    got = drain(s)
    assert all(x.retain and x.qos == 0 for x in got)
    assert sorted((x.topic, x.payload) for x in got) == sorted((t, t.encode()) for t in topics)
    # And from a subscriber on the other shard too.
    far = b.client_on_shard("wc-far", V311, exclude=subscriber.shard)[0]
    far.subscribe("+/+/+")
    assert sorted(x.topic for x in drain(far)) == sorted(topics)


def test_retained_message_with_expiry_is_not_delivered_after_it_expires(broker):
    b = broker()
    pub, subscriber = pair(b, "rexp", pub_version=V5)
    pub.publish_qos1("rexp/short", b"1 s", retain=True, properties=[(EXPIRY, 1)])
    pub.publish_qos1("rexp/long", b"60 s", retain=True, properties=[(EXPIRY, 60)])
    s = subscriber(V5)
    s.subscribe("rexp/#")
    now = {x.topic: x for x in drain(s, quiet=0.2)}
    assert sorted(now) == ["rexp/long", "rexp/short"]
    assert 0 < now["rexp/short"].props.get(EXPIRY, 0) <= 1
    time.sleep(2.0)
    s = subscriber(V5)
    s.subscribe("rexp/#")
    later = drain(s)
    assert [x.topic for x in later] == ["rexp/long"]
    assert 55 <= later[0].props.get(EXPIRY, 0) <= 59, later[0].props


def test_message_expiry_is_decremented_while_queued(broker):
    b = broker()
    c = m.connected(b.port, "mexp", V5, clean=False,
                    properties=[(m.SESSION_EXPIRY_INTERVAL, 60)])
    c.subscribe(("mexp/#", 1))
    pub, _, _ = b.client_on_shard("mexp-pub", V5, want=b.shard_of("mexp"))
    # Live: forwarded with what is left (all of it, give or take a second).
    pub.publish_qos1("mexp/live", b"", properties=[(EXPIRY, 10)])
    live = c.next_message()
    c.send_ack(PUBACK, live.packet_id)
    assert 9 <= live.props.get(EXPIRY, 0) <= 10, live.props
    pos = b.log_pos()
    c.disconnect()
    # Only once the broker has seen the DISCONNECT are these queued rather than sent: a
    # message whose onward delivery started is finished even if it expires meanwhile
    # [MQTT-3.3.2-5].
    b.wait_for_log(r"client disconnected client_id=mexp ", since=pos)
    pub.publish_qos1("mexp/short", b"gone", properties=[(EXPIRY, 1)])
    pub.publish_qos1("mexp/long", b"kept", properties=[(EXPIRY, 10)])
    pub.publish_qos1("mexp/none", b"no expiry")
    time.sleep(2.1)
    c = m.RawClient(b.port, V5)
    assert c.connect("mexp", clean=False,
                     properties=[(m.SESSION_EXPIRY_INTERVAL, 60)]).session_present
    got = drain(c)
    assert [(x.topic, x.payload) for x in got] == [("mexp/long", b"kept"),
                                                   ("mexp/none", b"no expiry")]
    assert 1 <= got[0].props.get(EXPIRY, 0) <= 9, got[0].props
    assert EXPIRY not in got[1].props
    assert b.counters()["expired_dropped"] >= 1


def test_max_retained_messages_is_split_across_shards(broker):
    b = broker(shards=2, config="[limits]\nmax_retained_messages = 4\n")
    pub, subscriber = pair(b, "rlim")
    topics = [f"rlim/{i}" for i in range(20)]
    for t in topics:
        pub.publish_qos1(t, b"v1", retain=True)
    s = subscriber(V311)
    s.subscribe("rlim/#")
    kept = sorted(x.topic for x in drain(s))
    # Each of the 2 shards holds 2; 20 topics cover both shards.
    assert len(kept) == 4 and set(kept) <= set(topics), kept
    # Replacing a stored one is not a new one: accepted at the limit.
    for t in kept:
        pub.publish_qos1(t, b"v2", retain=True)
    s = subscriber(V311)
    s.subscribe("rlim/#")
    assert sorted((x.topic, x.payload) for x in drain(s)) == [(t, b"v2") for t in kept]
    assert b.counters()["retained_refused"] == 16


def test_max_retained_bytes_refuses_what_does_not_fit(broker):
    b = broker(shards=2, config="[limits]\nmax_retained_bytes = 2000\n")
    pub, subscriber = pair(b, "rby")
    topics = [f"rby/{i}" for i in range(30)]
    for t in topics:
        pub.publish_qos1(t, b"x" * 100, retain=True)
    s = subscriber(V311)
    s.subscribe("rby/#")
    kept = [x.topic for x in drain(s)]
    # 1000 bytes a shard, 100-byte payloads (plus topic and overhead): at most 20.
    assert 2 <= len(kept) <= 20 and len(set(kept)) == len(kept), kept
    assert b.counters()["retained_refused"] == 30 - len(kept)


def test_a_refused_retained_message_is_acknowledged_0x97_in_publish_order(broker):
    """max_retained_messages = 2 over two shards (one topic each): a v5 publisher's
    retained PUBLISH that its owner shard refuses is acknowledged 0x97 Quota exceeded
    (with a reason string), after the owner has answered, and every acknowledgement still
    comes in PUBLISH order; the message still reaches the subscribers. 3.1.1 has no code
    for it: success."""
    b = broker(shards=2, config="[limits]\nmax_retained_messages = 2\n")
    sub = m.connected(b.port, "rq-sub", V311)
    sub.subscribe("rq/#")
    pub = m.connected(b.port, "rq-v5", V5)
    wire = []
    for i in range(20):
        wire.append(m.publish(f"rq/t{i}", b"r", V5, qos=1, packet_id=2 * i + 1, retain=True))
        wire.append(m.publish(f"rq/p{i}", b"p", V5, qos=1, packet_id=2 * i + 2))
    pub.send(b"".join(wire))
    acks = [m.Ack(pub.read_packet(), PUBACK) for _ in range(40)]
    assert [a.packet_id for a in acks] == list(range(1, 41)), "acknowledged out of order"
    assert all(a.reason == 0 for a in acks[1::2])
    retained = acks[0::2]
    kept = [i for i, a in enumerate(retained) if a.reason == 0]
    assert len(kept) == 2, [hex(a.reason) for a in retained]
    for a in retained:
        if a.reason:
            assert a.reason == 0x97 and "retained" in a.props[m.REASON_STRING], a
    got = [x.topic for x in sub.messages_until("rq/p19")]
    assert len(got) == 40  # refused retained messages are delivered all the same
    # A topic the store holds is replaced, not refused.
    assert pub.publish_qos1(f"rq/t{kept[0]}", b"again", retain=True).reason == 0
    v3 = m.connected(b.port, "rq-v3", V311)
    assert v3.publish_qos1("rq/v3", b"x", retain=True).reason == 0
    counters = b.counters()
    assert counters["retained_refused"] == 19, counters

