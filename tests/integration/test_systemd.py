"""systemd's notify protocol (issue 31), with a fake notify socket standing in for systemd:
READY=1 once every shard listens, RELOADING=1/READY=1 around SIGHUP, STOPPING=1 at
SIGTERM, and WATCHDOG=1 only while every shard turns — a shard stopped in its tracks
(ptrace on that one thread) stops the watchdog."""

import signal
import socket
import time

import mqtt_raw as m
import stopped_threads


class NotifySocket:
    """What systemd listens on: one datagram per sd_notify call."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.got = []

    def next(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            return None
        fields = dict(line.split("=", 1) for line in data.split("\n") if "=" in line)
        self.got.append(fields)
        return fields

    def until(self, key, timeout=10.0):
        """The first message carrying `key` within `timeout` (others are kept in got)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fields = self.next(max(0.01, deadline - time.monotonic()))
            if fields is not None and key in fields:
                return fields
        return None

    def count(self, key, seconds):
        """How many messages carrying `key` arrive in the next `seconds`."""
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            fields = self.next(max(0.01, deadline - time.monotonic()))
            if fields is not None and key in fields:
                n += 1
        return n


def start(broker, tmp_path, watchdog_usec=None, **kw):
    notify = NotifySocket(tmp_path / "notify.sock")
    env = {"NOTIFY_SOCKET": notify.path}
    if watchdog_usec is not None:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    return broker(env=env, **kw), notify


def test_ready_reload_and_stopping_are_told(broker, tmp_path):
    b, notify = start(broker, tmp_path)
    ready = notify.until("READY")
    assert ready is not None, b.log_text()[-2000:]
    assert ready["READY"] == "1" and ready["STATUS"] == "ready (shards: 2, listeners: 1)"
    # READY comes once the broker takes clients.
    c = m.connected(b.port, "after-ready", m.V5)
    b.proc.send_signal(signal.SIGHUP)
    reloading = notify.until("RELOADING")
    assert reloading is not None
    before = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
    assert 0 < int(reloading["MONOTONIC_USEC"]) <= before
    again = notify.until("READY")
    assert again is not None and again["STATUS"].startswith("ready")
    b.proc.send_signal(signal.SIGTERM)
    stopping = notify.until("STOPPING")
    assert stopping is not None and "draining" in stopping["STATUS"]
    assert m.Disconnect(c.read_packet(timeout=5)).reason == 0x8B
    c.close()
    assert b.stop() == 0
    assert not any("WATCHDOG" in f for f in notify.got)  # none asked for


def test_the_watchdog_is_fed_while_every_shard_turns_and_not_while_one_is_stuck(
        broker, tmp_path):
    b, notify = start(broker, tmp_path, watchdog_usec=400_000)  # checked every 200 ms
    assert notify.until("READY") is not None
    fed = notify.count("WATCHDOG", 2.0)
    assert 6 <= fed <= 14, f"{fed} WATCHDOG=1 in 2 s (every 200 ms expected)"
    # Stop shard 1's thread alone, as a stuck turn would (the process goes on).
    tid = stopped_threads.thread_of(b.proc.pid, "shard1")
    stopped_threads.stop(tid)
    try:
        notify.count("WATCHDOG", 0.5)  # at most the beat it had left
        assert notify.count("WATCHDOG", 1.5) == 0, "fed while shard 1 was stuck"
        b.wait_for_log(r"shard 1 has not turned for \d+ ms: the watchdog is no longer fed")
        assert b.alive()
    finally:
        stopped_threads.release(tid)
    assert notify.until("WATCHDOG", timeout=5) is not None
    b.wait_for_log(r"every shard turns again: the watchdog is fed")
    assert b.stop() == 0
