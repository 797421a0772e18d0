"""Durable persistent sessions (issue 30), on both io backends: a v5 session with an
expiry, or a 3.1.1 one without clean session, comes back after kill -9 and after a clean
restart with its subscriptions and their options; its expiry keeps counting while the
broker is down; sessions with expiry 0, ended by a clean start, or unsubscribed filters
stay gone; a SUBSCRIBE whose write fails is refused and taken back, an UNSUBSCRIBE is
answered once written and refused (the filter put back) when its write fails; sessions
follow their home when the shard count changes."""

import os
import signal
import subprocess
import time

import pytest

import mqtt_raw as m
from mqtt_raw import V5, V311
from test_persistence import start

EXPIRY = m.SESSION_EXPIRY_INTERVAL


def kill(b):
    b.expect_exit = -signal.SIGKILL
    os.kill(b.proc.pid, signal.SIGKILL)
    b.proc.wait()


def v5_session(port, client_id, expiry=3600, clean=True):
    c = m.RawClient(port, V5)
    ack = c.connect(client_id, clean=clean, properties=[(EXPIRY, expiry)])
    return c, ack


def resume(port, client_id, version=V5, expiry=3600):
    """Reconnects with clean start 0; returns (client, session present)."""
    c = m.RawClient(port, version)
    if version == V5:
        ack = c.connect(client_id, clean=False, properties=[(EXPIRY, expiry)])
    else:
        ack = c.connect(client_id, clean=False)
    return c, ack.session_present


def drain(c, quiet_s=0.4):
    out = []
    while True:
        pkt = c.try_read_packet(quiet_s)
        if pkt is None:
            return out
        if pkt.type == m.PUBREL:
            c.send_ack(m.PUBCOMP, int.from_bytes(pkt.body[:2], "big"))
            continue
        msg = m.Message(pkt, c.version)
        if msg.qos:
            c.send_ack(m.PUBACK if msg.qos == 1 else m.PUBREC, msg.packet_id)
        out.append(msg)


def make_sessions(port):
    """Sessions of every kind; returns the clients still connected."""
    s1, _ = v5_session(port, "s1")
    assert s1.subscribe(("a/#", m.sub_options(qos=1, no_local=True)),
                        properties=[(m.SUBSCRIPTION_IDENTIFIER, 7)]) == [1]
    s1.disconnect()
    s2 = m.connected(port, "s2", V311, clean=False)
    assert s2.subscribe(("b/+", 2)) == [2]  # left connected at the crash
    s3, _ = v5_session(port, "s3")
    assert s3.subscribe(("$share/g/c/#", 1)) == [1]
    s3.disconnect()
    gone, _ = v5_session(port, "gone", expiry=0)
    gone.subscribe(("x", 1))
    gone.disconnect()
    short, _ = v5_session(port, "short", expiry=2)
    short.subscribe(("y", 1))
    short.disconnect()
    u, _ = v5_session(port, "unsub")
    assert u.subscribe(("u1", 1), ("u2", 1)) == [1, 1]
    assert u.unsubscribe("u1") == [0]
    u.disconnect()
    old, _ = v5_session(port, "renewed")
    old.subscribe(("z", 1))
    old.disconnect()
    new, _ = v5_session(port, "renewed")  # a clean start ends the old session
    new.disconnect()
    return [s2]


def check_sessions(port):
    pub = m.connected(port, "pub", V5)
    for topic in ("a/1", "b/2", "c/3", "x", "y", "u1", "u2", "z"):
        assert pub.publish_qos1(topic, f"to {topic}").reason in (0, 0x10), topic
    pub.disconnect()
    s1, present = resume(port, "s1")
    assert present
    got = drain(s1)
    assert [(g.topic, g.qos) for g in got] == [("a/1", 1)]
    assert got[0].props.get(m.SUBSCRIPTION_IDENTIFIER) in (7, [7])
    s1.publish("a/own", "mine", qos=0)  # No Local came back too
    assert drain(s1) == []
    s2, present = resume(port, "s2", V311)
    assert present
    assert [(g.topic, g.qos) for g in drain(s2)] == [("b/2", 1)]  # min(publish, granted)
    s3, present = resume(port, "s3")
    assert present
    assert [g.topic for g in drain(s3)] == ["c/3"]
    for gone in ("gone", "short"):
        c, present = resume(port, gone)
        assert not present, gone
        assert drain(c) == [], gone
        c.disconnect()
    c, present = resume(port, "renewed")  # the new session, without the old one's filter
    assert present
    assert drain(c) == []
    c.disconnect()
    u, present = resume(port, "unsub")
    assert present
    assert [g.topic for g in drain(u)] == ["u2"]
    for c in (s1, s2, s3, u):
        c.disconnect()


