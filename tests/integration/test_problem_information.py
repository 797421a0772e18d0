"""Request Problem Information [MQTT-3.1.2-29]: reason strings on SUBACK and PUBACK only
when the client allows them (the default); DISCONNECT and CONNACK always may carry one."""

import mqtt_raw as m
from mqtt_raw import V5

ACL = """
[[acl.deny]]
topic = "no/#"
"""


def suback_props(client, *filters):
    pid = client.packet_id()
    client.send(m.subscribe(pid, list(filters), V5))
    pkt = client.read_until(m.SUBACK)
    props, _ = m.parse_props(pkt.body, 2)
    return props


def puback_props(client, topic):
    client.publish(topic, b"x", qos=1, packet_id=5)
    pkt = client.read_packet()
    assert pkt.type == m.PUBACK and pkt.body[2] == 0x87
    if len(pkt.body) == 3:
        return {}  # reason code only: the property length may be left out [MQTT-3.4.2.2]
    props, _ = m.parse_props(pkt.body, 3)
    return props


def test_reason_strings_when_allowed(broker):
    b = broker(config=ACL)
    c = m.connected(b.port, "pi-yes", V5)
    assert m.REASON_STRING in suback_props(c, "no/x", "yes/x")
    assert m.REASON_STRING in puback_props(c, "no/x")
    assert m.REASON_STRING not in suback_props(c, "yes/y")  # nothing to explain


def test_no_reason_strings_when_the_client_says_no(broker):
    b = broker(config=ACL)
    c = m.RawClient(b.port, V5)
    c.connect("pi-no", properties=[(m.REQUEST_PROBLEM_INFORMATION, 0)])
    assert m.REASON_STRING not in suback_props(c, "no/x")
    assert m.REASON_STRING not in puback_props(c, "no/x")


def test_disconnect_says_why(broker):
    b = broker()
    c = m.RawClient(b.port, V5)
    c.connect("pi-disc", properties=[(m.REQUEST_PROBLEM_INFORMATION, 0)])
    c.send(m.packet(m.PUBLISH, 6, m.utf8("t") + b"\x00\x01\x00"))  # QoS 3
    pkt = c.read_packet()
    assert m.Disconnect(pkt).reason == 0x81
    props, _ = m.parse_props(pkt.body, 1)
    assert props.get(m.REASON_STRING), props
