"""paho-mqtt (3.1.1 and 5) end to end: persistent sessions that queue QoS 1/2 while the
client is away, wills with a delay, retained messages, No Local and shared subscriptions."""

import time

import pytest
from paho.mqtt.packettypes import PacketTypes  # noqa: F401 (paho v5 is present)
from paho.mqtt.subscribeoptions import SubscribeOptions

from clients import PahoClient


@pytest.mark.parametrize("version", [4, 5])
def test_persistent_session_queues_qos1_and_qos2_while_away(broker, version):
    b = broker()
    kw = dict(clean=False, session_expiry=60) if version == 5 else dict(clean=False)
    sub = PahoClient(b.port, f"paho-persist-{version}", version, **kw)
    assert sub.subscribe("pp/#", qos=2) == [2]
    sub.close()
    pub = PahoClient(b.port, f"paho-persist-pub-{version}", version)
    for i in range(5):
        pub.publish(f"pp/{i}", f"away {i}".encode(), qos=1 + i % 2)
    pub.close()
    back = PahoClient(b.port, f"paho-persist-{version}", version, **kw)
    try:
        assert back.session_present is True
        got = [back.next_message() for _ in range(5)]
        # paho hands a QoS 2 message over only at PUBREL, so QoS 1 ones can overtake it
        # in on_message; within each QoS the order is the publisher's.
        assert sorted((t, p, q) for t, p, q, _ in got) == [
            (f"pp/{i}", f"away {i}".encode(), 1 + i % 2) for i in range(5)]
        for qos in (1, 2):
            topics = [t for t, _, q, _ in got if q == qos]
            assert topics == sorted(topics)
    finally:
        back.close()


def test_v5_will_delay_then_will(broker):
    b = broker()
    watcher = PahoClient(b.port, "paho-watch", 5)
    watcher.subscribe("pw/will", qos=1)
    dying = PahoClient(b.port, "paho-dying", 5, clean=True, session_expiry=30,
                       will=dict(topic="pw/will", payload=b"gone", qos=1, delay=1))
    start = time.monotonic()
    dying.drop()
    topic, payload, qos, _ = watcher.next_message(timeout=10)
    elapsed = time.monotonic() - start
    assert (topic, payload, qos) == ("pw/will", b"gone", 1)
    assert 0.8 <= elapsed <= 5.0, elapsed
    watcher.close()


def test_v5_no_local_and_retained(broker):
    b = broker()
    c = PahoClient(b.port, "paho-nl", 5)
    rc, mid = c.client.subscribe("nl/#", options=SubscribeOptions(qos=1, noLocal=True))
    c._wait_ack(mid, 10)
    c.publish("nl/own", b"mine", qos=1, retain=True)
    other = PahoClient(b.port, "paho-nl-other", 5)
    other.publish("nl/end", b"theirs", qos=1)
    topic, payload, _, _ = c.next_message()
    assert (topic, payload) == ("nl/end", b"theirs")  # its own message was not echoed
    late = PahoClient(b.port, "paho-nl-late", 5)
    late.subscribe("nl/own", qos=1)
    assert late.next_message() == ("nl/own", b"mine", 1, True)
    for cl in (c, other, late):
        cl.close()


def test_v5_shared_subscription_spreads_between_paho_members(broker):
    b = broker(shards=2)
    members = [PahoClient(b.port, f"paho-sh{i}", 5) for i in range(2)]
    for m in members:
        m.subscribe("$share/pg/ps/#", qos=1)
    pub = PahoClient(b.port, "paho-sh-pub", 4)
    for i in range(40):
        pub.publish("ps/x", str(i).encode(), qos=1)
    got = []
    counts = []
    for m in members:
        mine = []
        while True:
            try:
                mine.append(int(m.next_message(timeout=2)[1]))
            except AssertionError:
                break
        counts.append(len(mine))
        got += mine
    assert sorted(got) == list(range(40))
    assert all(counts), counts
    for cl in members + [pub]:
        cl.close()
