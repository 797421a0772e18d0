"""Durable retained messages (issue 30, its first part), on both io backends: what was
acknowledged survives kill -9 and a clean restart, clears stay cleared, expiry keeps
counting across the restart, persistence = false forgets; a damaged segment does not stop
the start; a full disk refuses retained QoS 1 (PUBACK 0x97) while plain messages flow,
and recovers by itself; a state_dir of another shard count, or one the broker cannot
write, stops the start with a message that says what to do."""

import os
import signal
import subprocess
import time
from pathlib import Path

import mqtt_raw as m
from conftest import free_ports
from mqtt_raw import V5, V311

EXPIRY = m.MESSAGE_EXPIRY_INTERVAL


def start(broker, state, *, shards=2, config=None, port=None, wait=True, expect_exit=0):
    port = port or free_ports(1)[0]
    b = broker(config=config, default_args=False, wait_ports=[port] if wait else [],
               expect_exit=expect_exit,
               args=["--listen", f"mqtt://127.0.0.1:{port}", "--state-dir", str(state),
                     "--shards", str(shards), "--io", broker.backend, "--log-level", "debug"])
    b.port = port
    return b


def retained(port, filt="#", quiet_s=0.5):
    """{topic: (payload, props)} of the retained messages a new subscriber gets."""
    c = m.connected(port, "", V5)
    c.subscribe((filt, 0))
    out = {}
    while True:
        try:
            msg = c.next_message(timeout=quiet_s)
        except (TimeoutError, AssertionError, OSError):
            break
        assert msg.retain
        out[msg.topic] = (msg.payload, msg.props)
    c.close()
    return out


def test_acknowledged_retained_survive_kill_and_restart(broker, tmp_path):
    state = tmp_path / "state"
    b = start(broker, state)
    pub = m.connected(b.port, "pub", V5)
    for i in range(200):
        assert pub.publish_qos1(f"r/{i}", f"v{i}", retain=True).reason == 0
    assert pub.publish_qos1("r/7", b"", retain=True).reason == 0  # cleared
    assert pub.publish_qos1("exp/short", "s", retain=True,
                            properties=[(EXPIRY, 2)]).reason == 0
    assert pub.publish_qos1("exp/long", "l", retain=True,
                            properties=[(EXPIRY, 3600)]).reason == 0
    v3 = m.connected(b.port, "v3", V311)
    v3.publish("r/v3", "qos0", retain=True)  # QoS 0: no answer to wait for
    v3.ping()
    time.sleep(0.2)  # the QoS 0 one's write: not waited for by any acknowledgement
    b.expect_exit = -signal.SIGKILL
    os.kill(b.proc.pid, signal.SIGKILL)
    b.proc.wait()
    time.sleep(2.1)  # exp/short's 2 s run out across the restart

    b = start(broker, state)
    got = retained(b.port)
    assert sorted(t for t in got if t.startswith("r/")) == sorted(
        [f"r/{i}" for i in range(200) if i != 7] + ["r/v3"])
    assert got["r/42"][0] == b"v42"
    assert "exp/short" not in got
    assert 3590 <= got["exp/long"][1][EXPIRY] <= 3600
    # A clean restart the same.
    b.stop()
    b = start(broker, state)
    assert len(retained(b.port, "r/#")) == 200
    counters = b.counters()
    assert counters["retained_restored"] >= 200, counters


def test_persistence_off_forgets(broker, tmp_path):
    state = tmp_path / "state"
    b = start(broker, state, config="persistence = false\n")
    pub = m.connected(b.port, "pub", V5)
    assert pub.publish_qos1("gone", "x", retain=True).reason == 0
    b.stop()
    assert not (state / "shard-0").exists()
    b = start(broker, state, config="persistence = false\n")
    assert retained(b.port) == {}


def test_fsync_always_and_a_damaged_segment(broker, tmp_path):
    state = tmp_path / "state"
    b = start(broker, state, shards=1, config='fsync = "always"\n')
    pub = m.connected(b.port, "pub", V5)
    for i in range(20):
        assert pub.publish_qos1(f"d/{i:02}", "x" * 100, retain=True).reason == 0
    b.stop()
    # A flipped byte in the middle of the segment: the broker starts, keeps what came
    # before, and moves the rest aside.
    segment = sorted((state / "shard-0").glob("*.log"))[0]
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0x40
    segment.write_bytes(bytes(data))
    b = start(broker, state, shards=1)
    got = retained(b.port)
    assert 0 < len(got) < 20
    assert sorted(got) == [f"d/{i:02}" for i in range(len(got))]  # a prefix, in order
    assert list((state / "shard-0").glob("*.damaged"))
    assert "log repaired" in b.log_text()
    # And the log goes on from there.
    m.connected(b.port, "p2", V5).publish_qos1("d/new", "n", retain=True)
    b.stop()
    b = start(broker, state, shards=1)
    assert "d/new" in retained(b.port)


