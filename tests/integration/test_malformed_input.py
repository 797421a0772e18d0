"""Malformed and forbidden input is answered per spec and harms no other client.

One broker per backend serves the whole table while a paho client stays subscribed;
the last test checks that client still receives and the broker is still alive.
"""

import pytest

import mqtt_raw as m
from clients import PahoClient, mosquitto_pub
from mqtt_raw import (AUTH, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, V31, V311, V5,
                      packet, props, u16, u32, utf8)

# A long connect timeout, so "closed" can only mean the broker refused the input.
CONFIG = "[limits]\nconnect_timeout_ms = 30000\n"

CLOSE = ("close",)


def CONNACK3(code):
    return ("connack3", code)


def CONNACK5(code):
    return ("connack5", code)


def DISC(code):
    return ("disconnect", code)


def v5_connect(flags=0x02, payload=None, properties=b"\x00"):
    return m.connect_raw("MQTT", 5, flags, 60, utf8("mal") if payload is None else payload,
                         properties)


def v5_will(qos=0, retain=False, topic="will/t", extra_flags=0):
    flags = 0x02 | 0x04 | (qos << 3) | (0x20 if retain else 0) | extra_flags
    return v5_connect(flags, utf8("mal") + b"\x00" + utf8(topic) + utf8("bye"))


def v311_connect(flags=0x02, payload=None):
    return m.connect_raw("MQTT", 4, flags, 60, utf8("mal") if payload is None else payload)


def pub5(topic=b"t", payload=b"x", flags=0, properties=b"\x00"):
    return packet(PUBLISH, flags, utf8(topic) + properties + payload)


def pub3(topic=b"t", payload=b"x", flags=0):
    return packet(PUBLISH, flags, utf8(topic) + payload)


