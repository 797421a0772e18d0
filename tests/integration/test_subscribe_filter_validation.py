"""Invalid or unsupported topic filters are refused per filter in SUBACK; the connection
stays usable."""

import pytest

import mqtt_raw as m
from mqtt_raw import V311, V5

# Shared subscriptions with an empty or wildcard group name are invalid filters.
FILTERS = ["a/#/b", "a+", "#a", "a/b#", "a/+b", "ok/x", "$share//x", "$share/g+/x", "ok/#"]
EXPECTED = {
    V5: [0x8F, 0x8F, 0x8F, 0x8F, 0x8F, 0x00, 0x8F, 0x8F, 0x00],
    V311: [0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x80, 0x80, 0x00],
}


@pytest.mark.parametrize("version", [V311, V5])
def test_invalid_filters_get_per_filter_failure_codes(broker, version):
    b = broker()
    c = m.connected(b.port, f"badf{version}", version)
    assert c.subscribe(*FILTERS) == EXPECTED[version]
    # Still connected and the valid filters work.
    c.ping()
    pub = m.connected(b.port, f"badfpub{version}", V311)
    pub.publish("ok/x", b"1")
    pub.publish("ok/y", b"2")
    pub.publish("ok/end", b"end")
    got = c.messages_until("ok/end")
    # ok/x matches both valid filters: still one copy.
    assert [(x.topic, x.payload) for x in got] == [("ok/x", b"1"), ("ok/y", b"2"),
                                                   ("ok/end", b"end")]
    # Nothing was subscribed for the refused filters.
    pub.publish("a/x/b", b"")
    pub.publish("a/bc", b"")
    pub.publish("x", b"")
    pub.publish("ok/end", b"end2")
    got = c.messages_until("ok/end", b"end2")
    assert [(x.topic, x.payload) for x in got] == [("ok/end", b"end2")]
