"""A second connection with the same client id takes over the first."""

import pytest

import mqtt_raw as m
from mqtt_raw import V31, V311, V5


def assert_new_connection_works(b, c, tag):
    assert c.subscribe(f"{tag}/#") == [0]
    c.publish(f"{tag}/self", b"alive")
    msg = c.next_message()
    assert (msg.topic, msg.payload) == (f"{tag}/self", b"alive")


@pytest.mark.parametrize("new_version", [V311, V5])
def test_old_v5_connection_gets_disconnect_0x8e(broker, new_version):
    b = broker()
    old = m.connected(b.port, "same-id", V5)
    old.subscribe("tk/#")
    new = m.connected(b.port, "same-id", new_version)
    assert m.Disconnect(old.read_packet()).reason == 0x8E
    assert old.expect_closed(10)
    assert_new_connection_works(b, new, "tk5")


@pytest.mark.parametrize("old_version", [V31, V311])
def test_old_v3_connection_is_closed(broker, old_version):
    b = broker()
    old = m.connected(b.port, "same-v3", old_version)
    new = m.connected(b.port, "same-v3", V5)
    assert old.expect_closed(10)
    assert old.buf == b"", f"v3 client got bytes before close: {old.buf.hex()}"
    assert_new_connection_works(b, new, "tk3")


def test_clean_start_takeover_does_not_inherit_old_subscriptions(broker):
    b = broker()
    old = m.connected(b.port, "fresh", V5)
    old.subscribe("inherit/#")
    new = m.connected(b.port, "fresh", V5, clean=True)
    assert m.Disconnect(old.read_packet()).reason == 0x8E
    new.subscribe("fresh-sync")
    pub = m.connected(b.port, "fresh-pub", V311)
    pub.publish("inherit/x", b"old subscription")
    pub.publish("fresh-sync", b"end")
    assert [x.topic for x in new.messages_until("fresh-sync")] == ["fresh-sync"]


def test_rapid_repeated_takeovers_leave_exactly_the_last_one_working(broker):
    b = broker()
    conns = []
    for i in range(10):
        conns.append(m.connected(b.port, "flappy", V5 if i % 2 == 0 else V311))
    for i, c in enumerate(conns[:-1]):
        if c.version == V5:
            assert m.Disconnect(c.read_packet()).reason == 0x8E, f"connection {i}"
        assert c.expect_closed(10), f"connection {i} still open"
    last = conns[-1]
    assert last.is_open()
    assert_new_connection_works(b, last, "flappy")
    # A message to the id's subscription is delivered once, to the last connection only.
    pub = m.connected(b.port, "flappy-pub", V311)
    pub.publish("flappy/x", b"once")
    pub.publish("flappy/end", b"")
    assert [(x.topic, x.payload) for x in last.messages_until("flappy/end")] == \
        [("flappy/x", b"once"), ("flappy/end", b"")]


def test_takeover_of_one_id_leaves_other_clients_alone(broker):
    b = broker()
    bystander = m.connected(b.port, "bystander", V5)
    bystander.subscribe("by/#")
    m.connected(b.port, "victim", V311)
    m.connected(b.port, "victim", V311)
    pub = m.connected(b.port, "by-pub", V311)
    pub.publish("by/x", b"still here")
    msg = bystander.next_message()
    assert (msg.topic, msg.payload) == ("by/x", b"still here")
