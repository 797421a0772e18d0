"""Topic aliases (MQTT 5 §3.3.2.3.4) both ways: a client's aliases are learnt and
resolved; towards a client that allows them the broker assigns its own, per connection,
reusing the least recently used when it runs out, and never uses one it has not set."""

import mqtt_raw as m
from mqtt_raw import V311, V5


def test_inbound_alias_is_set_then_used_with_an_empty_topic(broker):
    b = broker()
    sub = m.connected(b.port, "ia-sub", V311)
    sub.subscribe("ia/#")
    pub = m.connected(b.port, "ia-pub", V5)
    pub.publish("ia/long/topic/name", b"1", properties=[(m.TOPIC_ALIAS, 7)])
    pub.publish("", b"2", properties=[(m.TOPIC_ALIAS, 7)])
    pub.publish("ia/other", b"3", properties=[(m.TOPIC_ALIAS, 7)])  # remapped
    pub.publish("", b"4", properties=[(m.TOPIC_ALIAS, 7)])
    got = [(x.topic, x.payload) for x in (sub.next_message() for _ in range(4))]
    assert got == [("ia/long/topic/name", b"1"), ("ia/long/topic/name", b"2"),
                   ("ia/other", b"3"), ("ia/other", b"4")]


def test_aliases_do_not_outlive_the_connection(broker):
    b = broker()
    pub = m.connected(b.port, "ia-once", V5)
    pub.publish("t/x", b"1", properties=[(m.TOPIC_ALIAS, 1)])
    pub.disconnect()
    again = m.connected(b.port, "ia-once", V5)
    again.publish("", b"2", properties=[(m.TOPIC_ALIAS, 1)])
    assert m.Disconnect(again.read_packet()).reason == 0x82


def test_outbound_aliases_assigned_reused_and_evicted_lru(broker):
    b = broker()
    sub = m.RawClient(b.port, V5)
    sub.connect("oa-sub", properties=[(m.TOPIC_ALIAS_MAXIMUM, 2)])
    sub.subscribe(("oa/#", 1))
    pub = m.connected(b.port, "oa-pub", V311)
    for topic in ["oa/a", "oa/b", "oa/a", "oa/c", "oa/b", "oa/a"]:
        pub.publish(topic, topic.encode())
    seen = []
    for _ in range(6):
        msg = sub.next_message()
        seen.append((msg.topic, msg.props.get(m.TOPIC_ALIAS), msg.payload))
    assert seen == [
        ("oa/a", 1, b"oa/a"),  # new alias: topic travels with it
        ("oa/b", 2, b"oa/b"),
        ("", 1, b"oa/a"),      # known: empty topic
        ("oa/c", 2, b"oa/c"),  # full: b was least recently used, its alias is reassigned
        ("oa/b", 1, b"oa/b"),  # b lost its alias; a is now the least recent
        ("oa/a", 2, b"oa/a"),
    ]


def test_no_outbound_aliases_without_the_clients_consent(broker):
    b = broker()
    sub = m.connected(b.port, "oa-none", V5)
    sub.subscribe("on/#")
    pub = m.connected(b.port, "oa-none-pub", V311)
    for _ in range(3):
        pub.publish("on/x", b"p")
    for _ in range(3):
        msg = sub.next_message()
        assert msg.topic == "on/x" and m.TOPIC_ALIAS not in msg.props
