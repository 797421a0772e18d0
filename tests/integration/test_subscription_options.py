"""v5 subscription options: Subscription Identifier, No Local, Retain As Published (and
the 3.1.1 rule that live deliveries carry RETAIN=0)."""

import pytest

import mqtt_raw as m
from mqtt_raw import V311, V5

SUBID = m.SUBSCRIPTION_IDENTIFIER


def test_subscription_identifier_is_carried_and_updated(broker):
    b = broker()
    c = m.connected(b.port, "sid", V5)
    assert c.subscribe(("sid/a", 0), properties=[(SUBID, 7)]) == [0]
    assert c.subscribe(("sid/b", 0)) == [0]  # no identifier
    assert c.subscribe(("sid/c", 0), properties=[(SUBID, 268_435_455)]) == [0]
    pub = m.connected(b.port, "sid-pub", V311)
    for t in ("sid/a", "sid/b", "sid/c"):
        pub.publish(t, b"x")
    got = {x.topic: x.props.get(SUBID) for x in (c.next_message() for _ in range(3))}
    assert got == {"sid/a": [7], "sid/b": None, "sid/c": [268_435_455]}
    # Subscribing again replaces the identifier (and removing it is possible too).
    c.subscribe(("sid/a", 0), properties=[(SUBID, 9)])
    c.subscribe(("sid/c", 0))
    pub.publish("sid/a", b"y")
    pub.publish("sid/c", b"y")
    got = {x.topic: x.props.get(SUBID) for x in (c.next_message() for _ in range(2))}
    assert got == {"sid/a": [9], "sid/c": None}


@pytest.mark.parametrize("qos", [0, 1])
def test_no_local_suppresses_only_the_clients_own_publishes(broker, qos):
    b = broker()
    me = m.connected(b.port, f"nl-me{qos}", V5)
    assert me.subscribe(("nl/#", m.sub_options(qos, no_local=True))) == [qos]
    me.subscribe("nl-sync")
    other = m.connected(b.port, f"nl-other{qos}", V5)
    other.subscribe("nl/#")
    if qos:
        me.publish_qos1("nl/mine", b"own")
    else:
        me.publish("nl/mine", b"own")
    other.publish("nl/theirs", b"not own")
    assert sorted(other.next_message().payload for _ in range(2)) == [b"not own", b"own"]
    msg = me.next_message()
    assert (msg.topic, msg.payload) == ("nl/theirs", b"not own")
    if msg.qos:
        me.send_ack(m.PUBACK, msg.packet_id)
    # After everything of mine that could have come back: only the sync message.
    me.publish("nl-sync", b"end")
    assert [x.topic for x in me.messages_until("nl-sync")] == ["nl-sync"]


def test_without_no_local_a_client_gets_its_own_publishes(broker):
    b = broker()
    me = m.connected(b.port, "nl-off", V5)
    me.subscribe(("own/#", m.sub_options(0)))
    me.publish("own/x", b"echo")
    assert me.next_message().payload == b"echo"


def test_retain_as_published_keeps_the_retain_flag_on_live_delivery(broker):
    b = broker()
    c = m.connected(b.port, "rap", V5)
    c.subscribe(("rap1/#", m.sub_options(0, retain_as_published=True)),
                ("rap0/#", m.sub_options(0, retain_as_published=False)))
    v3 = m.connected(b.port, "rap-v3", V311)
    v3.subscribe("rap1/#")
    pub = m.connected(b.port, "rap-pub", V5)
    pub.publish("rap1/x", b"r", retain=True)
    pub.publish("rap1/x", b"n", retain=False)
    pub.publish("rap0/x", b"r", retain=True)
    got = [(x.topic, x.payload, x.retain) for x in (c.next_message() for _ in range(3))]
    assert got == [("rap1/x", b"r", True), ("rap1/x", b"n", False), ("rap0/x", b"r", False)]
    # 3.1.1 [MQTT-3.3.1-9]: RETAIN=0 on delivery to an established subscription.
    got = [(x.payload, x.retain) for x in (v3.next_message() for _ in range(2))]
    assert got == [(b"r", False), (b"n", False)]
