"""Sessions: clean start, session present, session expiry (clamped by [limits]
max_session_expiry), 3.1.1 persistent sessions, the offline queue and its limits,
resending unacknowledged messages on resume, exactly once across a dropped connection,
takeover that keeps the session, and resuming on the home shard from either shard."""

import time

import pytest

import mqtt_raw as m
from mqtt_raw import PUBACK, PUBCOMP, PUBREC, PUBREL, V311, V5

SEI = m.SESSION_EXPIRY_INTERVAL


def persistent(version, expiry=60):
    """CONNECT arguments for a session that outlives the connection."""
    if version == V5:
        return dict(clean=False, properties=[(SEI, expiry)])
    return dict(clean=False)


def reconnect(b, client_id, version, present, **kw):
    """A new connection resuming `client_id` (clean start 0); checks session present."""
    c = m.RawClient(b.port, version)
    ack = c.connect(client_id, **(kw or persistent(version)))
    assert ack.session_present is present, \
        f"{client_id}: session present {ack.session_present}, expected {present}"
    return c


def home_publisher(b, client_id, prefix, since=0):
    """A publisher whose home shard is `client_id`'s: once its QoS 1 PUBLISH is
    acknowledged, the session has the message (queued or sent)."""
    home = b.shard_of(client_id, since=since)
    return b.client_on_shard(prefix, V311, want=home)[0]


# -- clean start and session present --------------------------------------------------------


@pytest.mark.parametrize("version", [V311, V5])
def test_clean_start_1_discards_the_old_session(broker, version):
    b = broker()
    c = m.RawClient(b.port, version)
    assert c.connect(f"cs{version}", **persistent(version)).session_present is False
    c.subscribe(("cs/#", 1))
    c.disconnect()
    pub = home_publisher(b, f"cs{version}", f"cs-pub{version}-")
    pub.publish_qos1("cs/x", b"queued for the old session")
    c = m.RawClient(b.port, version)
    assert c.connect(f"cs{version}", clean=True).session_present is False
    c.subscribe("cs-sync")
    pub.publish_qos1("cs/x", b"old subscription is gone")
    pub.publish("cs-sync", b"end")
    assert [(x.topic, x.payload) for x in c.messages_until("cs-sync")] == [("cs-sync", b"end")]


@pytest.mark.parametrize("version", [V311, V5])
def test_resumed_session_keeps_subscriptions_and_queues_qos1_and_2_not_qos0(broker, version):
    b = broker()
    cid = f"res{version}"
    c = m.connected(b.port, cid, version, **persistent(version))
    assert c.subscribe(("res/#", 2)) == [2]
    c.disconnect()
    pub = home_publisher(b, cid, f"res-pub{version}-")
    pub.publish("res/x", b"zero")
    pub.publish_qos1("res/x", b"one")
    pub.publish_qos2("res/x", b"two")
    c = reconnect(b, cid, version, present=True)
    one = c.next_message()
    assert (one.payload, one.qos, one.dup) == (b"one", 1, False), one
    c.send_ack(PUBACK, one.packet_id)
    two = c.next_message()
    assert (two.payload, two.qos, two.dup) == (b"two", 2, False), two
    c.send_ack(PUBREC, two.packet_id)
    assert c.read_ack(PUBREL).packet_id == two.packet_id
    c.send_ack(PUBCOMP, two.packet_id)
    # The subscription still works for live messages.
    pub.publish("res/live", b"live")
    assert [x.payload for x in c.messages_until("res/live")] == [b"live"]


def test_v5_session_expiry_0_ends_the_session_with_the_connection(broker):
    b = broker()
    c = m.connected(b.port, "sei0", V5, clean=False)  # no Session Expiry Interval: 0
    c.subscribe(("sei0/#", 1))
    c.disconnect()
    c = reconnect(b, "sei0", V5, present=False, clean=False)
    c.subscribe("sei0-sync")
    pub = m.connected(b.port, "sei0-pub", V311)
    pub.publish_qos1("sei0/x", b"no subscription any more")
    pub.publish("sei0-sync", b"end")
    assert [x.topic for x in c.messages_until("sei0-sync")] == ["sei0-sync"]