# (name, connect first with this version or None, bytes, expected answer)
CASES = [
    # --- before CONNECT ------------------------------------------------------------
    ("first packet PINGREQ", None, b"\xc0\x00", CLOSE),
    ("first packet PUBLISH", None, pub3(), CLOSE),
    ("first packet SUBSCRIBE", None, m.subscribe(1, ["a"]), CLOSE),
    ("protocol name MQTX", None, m.connect_raw("MQTX", 4, 0x02, 60, utf8("c")),
     CONNACK3(0x01)),
    ("protocol level 6", None, m.connect_raw("MQTT", 6, 0x02, 60, utf8("c")),
     CONNACK3(0x01)),
    ("protocol level 0", None, m.connect_raw("MQTT", 0, 0x02, 60, utf8("c")),
     CONNACK3(0x01)),
    ("v5 reserved connect flag", None, v5_connect(flags=0x03), CONNACK5(0x81)),
    ("v5 will qos without will flag", None, v5_connect(flags=0x02 | 0x08), CONNACK5(0x81)),
    ("v5 will retain without will flag", None, v5_connect(flags=0x02 | 0x20),
     CONNACK5(0x81)),
    ("v5 will qos 3", None, v5_will(qos=3), CONNACK5(0x81)),
    ("v5 will topic with wildcard", None, v5_will(topic="w/#"), CONNACK5(0x90)),
    ("v5 invalid utf-8 client id", None, v5_connect(payload=utf8(b"\xc3\x28")),
     CONNACK5(0x81)),
    ("v5 U+0000 in client id", None, v5_connect(payload=utf8(b"a\x00b")), CONNACK5(0x81)),
    ("v5 connect property length past end", None,
     v5_connect(properties=b"\x20" + b"\x11" + u32(5)), CONNACK5(0x81)),
    ("v5 connect duplicated session expiry", None,
     v5_connect(properties=props((0x11, 5), (0x11, 6))), CONNACK5(0x82)),
    ("v5 topic alias property on CONNECT", None,
     v5_connect(properties=props((m.TOPIC_ALIAS, 1))), CONNACK5(0x81)),
    ("v5 truncated client id", None, v5_connect(payload=u16(10) + b"abc"), CONNACK5(0x81)),
    ("v5 trailing garbage after CONNECT", None, v5_connect(payload=utf8("c") + b"\x00"),
     CONNACK5(0x81)),
    ("v3.1.1 password without username", None,
     v311_connect(flags=0x42, payload=utf8("c") + utf8("pw")), CLOSE),
    ("v3.1.1 reserved connect flag", None, v311_connect(flags=0x03), CLOSE),
    ("v3.1.1 truncated client id", None, v311_connect(payload=u16(10) + b"abc"), CLOSE),
    ("v3.1.1 will qos 3", None,
     v311_connect(flags=0x02 | 0x04 | 0x18, payload=utf8("c") + utf8("w") + utf8("x")), CLOSE),
    ("v3.1 truncated client id", None,
     m.connect_raw("MQIsdp", 3, 0x02, 60, u16(10) + b"abc"), CLOSE),

    # --- after CONNECT, v5: DISCONNECT with reason, then close ------------------------
    ("5-byte remaining length", V5, b"\xc0\x80\x80\x80\x80\x01", DISC(0x81)),
    ("non-minimal remaining length", V5, b"\xc0\x80\x00", DISC(0x81)),
    ("PINGREQ flags 1", V5, b"\xc1\x00", DISC(0x81)),
    ("SUBSCRIBE flags 0", V5, packet(SUBSCRIBE, 0, u16(1) + b"\x00" + utf8("a") + b"\x00"),
     DISC(0x81)),
    ("UNSUBSCRIBE flags 0", V5, packet(UNSUBSCRIBE, 0, u16(1) + b"\x00" + utf8("a")),
     DISC(0x81)),
    ("PUBREL flags 0", V5, b"\x60\x02\x00\x01", DISC(0x81)),
    ("DISCONNECT flags 1", V5, b"\xe1\x00", DISC(0x81)),
    ("packet type 0", V5, b"\x00\x00", DISC(0x81)),
    ("second CONNECT", V5, m.connect("again", V5), DISC(0x82)),
    ("invalid utf-8 in topic", V5, pub5(b"a/\xff"), DISC(0x81)),
    ("U+0000 in topic", V5, pub5(b"a\x00b"), DISC(0x81)),
    ("UTF-16 surrogate in topic", V5, pub5(b"a/\xed\xa0\x80"), DISC(0x81)),
    ("overlong utf-8 in topic", V5, pub5(b"a/\xc0\xaf"), DISC(0x81)),
    ("'+' in PUBLISH topic", V5, pub5(b"a/+"), DISC(0x90)),
    ("'#' in PUBLISH topic", V5, pub5(b"a/#"), DISC(0x90)),
    ("empty topic without alias", V5, pub5(b""), DISC(0x82)),
    ("PUBLISH QoS 3", V5, pub5(flags=0x06), DISC(0x81)),
    ("DUP with QoS 0", V5, pub5(flags=0x08), DISC(0x81)),
    ("empty SUBSCRIBE list", V5, packet(SUBSCRIBE, 2, u16(1) + b"\x00"), DISC(0x82)),
    ("empty UNSUBSCRIBE list", V5, packet(UNSUBSCRIBE, 2, u16(1) + b"\x00"), DISC(0x82)),
    ("SUBSCRIBE option bits 6/7", V5, m.subscribe(1, [("a", 0xC0)], V5), DISC(0x81)),
    ("SUBSCRIBE retain handling 3", V5, m.subscribe(1, [("a", 0x30)], V5), DISC(0x82)),
    ("SUBSCRIBE missing options byte", V5, packet(SUBSCRIBE, 2, u16(1) + b"\x00" + utf8("a")),
     DISC(0x81)),
    ("session expiry on PUBLISH", V5, pub5(properties=props((0x11, 10))), DISC(0x81)),
    ("two content types on PUBLISH", V5,
     pub5(properties=props((m.CONTENT_TYPE, "a"), (m.CONTENT_TYPE, "b"))), DISC(0x82)),
    ("PUBLISH property length past end", V5, pub5(payload=b"", properties=b"\x09\x01\x00"),
     DISC(0x81)),
    ("unknown property id", V5, pub5(properties=b"\x02\x7f\x00"), DISC(0x81)),
    ("user property with invalid utf-8", V5,
     pub5(properties=props((m.USER_PROPERTY, (b"k", b"\xff")))), DISC(0x81)),
    ("topic alias above our maximum", V5, pub5(properties=props((m.TOPIC_ALIAS, 65))),
     DISC(0x94)),
    ("topic alias never set", V5, pub5(topic=b"", properties=props((m.TOPIC_ALIAS, 3))),
     DISC(0x82)),
    ("subscription identifier 0 on SUBSCRIBE", V5,
     m.subscribe(1, ["a"], V5, properties=[(m.SUBSCRIPTION_IDENTIFIER, 0)]), DISC(0x82)),
    ("payload format 1 with invalid utf-8", V5,
     pub5(payload=b"\xff\xfe", properties=props((m.PAYLOAD_FORMAT_INDICATOR, 1))),
     DISC(0x99)),
    ("client sends CONNACK", V5, b"\x20\x03\x00\x00\x00", DISC(0x82)),
    ("client sends SUBACK", V5, b"\x90\x04\x00\x01\x00\x00", DISC(0x82)),
    ("client sends UNSUBACK", V5, b"\xb0\x04\x00\x01\x00\x00", DISC(0x82)),
    ("client sends PINGRESP", V5, b"\xd0\x00", DISC(0x82)),
    ("AUTH without authentication method", V5, packet(AUTH, 0, b"\x18\x00"), DISC(0x82)),
    ("truncated topic string", V5, packet(PUBLISH, 0, u16(10) + b"abc"), DISC(0x81)),
    ("trailing byte in PINGREQ", V5, b"\xc0\x01\x00", DISC(0x81)),
    ("trailing garbage after DISCONNECT properties", V5, b"\xe0\x03\x00\x00\xff", DISC(0x81)),

    # --- after CONNECT, v3: close --------------------------------------------------------
    ("v3.1.1 PINGREQ flags 1", V311, b"\xc1\x00", CLOSE),
    ("v3.1.1 SUBSCRIBE flags 0", V311, packet(SUBSCRIBE, 0, u16(1) + utf8("a") + b"\x00"),
     CLOSE),
    ("v3.1.1 '#' in PUBLISH topic", V311, pub3(b"a/#"), CLOSE),
    ("v3.1.1 empty topic", V311, pub3(b""), CLOSE),
    ("v3.1.1 second CONNECT", V311, m.connect("again3", V311), CLOSE),
    ("v3.1.1 invalid utf-8 in topic", V311, pub3(b"a/\xff"), CLOSE),
    ("v3.1.1 PUBLISH QoS 3", V311, pub3(flags=0x06), CLOSE),
    ("v3.1.1 5-byte remaining length", V311, b"\x30\x80\x80\x80\x80\x01", CLOSE),
    ("v3.1.1 empty SUBSCRIBE list", V311, packet(SUBSCRIBE, 2, u16(1)), CLOSE),
    ("v3.1.1 SUBSCRIBE requested QoS 3", V311, m.subscribe(1, [("a", 3)]), CLOSE),
    ("v3.1.1 SUBSCRIBE reserved option bits", V311, m.subscribe(1, [("a", 0x04)]), CLOSE),
    ("v3.1.1 client sends CONNACK", V311, b"\x20\x02\x00\x00", CLOSE),
    ("v3.1.1 packet type 0", V311, b"\x00\x00", CLOSE),
    ("v3.1.1 AUTH packet", V311, b"\xf0\x00", CLOSE),
    ("v3.1 wildcard in PUBLISH topic", V31, pub3(b"x/+"), CLOSE),
    ("v3.1 PINGREQ flags 1", V31, b"\xc1\x00", CLOSE),
]

