"""$SYS: Aedes' event topics under $SYS/<broker id>/ and Mosquitto-style statistics under
$SYS/broker/, which clients may read but never write."""

import json
import time

import mqtt_raw as m
from mqtt_raw import V311, V5

CONFIG = """
[sys]
broker_id = "edge-1"
interval_ms = 200
heartbeat_ms = 200
"""


def collect(client, wanted, timeout=10.0):
    """Messages until every topic in `wanted` has been seen; returns topic → last payload."""
    seen = {}
    deadline = time.monotonic() + timeout
    while not wanted <= seen.keys():
        msg = client.next_message(timeout=max(0.1, deadline - time.monotonic()))
        seen[msg.topic] = msg.payload
    return seen


def test_events_heartbeat_and_statistics(broker):
    b = broker(config=CONFIG, shards=2)
    watcher = m.connected(b.port, "watcher", V5)
    watcher.subscribe("$SYS/#")
    other = m.connected(b.port, "sys-client", V311)
    other.subscribe(("a/b", 1), ("c/#", 0))
    other.unsubscribe("c/#")
    for i in range(5):
        other.publish("a/b", b"x")
    # Read everything before closing: unread data makes the close a reset, and a reset
    # may discard what the broker had not read yet.
    other.ping()
    other.disconnect()
    seen = collect(watcher, {
        "$SYS/edge-1/new/clients", "$SYS/edge-1/new/subscribes",
        "$SYS/edge-1/new/unsubscribes", "$SYS/edge-1/disconnect/clients",
        "$SYS/edge-1/heartbeat", "$SYS/broker/clients/connected", "$SYS/broker/version",
        "$SYS/broker/uptime", "$SYS/broker/messages/received"})
    assert seen["$SYS/edge-1/heartbeat"] == b"edge-1"
    assert seen["$SYS/edge-1/disconnect/clients"] == b"sys-client"
    subs = json.loads(seen["$SYS/edge-1/new/subscribes"])
    assert subs == {"clientId": "sys-client", "subs": [{"topic": "a/b", "qos": 1},
                                                       {"topic": "c/#", "qos": 0}]}
    unsubs = json.loads(seen["$SYS/edge-1/new/unsubscribes"])
    assert unsubs == {"clientId": "sys-client", "subs": ["c/#"]}
    assert seen["$SYS/broker/version"].startswith(b"peregrine ")
    # Statistics catch up within an interval or two: five messages in at least.
    deadline = time.monotonic() + 10
    received = int(seen["$SYS/broker/messages/received"])
    while received < 5 and time.monotonic() < deadline:
        msg = watcher.next_message()
        if msg.topic == "$SYS/broker/messages/received":
            received = int(msg.payload)
    assert received >= 5


def test_statistics_are_retained_for_late_subscribers(broker):
    # Every interval republishes the statistics live; a subscriber that comes just before
    # a tick may get the live copy first (the retained one is then a duplicate and not
    # sent). So: wait for a tick, then subscribe well before the next one.
    b = broker(config=CONFIG.replace("interval_ms = 200", "interval_ms = 1500"))
    watcher = m.connected(b.port, "watcher", V311)
    watcher.subscribe("$SYS/broker/uptime")
    watcher.next_message(timeout=5)  # the retained copy, if a tick has passed
    watcher.next_message(timeout=5)  # a live tick: the next one is 1.5 s away
    late = m.connected(b.port, "late", V311)
    late.subscribe("$SYS/broker/clients/connected")
    msg = late.next_message(timeout=1)
    assert msg.retain is True
    assert int(msg.payload) >= 1


def test_sys_is_not_matched_by_hash_and_cannot_be_written(broker):
    b = broker(config=CONFIG)
    everything = m.connected(b.port, "everything", V5)
    everything.subscribe("#")
    sys_reader = m.connected(b.port, "sysreader", V5)
    sys_reader.subscribe("$SYS/edge-1/forged")
    pub = m.connected(b.port, "forger", V311)
    pub.publish("$SYS/edge-1/forged", b"nope")
    pub.publish("end", b"")
    got = everything.messages_until("end")
    assert all(not x.topic.startswith("$SYS") for x in got)
    sys_reader.ping()
    assert sys_reader.try_read_packet(0.5) is None


def test_every_counter_is_published_under_sys(broker):
    """The README's promise: each counter of the shutdown line also lives under
    $SYS/broker/counters/<name>, summed over the shards."""
    b = broker(config=CONFIG)
    c = m.connected(b.port, "counted", V311)
    c.publish("x", b"1")
    watcher = m.connected(b.port, "watcher", V311)
    watcher.subscribe("$SYS/broker/counters/#")
    time.sleep(0.6)  # a tick or more after the traffic above
    seen = {}
    deadline = time.monotonic() + 2  # ten ticks of interval_ms
    while time.monotonic() < deadline:
        try:
            msg = watcher.next_message(timeout=0.5)
        except (TimeoutError, AssertionError):
            break
        seen[msg.topic.removeprefix("$SYS/broker/counters/")] = int(msg.payload)
    final = b.counters()  # stops the broker
    plain = {k for k in final if not k.startswith("rejected_")}
    assert plain <= seen.keys(), sorted(plain - seen.keys())
    assert seen["connections_accepted"] >= 2 and seen["messages_in"] >= 1
