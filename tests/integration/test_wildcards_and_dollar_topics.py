"""Topic filter matching: '+', '#', and topics starting with '$' ([MQTT-4.7.2-1])."""

import pytest

import mqtt_raw as m
from mqtt_raw import V311, V5

TOPICS = ["a", "a/b", "a/b/c", "a//c", "a/b/d", "a/b/c/d", "a/", "b", "/a", "c/bar",
          "x/$y", "$foo", "$foo/bar", "$SYS/x", "$SYS/broker/x"]

NON_DOLLAR = [t for t in TOPICS if not t.startswith("$")]

# filter -> topics (from TOPICS) it must receive, nothing else.
EXPECTED = {
    "a/#": ["a", "a/b", "a/b/c", "a//c", "a/b/d", "a/b/c/d", "a/"],
    "a/b/#": ["a/b", "a/b/c", "a/b/d", "a/b/c/d"],
    "a/+/c": ["a/b/c", "a//c"],
    "a/+": ["a/b", "a/"],
    "a/b/c": ["a/b/c"],
    "+": ["a", "b"],
    "+/+": ["a/b", "a/", "/a", "c/bar", "x/$y"],
    "/+": ["/a"],
    "+/bar": ["c/bar"],
    "+/$y": ["x/$y"],
    "#": NON_DOLLAR,
    "+/#": NON_DOLLAR,
    "$foo/#": ["$foo", "$foo/bar"],
    "$foo/+": ["$foo/bar"],
    "$foo": ["$foo"],
    # Client publishes to $SYS/... are dropped.
    "$SYS/#": [],
    "+/x": [],
}


def test_filters_match_exactly_the_right_topics(broker):
    b = broker()
    subs = {}
    for i, (flt, _) in enumerate(EXPECTED.items()):
        c = m.connected(b.port, f"wc{i}", V5 if i % 2 else V311)
        assert c.subscribe(flt, f"wcsync/{i}") == [0, 0], flt
        subs[flt] = (i, c)
    pub = m.connected(b.port, "wcpub", V311)
    pub.send(b"".join(m.publish(t, t.encode()) for t in TOPICS))
    pub.send(b"".join(m.publish(f"wcsync/{i}", b"end") for i, _ in subs.values()))
    failures = []
    for flt, (i, c) in subs.items():
        got = [x for x in c.messages_until(f"wcsync/{i}") if not x.topic.startswith("wcsync/")]
        # $SYS topics the broker might publish itself are not ours to judge here.
        mine = [(x.topic, x.payload.decode()) for x in got if x.topic in TOPICS]
        if mine != [(t, t) for t in EXPECTED[flt]]:
            failures.append(f"{flt!r}: got {[t for t, _ in mine]}, want {EXPECTED[flt]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("version", [V311, V5])
def test_hash_alone_does_not_match_dollar_topics_but_dollar_filter_does(broker, version):
    b = broker()
    everything = m.connected(b.port, "all", version)
    everything.subscribe("#")
    dollar = m.connected(b.port, "dollar", version)
    dollar.subscribe("$app/#")
    pub = m.connected(b.port, "dpub", version)
    pub.publish("$app/status", b"d")
    pub.publish("app/status", b"n")
    pub.publish("$app/sync", b"end")
    got_dollar = dollar.messages_until("$app/sync")
    assert [(x.topic, x.payload) for x in got_dollar] == [("$app/status", b"d"),
                                                          ("$app/sync", b"end")]
    pub.publish("sync", b"end")
    got_all = [x for x in everything.messages_until("sync") if not x.topic.startswith("$SYS")]
    assert [(x.topic, x.payload) for x in got_all] == [("app/status", b"n"), ("sync", b"end")]


def test_client_publish_to_sys_is_dropped(broker):
    b = broker()
    sub = m.connected(b.port, "syssub", V5)
    sub.subscribe("$SYS/test/#", "sys-sync")
    pub = m.connected(b.port, "syspub", V311)
    pub.publish("$SYS/test/x", b"forged")
    pub.publish("sys-sync", b"end")
    got = sub.messages_until("sys-sync")
    assert [x.topic for x in got] == ["sys-sync"]
    assert pub.is_open()