def test_sessions_survive_kill_and_a_clean_restart(broker, tmp_path):
    state = tmp_path / "state"
    b = start(broker, state)
    alive = make_sessions(b.port)
    kill(b)
    for c in alive:
        c.close()
    time.sleep(2.1)  # "short"'s 2 s run out while the broker is down
    b = start(broker, state)
    check_sessions(b.port)
    assert b.counters()["sessions_restored"] >= 4  # stops it
    # A clean restart the same (the sessions were resumed and left again above).
    b = start(broker, state)
    for client_id in ("s1", "s3", "unsub"):
        c, present = resume(b.port, client_id)
        assert present, client_id
        c.disconnect()
    c, present = resume(b.port, "s2", V311)
    assert present
    c.disconnect()


def test_a_session_ending_while_down_or_by_expiry_0_is_gone(broker, tmp_path):
    state = tmp_path / "state"
    b = start(broker, state, shards=1)
    c, _ = v5_session(b.port, "e")
    c.subscribe(("t", 1))
    c.disconnect()
    c, present = resume(b.port, "e", expiry=0)  # resumed, now ending with its connection
    assert present
    # CONNACK does not wait for the session's record; a SUBACK does, and the one log
    # (one shard) writes in order: once another session's SUBACK is back, "e"'s expiry 0
    # is on disk too (else a kill -9 at once may come before it leaves the ring).
    w, _ = v5_session(b.port, "w")
    w.subscribe(("w", 1))
    kill(b)  # connected: it would have ended when this connection did
    w.close()
    c.close()
    b = start(broker, state, shards=1)
    c, present = resume(b.port, "e")
    assert not present


def restarted_and_resumed(broker, state, client_id, topics):
    """A one-shard broker started on `state`, `topics` published (QoS 1), then
    `client_id`'s v5 session resumed: the broker and the topics it got, sorted."""
    b = start(broker, state, shards=1)
    pub = m.connected(b.port, "pub", V5)
    for topic in topics:
        pub.publish_qos1(topic, topic)
    c, present = resume(b.port, client_id)
    assert present
    return b, sorted(g.topic for g in drain(c))


def test_a_subscribe_whose_write_fails_is_refused_and_taken_back(broker, tmp_path):
    """A file-size limit at the log's current size stands in for a full disk."""
    state = tmp_path / "state"
    b = start(broker, state, shards=1)
    v5, _ = v5_session(b.port, "f5")
    v3 = m.connected(b.port, "f3", V311, clean=False)
    assert v5.subscribe(("kept", 1)) == [1]
    clean = m.connected(b.port, "clean", V5)  # not persistent: nothing to write
    size = max(p.stat().st_size for p in (state / "shard-0").glob("*.log"))
    subprocess.run(["prlimit", f"--pid={b.proc.pid}", f"--fsize={size}:"], check=True)
    assert v5.subscribe(("refused", 1), ("refused/too", 0)) == [0x83, 0x83]
    assert v3.subscribe(("refused", 1)) == [0x80]
    assert clean.subscribe(("refused", 1)) == [1]
    pub = m.connected(b.port, "pub", V5)
    pub.publish_qos1("refused", "r")
    assert [g.topic for g in drain(clean)] == ["refused"]
    assert drain(v5) == [] and drain(v3) == []  # taken back
    subprocess.run(["prlimit", f"--pid={b.proc.pid}", "--fsize=unlimited:"], check=True)
    deadline = time.monotonic() + 5
    while v5.subscribe(("later", 1)) != [1]:
        assert time.monotonic() < deadline, "the log did not recover"
        time.sleep(0.2)
    v5.disconnect()
    v3.disconnect()
    assert b.counters()["subscribe_log_failed"] >= 2  # stops it
    b, got = restarted_and_resumed(broker, state, "f5", ("kept", "refused", "later"))
    assert got == ["kept", "later"]


