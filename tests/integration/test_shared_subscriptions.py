"""Shared subscriptions ($share/{group}/{filter}) with members on different shards: every
message goes to exactly one member of each group, spread across members and shards."""

import collections

import pytest

import mqtt_raw as m
from mqtt_raw import V311, V5

COUNT = 300


def drain(client, topic_prefix, end_topic, timeout=10.0):
    """Messages up to the end marker, acknowledging QoS 1."""
    out = []
    while True:
        msg = client.next_message(timeout=timeout)
        if msg.qos == 1:
            client.send(m.ack(m.PUBACK, msg.packet_id))
        if msg.topic == end_topic:
            return out
        out.append(msg)


@pytest.mark.parametrize("qos", [0, 1])
def test_each_message_goes_to_exactly_one_member_across_shards(broker, qos):
    b = broker(shards=2)
    a, _, shard_a = b.client_on_shard("sh-a", V5, want=0)
    c, _, shard_c = b.client_on_shard("sh-c", V311, want=1)
    d, _, _ = b.client_on_shard("sh-d", V5, want=1)
    for member in (a, c, d):
        assert member.subscribe(("$share/workers/jobs/+", 1)) == [1]
        member.subscribe("end/#")  # a plain subscription for the end marker
    pub = m.connected(b.port, "sh-pub", V311)
    for i in range(COUNT):
        pub.publish("jobs/x", str(i).encode(), qos=qos, packet_id=(i % 60000) + 1)
        if qos == 1:
            assert pub.read_packet().type == m.PUBACK
    pub.publish("end/x", b"")
    got = {name: drain(cl, "jobs/", "end/x") for name, cl in (("a", a), ("c", c), ("d", d))}
    payloads = collections.Counter(x.payload for msgs in got.values() for x in msgs)
    assert sorted(int(p) for p in payloads) == list(range(COUNT)), "lost a message"
    assert max(payloads.values()) == 1, "a message went to two members"
    # Spread: every member took a share; each shard about its member count's worth.
    assert all(len(msgs) > COUNT // 10 for msgs in got.values()), \
        {k: len(v) for k, v in got.items()}
    assert shard_a != shard_c


def test_two_groups_each_get_every_message_and_plain_subscribers_too(broker):
    b = broker(shards=2)
    g1 = [m.connected(b.port, f"g1-{i}", V5) for i in range(2)]
    g2 = [m.connected(b.port, f"g2-{i}", V311) for i in range(2)]
    plain = m.connected(b.port, "plain", V5)
    for cl in g1:
        cl.subscribe("$share/one/t/#", "end")
    for cl in g2:
        cl.subscribe("$share/two/t/#", "end")
    plain.subscribe("t/#", "end")
    pub = m.connected(b.port, "g-pub", V311)
    for i in range(100):
        pub.publish("t/a", str(i).encode())
    pub.publish("end", b"")
    for group in (g1, g2):
        taken = [x.payload for cl in group for x in cl.messages_until("end") if x.topic != "end"]
        assert sorted(int(p) for p in taken) == list(range(100))
    assert len([x for x in plain.messages_until("end") if x.topic != "end"]) == 100


def test_unsubscribed_member_gets_nothing_more(broker):
    b = broker(shards=2)
    a = m.connected(b.port, "us-a", V5)
    c = m.connected(b.port, "us-c", V5)
    for cl in (a, c):
        cl.subscribe("$share/g/u/#", "end")
    assert a.unsubscribe("$share/g/u/#") == [0]
    pub = m.connected(b.port, "us-pub", V311)
    for i in range(50):
        pub.publish("u/x", str(i).encode())
    pub.publish("end", b"")
    assert [x.topic for x in a.messages_until("end")] == ["end"]
    assert len([x for x in c.messages_until("end") if x.topic != "end"]) == 50


def test_shared_subscription_gets_no_retained_message_on_subscribe(broker):
    b = broker()
    pub = m.connected(b.port, "rs-pub", V311)
    pub.publish("rs/x", b"kept", retain=True)
    pub.ping()
    s = m.connected(b.port, "rs-sub", V5)
    s.subscribe("$share/g/rs/#", "end")
    pub.publish("end", b"")
    assert [x.topic for x in s.messages_until("end")] == ["end"]
