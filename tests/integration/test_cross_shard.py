"""With --shards 2, messages cross shards completely and in order."""

import re
import time

import pytest

import mqtt_raw as m
from mqtt_raw import V311, V5

COUNT = 1000


def wait_scans_done(b, client_id, since):
    """Waits until every retained scan owed to `client_id` for its subscriptions is back."""
    b.wait_for_log(rf"retained scans done client_id={re.escape(client_id)}$", since=since)


def pump(b, sub, pub, topic, repeat=3):
    payloads = [f"{i:06d}".encode() * repeat for i in range(COUNT)]
    pub.send(b"".join(m.publish(topic, p, pub.version) for p in payloads))
    got = [sub.next_message(timeout=20) for _ in range(COUNT)]
    assert [x.topic for x in got] == [topic] * COUNT
    bad = [(i, x.payload) for i, x in enumerate(got) if x.payload != payloads[i]]
    assert not bad, f"out of order or corrupted from index {bad[0][0]}: {bad[:3]}"


@pytest.mark.parametrize("sub_version,pub_version", [(V5, V311), (V311, V5)])
def test_subscriber_on_other_shard_gets_every_message_in_order(broker, sub_version,
                                                              pub_version):
    b = broker(shards=2)
    sub, _, sub_shard = b.client_on_shard("xs-sub", sub_version)
    sub.subscribe("xs/#")
    pub, _, pub_shard = b.client_on_shard("xs-pub", pub_version,
                                         exclude=sub_shard)
    assert pub_shard != sub_shard
    pump(b, sub, pub, "xs/data")
    # And the other direction over the same pair of shards.
    pub.subscribe("back/#")
    pump(b, pub, sub, "back/data")


def test_subscriber_on_same_shard_gets_every_message_in_order(broker):
    b = broker(shards=2)
    sub, _, shard = b.client_on_shard("ss-sub", V5)
    sub.subscribe("ss/#")
    pub, _, pub_shard = b.client_on_shard("ss-pub", V311, want=shard)
    assert pub_shard == shard
    pump(b, sub, pub, "ss/data")


def test_qos0_for_the_publishers_own_shard_goes_out_in_place_under_every_rule(broker):
    """QoS 0 whose subscribers all share the publisher's shard is sent straight from the
    read buffer (no message object): both layouts, No Local and Maximum Packet Size hold
    as on the message path, and a subscriber that needs its own head (a subscription
    identifier) sends the message back to that path."""
    b = broker(shards=2)
    pos = b.log_pos()
    v3, v3_id, shard = b.client_on_shard("ip-v3-", V311)
    v3.subscribe("ip/#")
    v5, v5_id, _ = b.client_on_shard("ip-v5-", V5, want=shard)
    v5.subscribe("ip/#")
    tiny, tiny_id, _ = b.client_on_shard("ip-tiny-", V5, want=shard,
                                         properties=[(m.MAXIMUM_PACKET_SIZE, 40)])
    tiny.subscribe("ip/#")
    pub, pub_id, _ = b.client_on_shard("ip-pub-", V5, want=shard)
    pub.subscribe(("ip/#", m.sub_options(no_local=True)))
    # Each SUBACK goes before its retained scan (of both shards, for a wildcard) is back,
    # and a session with a scan running takes messages through the Message path (it
    # must see their ids).
    for cid in (v3_id, v5_id, tiny_id, pub_id):
        wait_scans_done(b, cid, pos)
    pub.publish("ip/small", b"s")
    pub.publish("ip/big", b"b" * 100)
    for c in (v3, v5):
        got = [c.next_message() for _ in range(2)]
        assert [(x.topic, x.payload, x.qos, x.retain) for x in got] == [
            ("ip/small", b"s", 0, False), ("ip/big", b"b" * 100, 0, False)]
        if c is v5:
            assert all(x.props == {} for x in got)
    assert tiny.next_message().topic == "ip/small"  # the other is over its 40 bytes
    tiny.no_packet()
    pub.no_packet()  # its own messages: No Local

    with_id, _, _ = b.client_on_shard("ip-id-", V5, want=shard)
    with_id.subscribe("ip/#", properties=[(m.SUBSCRIPTION_IDENTIFIER, 7)])
    pub.publish("ip/after", b"a")
    msg = with_id.next_message()
    assert (msg.topic, msg.payload, msg.props) == ("ip/after", b"a",
                                                  {m.SUBSCRIPTION_IDENTIFIER: [7]})
    assert v3.next_message().payload == b"a"
    assert v5.next_message().payload == b"a"
    pub.no_packet()
    counters = b.counters()
    assert counters["published_in_place"] == 2, counters
    assert counters["oversize_dropped"] == 1, counters


