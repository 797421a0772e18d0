"""Rehoming: a publisher whose subscribers all sit on one other shard moves there, with
its session, and everything MQTT promises still holds across the move (order, acks,
takeover, resume, wills); with the option off, or for a client that subscribes, nothing
moves."""

import re
import time

import mqtt_raw as m
from mqtt_raw import DISCONNECT, PUBACK, V311, V5

REHOMED_RE = r"client rehomed client_id={id} from=(\d+) to=(\d+)"
SESSION_EXPIRY = 0x11


def warm_up(b, sub, pub, topic, count=14, gap=0.03, qos=0):
    """Publishes `count` numbered messages `gap` apart: more than the run the broker
    waits for (8 messages over 250 ms). Returns their payloads."""
    payloads = [f"warm-{i:03d}".encode() for i in range(count)]
    for p in payloads:
        if qos:
            pub.publish_qos1(topic, p)
        else:
            pub.publish(topic, p)
        time.sleep(gap)
    return payloads


def rehomed_pair(b, prefix, sub_version=V5, pub_version=V311, qos=0, shards=None,
                 **pub_connect):
    """A subscriber to `prefix/#` and a publisher homed on another shard that has moved to
    the subscriber's; the warm-up messages are checked received in order."""
    sub, _, sub_shard = b.client_on_shard(f"{prefix}-sub", sub_version)
    sub.subscribe((f"{prefix}/#", m.sub_options(qos=qos)) if sub_version == V5 else
                  (f"{prefix}/#", qos))
    pos = b.log_pos()
    pub, pub_id, pub_shard = b.client_on_shard(f"{prefix}-pub", pub_version,
                                               exclude=sub_shard, **pub_connect)
    sent = warm_up(b, sub, pub, f"{prefix}/warm", qos=qos)
    moved = b.wait_for_log(REHOMED_RE.format(id=re.escape(pub_id)), since=pos)
    assert (int(moved.group(1)), int(moved.group(2))) == (pub_shard, sub_shard)
    got = [sub.next_message() for _ in sent]
    assert [g.payload for g in got] == sent
    return sub, pub, pub_id, sub_shard, pub_shard


def test_qos0_stream_is_complete_and_in_order_across_the_move(broker):
    b = broker(shards=2)
    sub, pub, _, _, _ = rehomed_pair(b, "rh0")
    payloads = [f"{i:06d}".encode() * 4 for i in range(2000)]
    pub.send(b"".join(m.publish("rh0/data", p, V311) for p in payloads))
    got = [sub.next_message(timeout=20) for _ in payloads]
    bad = [i for i, g in enumerate(got) if g.payload != payloads[i]]
    assert not bad, f"lost or reordered from index {bad[0]}"
    counters = b.counters()
    assert counters["sessions_rehomed"] == 1
    # Once together, QoS 0 goes from the publisher's read buffer to the subscriber.
    assert counters["published_in_place"] >= len(payloads)


def test_bytes_in_counts_each_byte_once_across_the_move(broker):
    """The rest of a read that a move interrupted travels with the connection and is
    handled on the new shard; it was counted when it was read, and is not again (nor is a
    CONNECT forwarded to its home shard)."""
    before = m.RawClient.sent_total
    b = broker(shards=2)
    sub, _, sub_shard = b.client_on_shard("rhb-sub", V5)
    sub.subscribe(("rhb/#", m.sub_options(qos=0)))
    pos = b.log_pos()
    pub, pub_id, _ = b.client_on_shard("rhb-pub", V311, exclude=sub_shard)
    # Seven messages over 270 ms: one short of the run the broker waits for. The first of
    # the burst completes it, so the move starts with the rest of that read unhandled.
    sent = warm_up(b, sub, pub, "rhb/warm", count=7, gap=0.045)
    burst = [f"burst-{i:05d}".encode() for i in range(3000)]
    pub.send(b"".join(m.publish("rhb/burst", p, V311) for p in burst))
    b.wait_for_log(REHOMED_RE.format(id=re.escape(pub_id)), since=pos)
    got = [sub.next_message(timeout=20).payload for _ in range(len(sent) + len(burst))]
    assert got == sent + burst
    counters = b.counters()
    assert counters["sessions_rehomed"] == 1
    assert counters["bytes_in"] == m.RawClient.sent_total - before


