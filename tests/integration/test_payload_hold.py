"""Large payloads referenced in their io_uring receive buffer instead of copied
(RecvBufferPool, Message::create with a hold). The buffer must not be reused while any
message in it lives: on the publisher's shard, on another shard, in a slow subscriber's
queue, in an offline session's queue, at shutdown. Retained messages are always copied.
On epoll nothing is held (payloads_held stays 0) and every case must pass the same."""

import random
import socket

import mqtt_raw as m
from mqtt_raw import V311, V5

SIZE = 16 * 1024
RING_OVER = 1400  # messages of SIZE: more bytes than a shard's receive buffers (16 MiB)


def payloads(seed, count, size=SIZE):
    rng = random.Random(seed)
    return [rng.randbytes(size) for _ in range(count)]


def send_all(client, topic, bodies, qos=0, version=V311, retain=False):
    """Writes every PUBLISH in one go (so many lie whole in one receive buffer); QoS 1
    waits for all PUBACKs."""
    data = b"".join(m.publish(topic, body, version=version, qos=qos, retain=retain,
                              packet_id=(i % 65535) + 1 if qos else None)
                    for i, body in enumerate(bodies))
    client.sock.sendall(data)
    if qos:
        for _ in bodies:
            client.read_ack(m.PUBACK)


def receive_all(client, count, ack=False):
    out = []
    for _ in range(count):
        msg = client.next_message()
        if ack and msg.qos == 1:
            client.send_ack(m.PUBACK, msg.packet_id)
        out.append(msg.payload)
    return out


def exchange(pub, sub, topic, bodies, batch=40):
    """QoS 0 in batches a reading subscriber keeps up with (a QoS 0 message over a
    subscriber's outbound limit is dropped, and counted)."""
    for i in range(0, len(bodies), batch):
        chunk = bodies[i:i + batch]
        send_all(pub, topic, chunk)
        assert receive_all(sub, len(chunk)) == chunk


def assert_held(b, expect_some):
    held = b.counters()["payloads_held"]
    if b.backend == "uring" and expect_some:
        assert held > 0
    if b.backend == "epoll":
        assert held == 0


def test_large_payloads_arrive_intact_on_their_shard_and_the_other(broker):
    b = broker(shards=2, config="rehome_publishers = false\n")
    near, _, shard = b.client_on_shard("ph-near", V311)
    near.subscribe(("ph/t", 1))
    far, _, _ = b.client_on_shard("ph-far", V5, exclude=shard)
    far.subscribe(("ph/t", 1))
    pub, _, _ = b.client_on_shard("ph-pub", V311, want=shard)
    for qos, seed in ((0, 1), (1, 2)):
        bodies = payloads(seed, 120)
        send_all(pub, "ph/t", bodies, qos=qos)
        assert receive_all(near, len(bodies), ack=True) == bodies
        assert receive_all(far, len(bodies), ack=True) == bodies
    assert_held(b, True)


def test_a_subscriber_that_stops_reading_neither_starves_the_ring_nor_loses_bytes(broker):
    # Room for all it is sent (6.5 MB; the default max_session_bytes is 4 MiB).
    b = broker(shards=1, config="[limits]\nmax_session_bytes = 16777216\n")
    slow = m.RawClient(b.port, V311, rcvbuf=4096)
    slow.connect("ph-slow")
    slow.subscribe(("ph/slow", 1))
    pub = m.connected(b.port, "ph-slow-pub")
    stuck = payloads(3, 400)  # 6.5 MB: more than half the ring's buffers would hold
    send_all(pub, "ph/slow", stuck, qos=1)
    # While those wait, other large traffic still flows (copied once the holds are used),
    # more of it than the ring holds (16 MiB a shard): a held buffer handed back to the
    # kernel would be overwritten by now.
    sub2 = m.connected(b.port, "ph-live-sub")
    sub2.subscribe(("ph/live", 0))
    exchange(pub, sub2, "ph/live", payloads(4, RING_OVER))
    assert receive_all(slow, len(stuck), ack=True) == stuck
    assert_held(b, True)


def test_a_retained_large_payload_is_copied_and_outlasts_the_traffic_after_it(broker):
    b = broker(shards=2)
    pub = m.connected(b.port, "ph-ret-pub")
    retained = payloads(5, 1)[0]
    send_all(pub, "ph/ret", [retained], qos=1, retain=True)
    sub = m.connected(b.port, "ph-ret-sub")
    sub.subscribe(("ph/other", 0))
    exchange(pub, sub, "ph/other", payloads(6, RING_OVER))
    late = m.connected(b.port, "ph-ret-late")
    late.subscribe(("ph/ret", 0))
    msg = late.next_message()
    assert msg.retain and msg.payload == retained
    assert_held(b, True)


def test_held_messages_wait_in_an_offline_session_and_shutdown_frees_them(broker):
    b = broker(shards=2)
    sub = m.connected(b.port, "ph-off", clean=False)
    sub.subscribe(("ph/off", 1))
    sub.disconnect()
    pub = m.connected(b.port, "ph-off-pub")
    first = payloads(7, 50)
    send_all(pub, "ph/off", first, qos=1)
    other = m.connected(b.port, "ph-off-other")
    other.subscribe(("ph/off-other", 0))
    exchange(pub, other, "ph/off-other", payloads(9, RING_OVER))
    sub = m.connected(b.port, "ph-off", clean=False)
    assert receive_all(sub, len(first), ack=True) == first
    sub.disconnect()
    # Still queued when the broker stops: the rings go before the sessions do.
    send_all(pub, "ph/off", payloads(8, 50), qos=1)
    assert_held(b, True)  # stops the broker; the fixture checks its exit and sanitizers
