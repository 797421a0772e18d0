"""A publisher's next message to the topic of its last one reuses that match (RouteMemo):
every change to the filters — a subscribe, an unsubscribe, a session that ends, a route
from another shard — must show in the very next message, and a message's QoS and retain
flag must never take another message's match."""

import time

import mqtt_raw as m
from mqtt_raw import V311, V5

NO_REHOME = "rehome_publishers = false\n"


def stream(pub, topic, tag, count=5, **kw):
    """Publishes `count` QoS 0 messages tagged `tag`; returns their payloads."""
    payloads = [f"{tag}-{i}".encode() for i in range(count)]
    for p in payloads:
        pub.publish(topic, p, **kw)
    return payloads


def received(client, count):
    return [client.next_message().payload for _ in range(count)]


def streaming_pair(b, prefix, topic, version=V311, sub_options=0):
    """A subscriber to `topic` and a publisher on the same shard whose first stream has
    arrived (so its memo is made). Returns (sub, pub, shard)."""
    sub, _, shard = b.client_on_shard(f"{prefix}-sub", version)
    sub.subscribe((topic, sub_options))
    pub, _, _ = b.client_on_shard(f"{prefix}-pub", version, want=shard)
    first = stream(pub, topic, "first")
    assert received(sub, len(first)) == first
    return sub, pub, shard


def test_a_subscriber_that_joins_gets_the_next_message(broker):
    b = broker(shards=2, config=NO_REHOME)
    sub1, pub, shard = streaming_pair(b, "rm-a", "rm/a")
    sub2, _, _ = b.client_on_shard("rm-a2", V311, want=shard)
    sub2.subscribe(("rm/a", 0))
    second = stream(pub, "rm/a", "two")
    assert received(sub1, len(second)) == second
    assert received(sub2, len(second)) == second
    # Each stream's first message walked (the second after the SUBACK's new epoch).
    assert b.counters()["routes_reused"] >= 2 * len(second) - 2


def test_an_unsubscribed_or_ended_session_gets_nothing_more(broker):
    b = broker(shards=2, config=NO_REHOME)
    sub1, pub, shard = streaming_pair(b, "rm-u", "rm/u")
    sub2, _, _ = b.client_on_shard("rm-u2", V311, want=shard)
    sub2.subscribe(("rm/u", 0))
    sub3, _, _ = b.client_on_shard("rm-u3", V311, want=shard)
    sub3.subscribe(("rm/u", 0))
    first = stream(pub, "rm/u", "one")
    for s in (sub1, sub2, sub3):
        assert received(s, len(first)) == first
    sub1.unsubscribe("rm/u")
    sub3.disconnect()  # a clean session ends: its filters leave the trie
    second = stream(pub, "rm/u", "two")
    assert received(sub2, len(second)) == second
    sub1.no_packet(timeout=0.5)
    # The publisher kept its memo across all of this; the broker is still whole.
    pub.ping()


def test_a_subscriber_on_another_shard_gets_the_next_message(broker):
    b = broker(shards=2, config=NO_REHOME)
    sub1, pub, shard = streaming_pair(b, "rm-x", "rm/x")
    # Its SUBACK comes once every shard has the route.
    far, _, _ = b.client_on_shard("rm-xf", V311, exclude=shard)
    far.subscribe(("rm/x", 0))
    second = stream(pub, "rm/x", "two")
    assert received(far, len(second)) == second
    assert received(sub1, len(second)) == second


def test_the_publisher_subscribing_itself_gets_its_next_message(broker):
    b = broker(shards=2, config=NO_REHOME)
    sub, pub, _ = streaming_pair(b, "rm-s", "rm/s", V5, m.sub_options())
    pub.subscribe(("rm/s", m.sub_options()))
    second = stream(pub, "rm/s", "two")
    assert received(pub, len(second)) == second
    # And with No Local it is left out again [MQTT-3.8.3-3].
    pub.subscribe(("rm/s", m.sub_options(no_local=True)))
    third = stream(pub, "rm/s", "three")
    assert received(sub, len(second) + len(third)) == second + third
    pub.no_packet(timeout=0.5)


def test_each_message_keeps_its_own_qos_and_retain(broker):
    b = broker(shards=2, config=NO_REHOME)
    sub, _, shard = b.client_on_shard("rm-q", V5)
    sub.subscribe(("rm/q", m.sub_options(qos=1, retain_as_published=True)))
    pub, _, _ = b.client_on_shard("rm-qp", V5, want=shard)
    sent = []
    for i in range(12):
        qos, retain = i % 2, (i // 2) % 2 == 1
        payload = f"m{i}".encode()
        if qos:
            pub.publish_qos1("rm/q", payload, retain=retain)
        else:
            pub.publish("rm/q", payload, retain=retain)
        sent.append((payload, qos, retain))
    got = []
    for _ in sent:
        msg = sub.next_message()
        if msg.qos:
            sub.send_ack(m.PUBACK, msg.packet_id)
        got.append((msg.payload, msg.qos, msg.retain))
    assert got == sent


def test_a_rehomed_publisher_routes_from_its_new_shard(broker):
    b = broker(shards=2)
    sub1, _, sub_shard = b.client_on_shard("rm-h", V311)
    sub1.subscribe(("rm/h", 0))
    pos = b.log_pos()
    pub, pub_id, pub_shard = b.client_on_shard("rm-hp", V311, exclude=sub_shard)
    sent = []
    for i in range(14):  # a run long enough to move the publisher to sub1's shard
        sent.append(f"w{i}".encode())
        pub.publish("rm/h", sent[-1])
        pub.ping()
        time.sleep(0.03)
    b.wait_for_log(rf"client rehomed client_id={pub_id} from={pub_shard} to={sub_shard}",
                   since=pos)
    assert received(sub1, len(sent)) == sent
    # A subscriber on the shard it left: reached from the new one.
    back, _, _ = b.client_on_shard("rm-hb", V311, want=pub_shard)
    back.subscribe(("rm/h", 0))
    after = stream(pub, "rm/h", "after")
    assert received(back, len(after)) == after
    assert received(sub1, len(after)) == after