def test_v5_session_survives_an_abnormal_close_too(broker):
    b = broker()
    c = m.connected(b.port, "abn", V5, **persistent(V5))
    c.subscribe(("abn/#", 1))
    c.close()  # no DISCONNECT
    b.wait_for_log(r"client disconnected client_id=abn\b")
    pub = home_publisher(b, "abn", "abn-pub")
    pub.publish_qos1("abn/x", b"kept")
    c = reconnect(b, "abn", V5, present=True)
    assert c.next_message().payload == b"kept"


def test_v5_disconnect_can_end_the_session_with_expiry_0(broker):
    b = broker()
    c = m.connected(b.port, "dsei", V5, **persistent(V5))
    c.subscribe(("dsei/#", 1))
    c.send(m.disconnect(0, [(SEI, 0)]))
    assert c.expect_closed(10)
    reconnect(b, "dsei", V5, present=False)


def test_v5_session_expires_after_its_interval(broker):
    b = broker()
    c = m.connected(b.port, "exp1", V5, **persistent(V5, expiry=1))
    c.subscribe(("exp1/#", 1))
    c.disconnect()
    # Within the interval it is still there (resuming restarts the clock).
    c = reconnect(b, "exp1", V5, present=True, **persistent(V5, expiry=1))
    c.disconnect()
    time.sleep(2.2)
    c = reconnect(b, "exp1", V5, present=False, **persistent(V5, expiry=1))
    c.subscribe("exp1-sync")
    pub = m.connected(b.port, "exp1-pub", V311)
    pub.publish_qos1("exp1/x", b"subscription expired with the session")
    pub.publish("exp1-sync", b"end")
    assert [x.topic for x in c.messages_until("exp1-sync")] == ["exp1-sync"]
    assert b.counters()["sessions_expired"] >= 1


def test_max_session_expiry_clamps_v5_requests_and_bounds_v311_persistent_sessions(broker):
    b = broker(config="[limits]\nmax_session_expiry = 1\n")
    v5 = m.RawClient(b.port, V5)
    ack = v5.connect("clamp5", **persistent(V5, expiry=3600))
    assert ack.props.get(SEI) == 1, ack.props
    forever = m.RawClient(b.port, V5)
    ack = forever.connect("clamp-forever", **persistent(V5, expiry=0xFFFFFFFF))
    assert ack.props.get(SEI) == 1, ack.props
    v3 = m.connected(b.port, "clamp3", V311, clean=False)
    for c in (v5, forever, v3):
        c.subscribe(("clamp/#", 1))
        c.disconnect()
    # Persistent: present right after...
    reconnect(b, "clamp3", V311, present=True).disconnect()
    time.sleep(2.2)
    # ...gone once the clamped interval has passed.
    reconnect(b, "clamp5", V5, present=False)
    reconnect(b, "clamp-forever", V5, present=False)
    reconnect(b, "clamp3", V311, present=False)


def test_session_expiry_within_the_limit_is_granted_as_requested(broker):
    b = broker()
    ack = m.RawClient(b.port, V5).connect("granted", **persistent(V5, expiry=100))
    # Absent means "as requested"; present, it must say 100.
    assert ack.props.get(SEI, 100) == 100, ack.props
    ack = m.RawClient(b.port, V5).connect("default-max", **persistent(V5, expiry=0xFFFFFFFF))
    assert ack.props.get(SEI) == 604800, ack.props


# -- resending on resume, exactly once ------------------------------------------------------


@pytest.mark.parametrize("version", [V311, V5])
def test_unacknowledged_qos1_messages_are_resent_with_dup_in_order(broker, version):
    b = broker()
    cid = f"dup{version}"
    c = m.connected(b.port, cid, version, **persistent(version))
    c.subscribe(("dup/#", 1))
    pub = m.connected(b.port, f"dup-pub{version}", V311)
    for i in range(4):
        pub.publish_qos1("dup/x", f"m{i}".encode())
    first = [c.next_message() for _ in range(4)]
    assert [x.payload for x in first] == [b"m0", b"m1", b"m2", b"m3"]
    c.send_ack(PUBACK, first[0].packet_id)
    c.send_ack(PUBACK, first[2].packet_id)
    c.ping()  # the acks are in
    c.close()
    c = reconnect(b, cid, version, present=True)
    again = [c.next_message(), c.next_message()]
    assert [(x.payload, x.packet_id, x.dup, x.qos) for x in again] == \
        [(b"m1", first[1].packet_id, True, 1), (b"m3", first[3].packet_id, True, 1)]
    for x in again:
        c.send_ack(PUBACK, x.packet_id)
    pub.publish_qos1("dup/x", b"new")
    new = c.next_message()
    assert (new.payload, new.dup) == (b"new", False)
    c.send_ack(PUBACK, new.packet_id)
    c.no_packet(0.3)