def test_qos1_acks_and_order_hold_while_the_publisher_moves(broker):
    """Each PUBLISH is acknowledged once, on the old shard or the new, and none is lost:
    the warm-up runs through the move one acknowledged message at a time."""
    b = broker(shards=2)
    sub, pub, _, _, _ = rehomed_pair(b, "rh1", sub_version=V311, pub_version=V5, qos=1)
    sent = []
    for i in range(200):
        p = f"after-{i:04d}".encode()
        a = pub.publish_qos1("rh1/data", p)
        assert a.reason == 0
        sent.append(p)
    got = []
    for _ in sent:
        msg = sub.next_message()
        assert msg.qos == 1
        sub.send_ack(PUBACK, msg.packet_id)
        got.append(msg.payload)
    assert got == sent
    assert b.counters()["sessions_rehomed"] == 1


def test_a_new_connection_takes_over_the_rehomed_session_where_it_lives(broker):
    """Whichever shard accepts the new connection, it reaches the session where it moved
    to: takeovers until one was accepted elsewhere and forwarded there."""
    b = broker(shards=2)
    sub, old, pub_id, sub_shard, _ = rehomed_pair(b, "rh2", pub_version=V5)
    start = b.log_pos()
    takeovers = 0
    for i in range(16):
        pos = b.log_pos()
        new = m.RawClient(b.port, V5)
        ack = new.connect(pub_id, clean=False)
        takeovers += 1
        assert ack.session_present  # the same session, found on the shard it moved to
        assert b.shard_of(pub_id, since=pos) == sub_shard
        assert m.Disconnect(old.read_until(DISCONNECT)).reason == 0x8E  # taken over
        assert old.expect_closed()
        new.publish("rh2/after", f"from connection {i}".encode())
        assert sub.next_message().payload == f"from connection {i}".encode()
        old = new
        if re.search(rf"connect forwarded client_id={pub_id} to={sub_shard}",
                     b.log_text()[start:]):
            break
    counters = b.counters()
    assert counters["connects_forwarded"] >= 1
    assert counters["takeovers"] == takeovers


def test_a_persistent_rehomed_session_resumes_and_subscribes_where_it_lives(broker):
    # In memory only: with persistence a persistent session stays at its home, where its
    # records are (test_a_durable_session_stays_home).
    b = broker(shards=2, config="persistence = false\n")
    sub, pub, pub_id, sub_shard, _ = rehomed_pair(
        b, "rh3", pub_version=V5, clean=False, properties=((SESSION_EXPIRY, 300),))
    pub.disconnect()
    pos = b.log_pos()
    back = m.RawClient(b.port, V5)
    assert back.connect(pub_id, clean=False,
                        properties=((SESSION_EXPIRY, 300),)).session_present
    assert b.shard_of(pub_id, since=pos) == sub_shard
    back.subscribe(("rh3-back/#", m.sub_options(qos=1)))
    sub.publish_qos1("rh3-back/x", b"to the rehomed session")
    msg = back.next_message()
    assert msg.payload == b"to the rehomed session"
    back.send_ack(PUBACK, msg.packet_id)
    # Offline, it still queues QoS 1 where it lives, and delivers on resume.
    back.disconnect()
    sub.publish_qos1("rh3-back/x", b"while offline")
    again = m.RawClient(b.port, V5)
    assert again.connect(pub_id, clean=False,
                         properties=((SESSION_EXPIRY, 300),)).session_present
    assert again.next_message().payload == b"while offline"


def test_a_durable_session_stays_home(broker):
    """With persistence on, a persistent publisher is not moved: its log is its home's."""
    b = broker(shards=2)
    sub, _, sub_shard = b.client_on_shard("rh10-sub", V5)
    sub.subscribe(("rh10/#", 0))
    pub, _, _ = b.client_on_shard("rh10-pub", V5, exclude=sub_shard, clean=False,
                                  properties=((SESSION_EXPIRY, 300),))
    sent = warm_up(b, sub, pub, "rh10/warm", count=20)
    assert [sub.next_message().payload for _ in sent] == sent
    assert b.counters()["sessions_rehomed"] == 0


def test_an_ended_rehomed_session_starts_again_at_its_home(broker):
    b = broker(shards=2)
    sub, pub, pub_id, _, pub_shard = rehomed_pair(b, "rh4")
    pos = b.log_pos()
    pub.disconnect()  # clean session: it ends on the shard it moved to; its home hears
    b.wait_for_log(rf"session ended away client_id={re.escape(pub_id)}$", since=pos)
    pos = b.log_pos()
    again = m.RawClient(b.port, V311)
    assert not again.connect(pub_id).session_present
    assert b.shard_of(pub_id, since=pos) == pub_shard
    again.publish("rh4/again", b"x")
    assert sub.next_message().payload == b"x"