def test_an_unsubscribe_waits_for_its_write_and_a_failed_one_is_refused_and_put_back(
        broker, tmp_path):
    """An UNSUBACK leaves once its record is written, so a filter it says is gone never
    comes back after kill -9; a write that fails puts the filter back and refuses it (v5
    0x80; 3.1.1 cannot say it: its connection closes)."""
    state = tmp_path / "state"
    b = start(broker, state, shards=1)
    v5, _ = v5_session(b.port, "u5")
    v3 = m.connected(b.port, "u3", V311, clean=False)
    assert v5.subscribe(("kept", 1), ("gone", 1), ("back", 1)) == [1, 1, 1]
    assert v3.subscribe(("back", 1)) == [1]
    # No file may grow past 16 bytes: not the segment being written, nor a new one's
    # header (a full disk: every write fails, however the batches fall).
    subprocess.run(["prlimit", f"--pid={b.proc.pid}", "--fsize=16:"], check=True)
    assert v5.unsubscribe("back") == [0x80]
    v3.send(m.unsubscribe(v3.packet_id(), ["back"], V311))
    assert v3.expect_closed(5)
    subprocess.run(["prlimit", f"--pid={b.proc.pid}", "--fsize=unlimited:"], check=True)
    deadline = time.monotonic() + 5
    while True:
        codes = v5.unsubscribe("gone")
        if codes == [0]:
            break
        assert codes == [0x80] and time.monotonic() < deadline, "the log did not recover"
        time.sleep(0.2)
    pub = m.connected(b.port, "pub", V5)
    assert pub.publish_qos1("back", "b").reason == 0
    assert [g.topic for g in drain(v5)] == ["back"]  # put back
    kill(b)   # at once: the UNSUBACK came, so its record is written
    b, got = restarted_and_resumed(broker, state, "u5", ("kept", "gone", "back"))
    assert got == ["back", "kept"]
    c3 = m.RawClient(b.port, V311)
    assert c3.connect("u3", clean=False).session_present
    # Its refused UNSUBSCRIBE kept the filter: the one before the crash and this one.
    assert [g.topic for g in drain(c3)] == ["back", "back"]
    assert b.stop() == 0


def test_sessions_move_with_the_shard_count(broker, tmp_path):
    """Sessions, their subscriptions and their queued messages (each stored once per
    shard) follow their home to another shard count."""
    state = tmp_path / "state"
    b = start(broker, state, shards=2)
    ids = [f"mover-{i}" for i in range(12)]
    for client_id in ids:
        c, _ = v5_session(b.port, client_id)
        assert c.subscribe((f"m/{client_id}", 1), ("m/all", 2)) == [1, 2]
        c.disconnect()
    pub = m.connected(b.port, "pub", V5)
    pub.publish_qos2("m/all", "queued for all")  # one message, every session holds it
    for client_id in ids:
        pub.publish_qos1(f"m/{client_id}", f"queued for {client_id}")
    b.stop()
    for shards in (3, 1):
        b = start(broker, state, shards=shards)
        pub = m.connected(b.port, "pub", V5)
        for client_id in ids:
            pub.publish_qos1(f"m/{client_id}", f"{shards}")
        for client_id in ids:
            c, present = resume(b.port, client_id)
            assert present, (shards, client_id)
            got = [g.payload for g in drain(c, 0.2)]
            if shards == 3:
                assert got == [b"queued for all", f"queued for {client_id}".encode(),
                               b"3"], (client_id, got)
            else:
                assert got == [b"1"], (client_id, got)
            c.disconnect()
        assert b.counters()["sessions_restored"] == len(ids), shards  # stops it