def test_qos0_batched_for_another_shard_keeps_its_place_among_other_messages(broker):
    """Plain QoS 0 bound for one other shard crosses packed in a batch (no Message);
    everything else the same publisher sends there travels alone: QoS 0 with a property,
    QoS 1, a payload too large for a batch record. The subscriber sees one stream, in
    the order sent, each message whole."""
    b = broker(shards=2, config="rehome_publishers = false\n")
    pos = b.log_pos()
    sub, sub_id, sub_shard = b.client_on_shard("bt-sub", V5)
    sub.subscribe("bt/#")
    pub, _, _ = b.client_on_shard("bt-pub", V5, exclude=sub_shard)
    wait_scans_done(b, sub_id, pos)  # till then the subscriber takes Messages, not batches
    sent, wire, plain = [], [], 0
    for i in range(1200):
        kind = i % 6
        payload = f"{i:06d}".encode() * (900 if kind == 5 else 3)
        if kind == 3:
            wire.append(m.publish("bt/data", payload, V5,
                                  properties=[(m.USER_PROPERTY, ("i", str(i)))]))
        elif kind == 4:
            wire.append(m.publish("bt/data", payload, V5, qos=1, packet_id=1 + i))
        else:
            wire.append(m.publish("bt/data", payload, V5))
            plain += kind != 5
        sent.append((payload, kind == 3))
    pub.send(b"".join(wire))
    got = [sub.next_message(timeout=20) for _ in sent]
    for i, (msg, (payload, with_property)) in enumerate(zip(got, sent)):
        assert msg.payload == payload, f"out of order or corrupted at {i}"
        assert msg.qos == 0
        assert (m.USER_PROPERTY in msg.props) == with_property, (i, msg.props)
    counters = b.counters()
    # Each large message seals the open batch, so one burst may seal more batches than
    # may be out at once (ShardBroker::kMaxBatchesOut); the rest of it travels alone.
    assert counters["published_batched"] + counters["unbatched_behind"] == plain, counters
    assert counters["published_batched"] > 0, counters
    assert counters["mailbox_dropped"] == 0, counters


def test_batches_come_back_so_batching_goes_on(broker):
    """A shard may have only so many of its batches out at once (64); they come back
    once read. 200 bursts, each sealing a batch, all go batched when each is read before
    the next leaves."""
    b = broker(shards=2, config="rehome_publishers = false\n")
    pos = b.log_pos()
    sub, sub_id, sub_shard = b.client_on_shard("bb-sub", V311)
    sub.subscribe("bb/#")
    pub, _, _ = b.client_on_shard("bb-pub", V311, exclude=sub_shard)
    wait_scans_done(b, sub_id, pos)
    for i in range(200):
        payload = f"{i:06d}".encode()
        pub.send(m.publish("bb/data", payload, V311))
        assert sub.next_message(timeout=10).payload == payload
    counters = b.counters()
    assert counters["published_batched"] == 200, counters
    assert counters["unbatched_behind"] == 0, counters


@pytest.mark.parametrize("same_shard", [True, False])
def test_a_turn_of_output_larger_than_the_early_send_size_arrives_whole(broker, same_shard):
    """1000 messages of 600 bytes in one burst: a subscriber's turn of output passes the
    size at which it is sent before the turn ends (Connection::kEarlySendBytes, 128 KiB),
    so it leaves in several sends; every message arrives once, in order, intact."""
    b = broker(shards=2)
    sub, _, shard = b.client_on_shard("es-sub", V311)
    sub.subscribe("es/#")
    pub, _, _ = b.client_on_shard("es-pub", V311, want=shard if same_shard else None,
                                 exclude=None if same_shard else shard)
    pump(b, sub, pub, "es/data", repeat=100)


def test_home_shard_is_stable_for_a_client_id(broker):
    b = broker(shards=2)
    shards = set()
    for _ in range(3):
        pos = b.log_pos()
        c = m.connected(b.port, "stable-id", V311)
        shards.add(b.shard_of("stable-id", since=pos))
        c.disconnect()
    assert len(shards) == 1 and shards <= {0, 1}


def test_client_ids_one_letter_apart_are_not_kept_apart(broker):
    """Home shards come from a well-mixed hash: ids that differ in one letter ("...p3",
    "...s3") share a shard about half the time. Plain FNV-1a modulo two put every such
    pair on different shards (its low bit is the parity of the odd bytes), so every
    message between them crossed shards."""
    b = broker(shards=2)
    together = 0
    for i in range(16):
        shards = []
        for role in "ps":
            cid = f"pair-{role}{i}"
            pos = b.log_pos()
            c = m.connected(b.port, cid, V311)
            shards.append(b.shard_of(cid, since=pos))
            c.disconnect()
        together += shards[0] == shards[1]
    assert 2 <= together <= 14, together


def test_both_shards_are_used(broker):
    b = broker(shards=2)
    a, _, s0 = b.client_on_shard("use-a", V311, want=0)
    c, _, s1 = b.client_on_shard("use-b", V311, want=1)
    assert (s0, s1) == (0, 1)


def test_fan_out_to_subscribers_on_both_shards(broker):
    b = broker(shards=2)
    subs = [b.client_on_shard("fan-a", V5, want=0)[0],
            b.client_on_shard("fan-b", V311, want=1)[0]]
    for s in subs:
        s.subscribe("fan/+")
    pub = m.connected(b.port, "fan-pub", V311)
    pub.send(b"".join(m.publish("fan/x", str(i).encode()) for i in range(200)))
    for s in subs:
        assert [s.next_message().payload for _ in range(200)] == \
            [str(i).encode() for i in range(200)]