def test_a_full_disk_refuses_retained_and_recovers(broker, tmp_path):
    """A file-size limit on the running broker stands in for a full disk."""
    state = tmp_path / "state"
    b = start(broker, state, shards=1)
    pub = m.connected(b.port, "pub", V5)
    sub = m.connected(b.port, "sub", V5)
    sub.subscribe(("live/#", 0))
    assert pub.publish_qos1("before", "b", retain=True).reason == 0
    subprocess.run(["prlimit", f"--pid={b.proc.pid}", "--fsize=4096:"], check=True)
    refused = pub.publish_qos1("big", "y" * 8000, retain=True)
    assert refused.reason == 0x97, refused
    assert "big" not in retained(b.port, "big")  # taken back, not just left unwritten
    pub.publish("live/x", "flows")  # plain messages are not refused
    assert sub.next_message(timeout=5).payload == b"flows"
    assert pub.publish_qos1("more", "z" * 8000, retain=True).reason == 0x97
    subprocess.run(["prlimit", f"--pid={b.proc.pid}", "--fsize=unlimited:"], check=True)
    # Recovered within the retry second.
    deadline = time.monotonic() + 5
    while pub.publish_qos1("after", "a", retain=True).reason != 0:
        assert time.monotonic() < deadline, "the log did not recover"
        time.sleep(0.2)
    log = b.log_text()
    assert log.count("log write failed") == 1, "logged once an episode"
    assert "log writes succeed again" in log
    b.stop()
    b = start(broker, state, shards=1)
    got = retained(b.port)
    assert "before" in got and "after" in got
    assert "big" not in got and "more" not in got  # refused: never replayed


def test_another_shard_count_moves_the_logs(broker, tmp_path):
    """Each retained topic lives in its owner shard's log; started with another shard
    count, the broker moves every record to its new owner first."""
    import json
    state = tmp_path / "state"
    b = start(broker, state, shards=2)
    pub = m.connected(b.port, "pub", V5)
    for i in range(60):
        assert pub.publish_qos1(f"s/{i}", f"v{i}", retain=True).reason == 0
    assert pub.publish_qos1("s/5", b"", retain=True).reason == 0  # a clear moves too
    b.stop()
    expected = {f"s/{i}": f"v{i}".encode() for i in range(60) if i != 5}
    for shards in (3, 1, 2):
        b = start(broker, state, shards=shards)
        assert {t: p for t, (p, _) in retained(b.port).items()} == expected, shards
        assert "moved to %d" % shards in b.log_text()
        assert json.loads((state / "layout.json").read_text())["shards"] == shards
        assert sorted(p.name for p in state.glob("shard-*")) == [
            f"shard-{k}" for k in range(shards)]
        assert not (state / "redistribute").exists()
        b.stop()


def test_an_interrupted_move_is_finished_or_undone(broker, tmp_path):
    state = tmp_path / "state"
    b = start(broker, state, shards=2)
    pub = m.connected(b.port, "pub", V5)
    for i in range(20):
        pub.publish_qos1(f"i/{i}", f"v{i}", retain=True)
    b.stop()
    # A move a crash interrupted before it was done: its work is dropped, the old logs
    # stand, and the start moves them again.
    work = state / "redistribute" / "shard-0"
    work.mkdir(parents=True)
    (work / "0000000000000001.log").write_bytes(b"partial")
    b = start(broker, state, shards=3)
    assert len(retained(b.port)) == 20
    b.stop()


def test_a_state_dir_it_cannot_use_stops_the_start(broker, tmp_path):
    # A file where a shard's directory should be.
    other = tmp_path / "other"
    other.mkdir()
    (other / "shard-0").write_text("not a directory")
    b = start(broker, other, shards=1, wait=False, expect_exit=1)
    assert b.proc.wait(timeout=10) == 1
    assert "cannot make files there" in b.log_text() or "shard-0" in b.log_text()


def test_compaction_keeps_the_log_bounded_by_live_state(broker, tmp_path):
    state = tmp_path / "state"
    config = "log_compact_bytes = 65536\n"
    b = start(broker, state, shards=1, config=config)
    pub = m.connected(b.port, "pub", V5)
    for i in range(3000):
        assert pub.publish_qos1(f"c/{i % 10}", f"value-{i}", retain=True).reason == 0
    # Written: ~3000 records of ~40 bytes; live: 10 of them.
    deadline = time.monotonic() + 5
    while "snapshot" not in b.log_text():
        assert time.monotonic() < deadline, "no snapshot"
        time.sleep(0.1)
    files = sorted(p.name for p in (state / "shard-0").iterdir())
    assert any(f.endswith(".snap") for f in files), files
    total = sum((state / "shard-0" / f).stat().st_size for f in files)
    assert total < 3 * 65536, (total, files)
    b.expect_exit = -signal.SIGKILL
    os.kill(b.proc.pid, signal.SIGKILL)
    b.proc.wait()
    b = start(broker, state, shards=1, config=config)
    got = retained(b.port)
    assert {t: p for t, (p, _) in got.items()} == {
        f"c/{k}": f"value-{2990 + k}".encode() for k in range(10)}


def test_sys_topics_are_not_kept(broker, tmp_path):
    """$SYS/ retained messages are the running process's own: a restart must not bring
    back the last one's uptime or counters."""
    state = tmp_path / "state"
    config = "[sys]\ninterval_ms = 100\n"
    b = start(broker, state, shards=1, config=config)
    c = m.connected(b.port, "s", V5)
    c.subscribe(("$SYS/broker/uptime", 0))
    c.next_message(timeout=5)
    b.stop()
    b = start(broker, state, shards=1, config="[sys]\ninterval_ms = 0\nevents = false\n")
    assert not any(t.startswith("$SYS/broker/uptime") for t in retained(b.port, "$SYS/#"))
    assert b.counters()["retained_restored"] == 0


def test_one_process_per_state_dir(broker, tmp_path):
    """A second broker on the same state_dir would write the same logs: refused, naming
    the first; the lock goes with the first process, kill -9 included."""
    state = tmp_path / "state"
    first = start(broker, state, shards=1)
    second = start(broker, state, shards=1, wait=False, expect_exit=1)
    assert second.proc.wait(timeout=10) == 1
    assert f"in use by another peregrine (pid {first.proc.pid})" in second.log_text()
    first.expect_exit = -signal.SIGKILL
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    start(broker, state, shards=1)  # starts: the lock died with its holder