assert len(CASES) >= 35
assert len({c[0] for c in CASES}) == len(CASES), "case names must be unique"


@pytest.fixture(scope="module")
def shared(module_broker_factory):
    b = module_broker_factory(config=CONFIG)
    watcher = PahoClient(b.port, "watcher", 5)
    assert watcher.subscribe("watch/#") == [0]
    yield b, watcher
    watcher.close()


def _answer(c):
    try:
        return c.read_packet(timeout=10)
    except m.ConnectionClosed:
        raise AssertionError(f"closed without the expected answer (got {c.buf.hex()!r})")


@pytest.mark.parametrize("index,name,setup,data,expect",
                         [(i, *case) for i, case in enumerate(CASES)],
                         ids=[case[0] for case in CASES])
def test_malformed_input_is_answered_per_spec(shared, index, name, setup, data, expect):
    b, _ = shared
    c = m.RawClient(b.port)
    if setup is not None:
        c.version = setup
        c.connect(f"mal-{index}")
    try:
        c.send(data)
    except OSError:
        pass  # closed while we were still sending: the answer is checked below
    kind = expect[0]
    if kind == "connack3":
        pkt = _answer(c)
        assert pkt.raw == bytes([0x20, 0x02, 0x00, expect[1]]), pkt
    elif kind == "connack5":
        ack = m.Connack(_answer(c), V5)
        assert (ack.session_present, ack.code) == (False, expect[1]), \
            f"CONNACK reason {ack.code:#x}, expected {expect[1]:#x}"
    elif kind == "disconnect":
        pkt = _answer(c)
        reason = m.Disconnect(pkt).reason
        assert reason == expect[1], f"DISCONNECT reason {reason:#x}, expected {expect[1]:#x}"
    assert c.expect_closed(10), "connection not closed"
    assert c.buf == b"", f"unexpected bytes from broker: {c.buf.hex()}"
    assert b.alive()


def test_connected_client_still_receives_after_all_the_bad_input(shared):
    b, watcher = shared
    assert b.alive()
    mosquitto_pub(b.port, "watch/final", "still here", V311)
    topic, payload, qos, retain = watcher.next_message(timeout=10)
    assert (topic, payload) == ("watch/final", b"still here")
    assert not watcher.disconnected.is_set()
    # New clients are still served normally.
    c = m.connected(b.port, "after-table", V5)
    assert c.subscribe("after/#") == [0]
    c.publish("after/x", b"ok")
    assert c.next_message().payload == b"ok"
