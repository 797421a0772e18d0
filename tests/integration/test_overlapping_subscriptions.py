"""A client whose subscriptions overlap gets one copy of each matching message."""

import pytest

import mqtt_raw as m
from mqtt_raw import V31, V311, V5


@pytest.mark.parametrize("version", [V31, V311, V5])
def test_one_copy_per_message_for_overlapping_filters(broker, version):
    b = broker()
    c = m.connected(b.port, f"ovl{version}", version)
    assert c.subscribe("o/#", "o/+", "o/x", "+/x", "#") == [0] * 5
    # Same filter twice replaces, it does not add.
    assert c.subscribe("o/x") == [0]
    pub = m.connected(b.port, f"ovlpub{version}", V311)
    for i in range(5):
        pub.publish("o/x", str(i).encode())
    pub.publish("o/y/z", b"deep")
    pub.publish("o/end", b"end")
    got = c.messages_until("o/end")
    assert [(x.topic, x.payload) for x in got] == \
        [("o/x", str(i).encode()) for i in range(5)] + [("o/y/z", b"deep"), ("o/end", b"end")]


def test_overlap_across_separate_subscribe_packets_and_after_partial_unsubscribe(broker):
    b = broker()
    c = m.connected(b.port, "ovl-un", V5)
    c.subscribe("p/#")
    c.subscribe("p/+")
    assert c.unsubscribe("p/#") == [0]
    pub = m.connected(b.port, "ovl-unpub", V5)
    pub.publish("p/a", b"1")
    pub.publish("p/a/b", b"2")  # only matched by the removed p/#
    pub.publish("p/end", b"end")
    got = c.messages_until("p/end")
    assert [(x.topic, x.payload) for x in got] == [("p/a", b"1"), ("p/end", b"end")]
