"""Back-pressure between shards: with tiny mailboxes, a burst of QoS 1 messages across
shards makes the publishing shard stop reading PUBLISH until its overflow drains; nothing
acknowledged is lost and order is kept; the bytes held back over the pause are counted
once."""

import re

import mqtt_raw as m
from mqtt_raw import V311, V5

# Rehoming off: the publisher must stay on the other shard for its mailbox to fill.
# The subscriber's queue holds the whole burst: what is tested is the mailboxes' back-
# pressure, not the queue limit (with 1,024 in flight and 1,000 queued by default, a
# Python reader slowed by a loaded machine let the queue drop 310 of 3,000 in CI).
CONFIG = """
rehome_publishers = false
[limits]
mailbox_capacity = 2
mailbox_overflow_limit = 4
max_queued_messages = 5000
"""
COUNT = 3000


def test_qos1_burst_across_shards_pauses_input_and_loses_nothing(broker):
    before = m.RawClient.sent_total
    b = broker(config=CONFIG, shards=2)
    sub, _, sub_shard = b.client_on_shard("bp-sub", V5)
    assert sub.subscribe(("bp/#", 1)) == [1]
    pub, _, _ = b.client_on_shard("bp-pub", V311, exclude=sub_shard)
    pub.send(b"".join(m.publish("bp/x", str(i).encode(), V311, qos=1, packet_id=i + 1)
                      for i in range(COUNT)))
    got = []
    while len(got) < COUNT:
        msg = sub.next_message(timeout=20)
        sub.send(m.ack(m.PUBACK, msg.packet_id))
        got.append(int(msg.payload))
    assert got == list(range(COUNT))
    acks = 0
    while acks < COUNT:
        assert pub.read_packet(timeout=20).type == m.PUBACK
        acks += 1
    sub.ping()  # answered after the broker read the subscriber's last PUBACK
    b.stop()
    counters = re.search(r"counters: (.*)", b.log_text()).group(1)
    paused = int(re.search(r"input_paused=(\d+)", counters).group(1))
    assert paused > 0, counters
    # Bytes read while paused, and the rest of a read the pause stopped, are handled on
    # resume; they were counted when read.
    bytes_in = int(re.search(r"bytes_in=(\d+)", counters).group(1))
    assert bytes_in == m.RawClient.sent_total - before