@pytest.mark.parametrize("version", [V311, V5])
def test_qos2_resume_sends_pubrel_after_pubrec_and_publish_dup_before_it(broker, version):
    b = broker()
    cid = f"rel{version}"
    c = m.connected(b.port, cid, version, **persistent(version))
    c.subscribe(("rel/#", 2))
    pub = m.connected(b.port, f"rel-pub{version}", V311)
    pub.publish_qos2("rel/x", b"a")
    pub.publish_qos2("rel/x", b"b")
    a, bb = c.next_message(), c.next_message()
    assert (a.payload, bb.payload) == (b"a", b"b")
    c.send_ack(PUBREC, a.packet_id)
    assert c.read_ack(PUBREL).packet_id == a.packet_id
    c.close()  # a: PUBREC sent, no PUBCOMP; b: nothing sent
    c = reconnect(b, cid, version, present=True)
    pkts = [c.read_packet(), c.read_packet()]
    rel = [p for p in pkts if p.type == PUBREL]
    pubs = [m.Message(p, version) for p in pkts if p.type == m.PUBLISH]
    assert len(rel) == 1 and len(pubs) == 1, pkts
    assert m.Ack(rel[0]).packet_id == a.packet_id
    assert (pubs[0].payload, pubs[0].packet_id, pubs[0].dup, pubs[0].qos) == \
        (b"b", bb.packet_id, True, 2)
    c.send_ack(PUBCOMP, a.packet_id)
    c.send_ack(PUBREC, bb.packet_id)
    assert c.read_ack(PUBREL).packet_id == bb.packet_id
    c.send_ack(PUBCOMP, bb.packet_id)
    # Exactly once: nothing more of a or b, the next message is the marker.
    pub.publish("rel/end", b"")
    assert [x.payload for x in c.messages_until("rel/end")] == [b""]


@pytest.mark.parametrize("version", [V311, V5])
@pytest.mark.parametrize("drop_after", ["publish", "pubrec"])
def test_inbound_qos2_is_delivered_exactly_once_across_a_dropped_connection(broker, version,
                                                                           drop_after):
    b = broker()
    sub = m.connected(b.port, f"eo-sub{version}{drop_after}", V311)
    sub.subscribe("eo/#")
    cid = f"eo-pub{version}{drop_after}"
    p = m.connected(b.port, cid, version, **persistent(version))
    p.publish("eo/x", b"exactly once", qos=2, packet_id=9)
    if drop_after == "pubrec":
        assert p.read_ack(PUBREC).packet_id == 9
    p.close()
    b.wait_for_log(r"client disconnected client_id=%s\b" % cid)
    p = reconnect(b, cid, version, present=True)
    if drop_after == "publish":
        # We never saw PUBREC: send the PUBLISH again, as the client must.
        p.publish("eo/x", b"exactly once", qos=2, packet_id=9, dup=True)
        rec = p.read_ack(PUBREC)
        assert (rec.packet_id, rec.reason) == (9, 0), rec
    p.send_ack(PUBREL, 9)
    comp = p.read_ack(PUBCOMP)
    # The id was known to the session: success, not 0x92 (Packet Identifier not found).
    assert (comp.packet_id, comp.reason) == (9, 0), comp
    p.publish("eo/end", b"")
    assert [x.payload for x in sub.messages_until("eo/end")] == [b"exactly once", b""]


# -- takeover --------------------------------------------------------------------------------


def test_takeover_with_clean_start_0_keeps_the_session(broker):
    b = broker()
    old = m.connected(b.port, "keep", V5, **persistent(V5))
    old.subscribe(("keep/#", 1))
    pub = m.connected(b.port, "keep-pub", V311)
    pub.publish_qos1("keep/x", b"in flight")
    inflight = old.next_message()  # not acknowledged
    new = reconnect(b, "keep", V5, present=True)
    assert m.Disconnect(old.read_packet()).reason == 0x8E
    assert old.expect_closed(10)
    again = new.next_message()
    assert (again.payload, again.packet_id, again.dup) == (b"in flight", inflight.packet_id,
                                                           True)
    new.send_ack(PUBACK, again.packet_id)
    pub.publish_qos1("keep/y", b"after takeover")
    msg = new.next_message()
    assert (msg.topic, msg.payload, msg.qos) == ("keep/y", b"after takeover", 1)


