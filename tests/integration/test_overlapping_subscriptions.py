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


def test_overlapping_v5_subscriptions_give_one_copy_at_the_highest_qos_with_every_id(broker):
    """[MQTT-3.3.4-4]: one PUBLISH carrying the identifiers of all matching subscriptions."""
    b = broker()
    c = m.connected(b.port, "ovl-ids", V5)
    assert c.subscribe(("a/+", 0), properties=[(m.SUBSCRIPTION_IDENTIFIER, 1)]) == [0]
    assert c.subscribe(("a/#", 2), properties=[(m.SUBSCRIPTION_IDENTIFIER, 2)]) == [2]
    pub = m.connected(b.port, "ovl-ids-pub", V5)
    pub.publish_qos2("a/b", b"two")
    pub.publish_qos1("a/b", b"one")
    pub.publish("a/end/x", b"end")  # matches a/# only
    two = c.next_message()
    assert (two.topic, two.payload, two.qos) == ("a/b", b"two", 2)
    assert sorted(two.props.get(m.SUBSCRIPTION_IDENTIFIER, [])) == [1, 2], two.props
    c.send_ack(m.PUBREC, two.packet_id)
    assert c.read_ack(m.PUBREL).packet_id == two.packet_id
    c.send_ack(m.PUBCOMP, two.packet_id)
    one = c.next_message()
    assert (one.topic, one.payload, one.qos) == ("a/b", b"one", 1)
    assert sorted(one.props.get(m.SUBSCRIPTION_IDENTIFIER, [])) == [1, 2], one.props
    c.send_ack(m.PUBACK, one.packet_id)
    end = c.next_message()
    assert (end.topic, end.qos, end.props.get(m.SUBSCRIPTION_IDENTIFIER)) == ("a/end/x", 0, [2])
    c.no_packet(0.2)