def test_a_delayed_will_outlives_the_broker(broker, tmp_path):
    """A session's delayed will is kept with it: sent after the restart when its delay
    runs out (or at once when it ran out while the broker was down, or the session ended
    then), and not at all when the client comes back first."""
    state = tmp_path / "state"
    b = start(broker, state)
    watcher, _ = v5_session(b.port, "watcher")
    assert watcher.subscribe(("will/#", 1)) == [1]
    watcher.disconnect()
    wills = {"soon": 1, "late": 3, "back": 60, "ended": 30}
    expiry = {"soon": 3600, "late": 3600, "back": 3600, "ended": 1}
    for client_id, delay in wills.items():
        c = m.RawClient(b.port, V5)
        c.connect(client_id, properties=[(EXPIRY, expiry[client_id])],
                  will={"topic": f"will/{client_id}", "payload": b"gone", "qos": 1,
                        "properties": [(m.WILL_DELAY_INTERVAL, delay)]})
        c.close()  # no DISCONNECT: the will stands
    time.sleep(0.3)  # the connections' ends are read and written
    kill(b)
    time.sleep(1.5)  # "soon" falls due and "ended" expires while the broker is down
    b = start(broker, state)
    back, present = resume(b.port, "back")  # before its delay: its will is dropped
    assert present
    back.disconnect()
    time.sleep(3.5)  # "late" falls due after the restart
    watcher, present = resume(b.port, "watcher")
    assert present
    got = sorted(g.topic for g in drain(watcher, 0.5))
    assert got == ["will/ended", "will/late", "will/soon"], got


def test_a_connack_that_ends_or_makes_a_durable_session_waits_for_its_records(
        broker, tmp_path):
    """A client told "no session" after a clean start must not find the old session after
    a crash: that CONNACK waits until the records ending it (and making the new one) are
    written. The epoll backend's disk helper thread is stopped to hold the writes (io_uring
    writes in the kernel, out of reach); a resumed session, or one nothing durable is
    written for, is answered at once meanwhile."""
    from conftest import binary_sanitizer
    import stopped_threads
    if broker.backend != "epoll":
        pytest.skip("holds the epoll backend's disk helper: io_uring writes in the kernel")
    if binary_sanitizer() is not None:
        pytest.skip("stops a thread mid-work: not under a sanitizer")
    state = tmp_path / "state"
    b = start(broker, state, shards=1)
    old, _ = v5_session(b.port, "keeper")
    assert old.subscribe(("old/#", 1)) == [1]
    old.disconnect()
    tid = stopped_threads.thread_of(b.proc.pid, "shard0-disk")
    stopped_threads.stop(tid)
    try:
        # Resumed: already on disk, answered at once.
        again, present = resume(b.port, "keeper")
        assert present
        again.disconnect()
        # Nothing durable written (no session before, expiry 0): at once too.
        m.connected(b.port, "passing", V5).disconnect()
        # A clean start ends "keeper" and makes a new durable one: no CONNACK yet.
        fresh = m.RawClient(b.port, V5)
        fresh.send(m.connect("keeper", version=V5, clean=True,
                             properties=[(EXPIRY, 3600)]))
        fresh.send(m.pingreq())  # read only once CONNACK is out, and answered after it
        assert fresh.try_read_packet(1.0) is None, "CONNACK before its records were written"
    finally:
        stopped_threads.release(tid)
    ack = m.Connack(fresh.read_packet(5), V5)
    assert ack.code == 0 and not ack.session_present
    assert fresh.read_packet(5).type == m.PINGRESP
    kill(b)  # right after the CONNACK
    b = start(broker, state, shards=1)
    back, present = resume(b.port, "keeper")
    assert present  # the new session, made durable before its CONNACK
    pub = m.connected(b.port, "pub", V5)
    pub.publish_qos1("old/x", b"for the old session")
    assert drain(back) == []  # the old session's subscription is gone