# -- resume on the home shard --------------------------------------------------------------


def test_queued_messages_from_the_other_shard_arrive_after_resume_on_the_home_shard(broker):
    """Every reconnect lands on the home shard, whichever shard accepted the socket
    (about half of them are accepted by the other one and migrate)."""
    cycles = 30
    b = broker(shards=2)
    pos = b.log_pos()
    c = m.connected(b.port, "roam", V5, **persistent(V5))
    home = b.shard_of("roam", since=pos)
    c.subscribe(("roam/#", 1))
    c.disconnect()
    pub, _, _ = b.client_on_shard("roam-pub", V311, exclude=home)
    probe, _, _ = b.client_on_shard("roam-probe", V311, want=home)
    probe.subscribe("roam/#")
    for i in range(cycles):
        payload = f"queued {i}".encode()
        pub.publish_qos1("roam/x", payload)
        # The probe shares the home shard: once it has the message, so has the session.
        assert probe.next_message().payload == payload
        pos = b.log_pos()
        c = reconnect(b, "roam", V5, present=True)
        assert b.shard_of("roam", since=pos) == home
        msg = c.next_message()
        assert (msg.payload, msg.qos, msg.dup) == (payload, 1, False), msg
        c.send_ack(PUBACK, msg.packet_id)
        c.disconnect()
    counters = b.counters()
    others = counters["connections_accepted"] - cycles
    print(f"migrations={counters['migrations']} connections={counters['connections_accepted']}")
    # More migrations than there were other connections: some resumes migrated.
    assert counters["migrations"] > others, counters


# -- queue limits ----------------------------------------------------------------------------


def test_offline_queue_keeps_the_first_max_queued_messages(broker):
    b = broker(config="[limits]\nmax_queued_messages = 5\n")
    c = m.connected(b.port, "ql", V5, **persistent(V5))
    c.subscribe(("ql/#", 1))
    c.disconnect()
    pub = home_publisher(b, "ql", "ql-pub")
    for i in range(8):
        pub.publish_qos1("ql/x", f"{i}".encode())
    c = reconnect(b, "ql", V5, present=True)
    got = []
    for _ in range(5):
        x = c.next_message()
        got.append(x.payload)
        c.send_ack(PUBACK, x.packet_id)
    assert got == [b"0", b"1", b"2", b"3", b"4"]
    c.no_packet(0.3)
    assert b.counters()["queue_dropped"] == 3


def test_messages_beyond_the_window_count_against_the_queue_limit(broker):
    b = broker(config="[limits]\nmax_queued_messages = 3\n")
    c = m.connected(b.port, "qw", V5, properties=[(m.RECEIVE_MAXIMUM, 1)])
    c.subscribe(("qw/#", 1))
    pub = home_publisher(b, "qw", "qw-pub")
    for i in range(8):
        pub.publish_qos1("qw/x", f"{i}".encode())
    got = []
    for _ in range(4):  # one in flight, three queued
        x = c.next_message()
        got.append(x.payload)
        c.send_ack(PUBACK, x.packet_id)
    assert got == [b"0", b"1", b"2", b"3"]
    c.no_packet(0.3)
    assert b.counters()["queue_dropped"] == 4


def test_offline_queue_is_bounded_in_bytes(broker):
    b = broker(config="[limits]\nmax_queued_bytes = 1000\n")
    c = m.connected(b.port, "qb", V5, **persistent(V5))
    c.subscribe(("qb/#", 1))
    c.disconnect()
    pub = home_publisher(b, "qb", "qb-pub")
    payloads = [bytes([65 + i]) * 300 for i in range(10)]
    for p in payloads:
        pub.publish_qos1("qb/x", p)
    c = reconnect(b, "qb", V5, present=True)
    got = []
    while True:
        pkt = c.try_read_packet(0.5)
        if pkt is None:
            break
        x = m.Message(pkt, V5)
        got.append(x.payload)
        c.send_ack(PUBACK, x.packet_id)
    # 300-byte payloads in 1000 bytes: at most three, the first ones, in order.
    assert 1 <= len(got) <= 3 and got == payloads[:len(got)], [len(g) for g in got]
    assert b.counters()["queue_dropped"] == 10 - len(got)