def test_the_will_of_a_rehomed_client_is_published(broker):
    b = broker(shards=2)
    sub, pub, _, _, _ = rehomed_pair(
        b, "rh5", will=dict(topic="rh5/will", payload=b"gone", qos=1))
    pub.close()  # no DISCONNECT: the will goes out
    msg = sub.next_message()
    assert (msg.topic, msg.payload) == ("rh5/will", b"gone")


def test_nothing_moves_with_the_option_off(broker):
    b = broker(shards=2, config="rehome_publishers = false\n")
    sub, _, sub_shard = b.client_on_shard("rh6-sub", V311)
    sub.subscribe(("rh6/#", 0))
    pub, _, _ = b.client_on_shard("rh6-pub", V311, exclude=sub_shard)
    sent = warm_up(b, sub, pub, "rh6/x", count=16)
    assert [sub.next_message().payload for _ in sent] == sent
    assert b.counters()["sessions_rehomed"] == 0


def test_a_client_that_subscribes_stays_home(broker):
    b = broker(shards=2)
    sub, _, sub_shard = b.client_on_shard("rh7-sub", V311)
    sub.subscribe(("rh7/#", 0))
    pub, _, _ = b.client_on_shard("rh7-pub", V311, exclude=sub_shard)
    pub.subscribe(("rh7-echo/#", 0))  # its subscription ties it to its home's trie
    sent = warm_up(b, sub, pub, "rh7/x", count=16)
    assert [sub.next_message().payload for _ in sent] == sent
    assert b.counters()["sessions_rehomed"] == 0


def test_three_shards_order_holds_for_a_subscriber_joining_elsewhere(broker):
    """After the move a subscriber on a third shard joins: it gets what follows in order,
    the first one as well."""
    b = broker(shards=3)
    sub, pub, _, sub_shard, pub_shard = rehomed_pair(b, "rh8")
    third, _, _ = b.client_on_shard("rh8-third", V5, exclude=sub_shard)
    # The third subscriber's shard is neither, or the publisher's home: both are shards
    # the publisher no longer sends from.
    third.subscribe(("rh8/#", m.sub_options(qos=0)))
    payloads = [f"{i:05d}".encode() for i in range(1000)]
    pub.send(b"".join(m.publish("rh8/data", p, V311) for p in payloads))
    assert [sub.next_message(timeout=20).payload for _ in payloads] == payloads
    assert [third.next_message(timeout=20).payload for _ in payloads] == payloads


def test_a_rehomed_publisher_moves_back_home_when_its_messages_go_there(broker):
    """Its subscriber leaves and one on its home takes the topic: the publisher follows
    its messages back, in order, and its home holds it again (a new connection resumes it
    there; had the home kept it as away, it would send the CONNECT after it). In memory
    only: with persistence a persistent session stays at its home."""
    b = broker(shards=2, config="persistence = false\n")
    sub, pub, pub_id, sub_shard, pub_shard = rehomed_pair(
        b, "rh9", pub_version=V5, clean=False, properties=((SESSION_EXPIRY, 300),))
    home_sub, _, _ = b.client_on_shard("rh9-home", V5, want=pub_shard)
    home_sub.subscribe(("rh9/#", m.sub_options(qos=0)))
    pos = b.log_pos()
    sub.disconnect()  # the first subscriber's route goes from the other shard
    b.wait_for_log(rf"route removed filter=rh9/# shard={sub_shard}$", since=pos)
    pos = b.log_pos()
    sent = warm_up(b, home_sub, pub, "rh9/back")
    back = b.wait_for_log(REHOMED_RE.format(id=re.escape(pub_id)), since=pos)
    assert (int(back.group(1)), int(back.group(2))) == (sub_shard, pub_shard)
    payloads = [f"{i:05d}".encode() for i in range(1000)]
    pub.send(b"".join(m.publish("rh9/data", p, V5) for p in payloads))
    got = [home_sub.next_message(timeout=20).payload for _ in sent + payloads]
    assert got == sent + payloads
    pos = b.log_pos()
    new = m.RawClient(b.port, V5)
    assert new.connect(pub_id, clean=False, properties=((SESSION_EXPIRY, 300),)).session_present
    assert b.shard_of(pub_id, since=pos) == pub_shard
    assert m.Disconnect(pub.read_until(DISCONNECT)).reason == 0x8E  # taken over
    new.publish("rh9/after", b"from home")
    assert home_sub.next_message().payload == b"from home"
    counters = b.counters()
    assert counters["sessions_rehomed"] == 2
    assert counters["connects_forwarded"] == 0
