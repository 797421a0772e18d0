"""The config-file ACL: denied filters get SUBACK 0x87 (v5, configurable 0x80) / 0x80
(v3); denied publishes get PUBACK 0x87 (v5) or a disconnect, as configured; a broad
wildcard never leaks a topic its subscriber may not read."""

import pytest

import mqtt_raw as m
from mqtt_raw import V311, V5
from tokens import KeySet

ACL = """
[[acl.deny]]
topic = "secret/#"
access = "read"

[[acl.deny]]
topic = "ro/#"
access = "write"

[[acl.deny]]
topic = "admin/#"
client_id = "guest"
"""


def test_denied_filters_get_the_configured_codes(broker):
    b = broker(config=ACL)
    v5 = m.connected(b.port, "acl5", V5)
    assert v5.subscribe("secret/#", "secret/+", "ok/#") == [0x87, 0x87, 0x00]
    v3 = m.connected(b.port, "acl3", V311)
    assert v3.subscribe("secret/a", "ok/#") == [0x80, 0x00]
    b2 = broker(config="[acl]\nsubscribe_denied_code = 0x80\n" + ACL)
    c = m.connected(b2.port, "acl5b", V5)
    assert c.subscribe("secret/x") == [0x80]


def test_hash_subscriber_never_receives_denied_topics(broker):
    b = broker(config=ACL)
    everything = m.connected(b.port, "all", V5)
    assert everything.subscribe(("#", 1)) == [1]
    pub = m.connected(b.port, "pub", V311)
    pub.publish("secret/plan", b"hidden")
    pub.publish("secret/plan", b"hidden", qos=1, packet_id=3)
    assert pub.read_packet().type == m.PUBACK
    pub.publish("open/x", b"seen")
    got = everything.messages_until("open/x")
    assert [(x.topic, x.payload) for x in got] == [("open/x", b"seen")]


@pytest.mark.parametrize("version", [V311, V5])
def test_denied_publish_is_acked_with_0x87_and_not_delivered(broker, version):
    b = broker(config=ACL)
    sub = m.connected(b.port, "rosub", V5)
    sub.subscribe("ro/#", "end")
    pub = m.connected(b.port, f"ropub{version}", version)
    pub.publish("ro/x", b"nope", qos=1, packet_id=9)
    ack = pub.read_packet()
    assert ack.type == m.PUBACK
    if version == V5:
        assert ack.raw[4] == 0x87, ack.raw.hex()
    pub.publish("end", b"")
    assert [x.topic for x in sub.messages_until("end")] == ["end"]


def test_rules_can_name_one_client(broker, tmp_path):
    # A rule naming a client applies to one that proved who it is (here with a token);
    # a client id merely claimed is matched by no named rule.
    keys = KeySet(tmp_path)
    b = broker(config=ACL + keys.config())
    guest = m.connected(b.port, "guest", V5, password=keys.token(sub="guest"))
    assert guest.subscribe("admin/x") == [0x87]
    staff = m.connected(b.port, "staff", V5, password=keys.token(sub="staff"))
    assert staff.subscribe("admin/x") == [0x00]
    claimed = m.connected(b.port, "guest", V5)
    assert claimed.subscribe("admin/x") == [0x00]


def test_disconnect_on_denied_publish(broker):
    b = broker(config="[acl]\ndisconnect_on_denied_publish = true\n" + ACL)
    c = m.connected(b.port, "rodisc", V5)
    c.publish("ro/x", b"nope")
    assert m.Disconnect(c.read_packet()).reason == 0x87
    assert c.expect_closed(5)
