"""Topic filters in SUBSCRIBE and UNSUBSCRIBE.

A filter that breaks the syntax every filter has (empty, or '+'/'#' not a whole level) makes
the packet a protocol error: the connection closes, a v5 client told DISCONNECT 0x82 first
([MQTT-4.7.1-1/2], [MQTT-4.7.3-1]; 3.1.1 [MQTT-4.8.0-1], 5.0 [MQTT-4.13.1-1]), and nothing
in that packet takes effect. A filter that is well formed but not allowed (a shared
subscription without a valid share name or filter) is refused in SUBACK alone (0x8F, or
0x80 in 3.1.1) and the connection stays usable."""

import pytest

import mqtt_raw as m
from mqtt_raw import V311, V5

MALFORMED = ["", "a/#/b", "a+", "#a", "a/b#", "ab/+e", "a/#b", "$share/g+/x", "$share/g/a#"]
NOT_ALLOWED = ["$share//x", "$share/g", "$share/g/"]


def expect_protocol_error_close(c, version):
    if version == V5:
        pkt = c.read_packet(timeout=5)
        assert m.Disconnect(pkt).reason == 0x82, pkt
    assert c.expect_closed(5)
    assert c.buf == b"", f"bytes after the close: {c.buf.hex()}"


@pytest.mark.parametrize("version", [V311, V5])
@pytest.mark.parametrize("bad", MALFORMED, ids=lambda f: repr(f))
def test_a_malformed_filter_in_subscribe_closes_and_subscribes_nothing(broker, version, bad):
    b = broker()
    keep = dict(clean=False,
                properties=[(m.SESSION_EXPIRY_INTERVAL, 300)] if version == V5 else [])
    c = m.connected(b.port, "malf", version, **keep)
    c.send(m.subscribe(1, ["ok/x", bad], version))
    expect_protocol_error_close(c, version)
    # The packet's valid filter did not take: the session, resumed, holds nothing.
    pub = m.connected(b.port, "malf-pub", V311)
    again = m.RawClient(b.port, version)
    assert again.connect("malf", **keep).session_present
    pub.publish("ok/x", b"1")
    pub.ping()
    again.no_packet()


@pytest.mark.parametrize("version", [V311, V5])
@pytest.mark.parametrize("bad", ["", "ab/+e", "a/#b"], ids=lambda f: repr(f))
def test_a_malformed_filter_in_unsubscribe_closes(broker, version, bad):
    b = broker()
    c = m.connected(b.port, "malu", version)
    assert c.subscribe("ok/x") == [0]
    c.send(m.unsubscribe(2, [bad, "ok/x"], version))
    expect_protocol_error_close(c, version)


def test_the_issues_raw_packets(broker):
    """v3.1.1 SUBSCRIBE with an empty filter (82 05 04 d2 00 00 00) and UNSUBSCRIBE with an
    empty filter and "q" (a2 07 04 d2 00 00 00 01 71): closed, no SUBACK or UNSUBACK."""
    b = broker()
    for raw in ("8205 04d2 0000 00", "a207 04d2 0000 0001 71"):
        c = m.connected(b.port, "rawf", V311)
        c.send(bytes.fromhex(raw.replace(" ", "")))
        assert c.expect_closed(5)
        assert c.buf == b"", c.buf.hex()


@pytest.mark.parametrize("version", [V311, V5])
def test_well_formed_filters_that_are_not_allowed_are_refused_per_filter(broker, version):
    b = broker()
    c = m.connected(b.port, f"badf{version}", version)
    refused = 0x8F if version == V5 else 0x80
    assert c.subscribe("ok/x", *NOT_ALLOWED, "ok/#") == [0] + [refused] * len(NOT_ALLOWED) + [0]
    c.ping()  # still connected
    pub = m.connected(b.port, f"badfpub{version}", V311)
    pub.publish("ok/x", b"1")
    pub.publish("ok/y", b"2")
    pub.publish("ok/end", b"end")
    got = c.messages_until("ok/end")
    # ok/x matches both valid filters: still one copy.
    assert [(x.topic, x.payload) for x in got] == [("ok/x", b"1"), ("ok/y", b"2"),
                                                   ("ok/end", b"end")]


@pytest.mark.parametrize("packet,says", [
    (m.subscribe(1, [("$share/g/x", m.sub_options(no_local=True))], V5),
     "No Local on a shared subscription"),
    (m.subscribe(1, [], V5), "SUBSCRIBE without a topic filter"),
    (m.unsubscribe(1, [], V5), "UNSUBSCRIBE without a topic filter"),
    (m.subscribe(1, ["ab/+e"], V5), "'+' not alone in its level"),
], ids=["no-local-shared", "no-filters", "unsubscribe-no-filters", "bad-plus"])
def test_protocol_errors_in_subscribe_say_which_rule(broker, packet, says):
    b = broker()
    c = m.connected(b.port, "why", V5)
    c.send(packet)
    d = m.Disconnect(c.read_packet())
    assert d.reason == 0x82
    assert says in d.props[m.REASON_STRING], d.props
    assert c.expect_closed(5)
