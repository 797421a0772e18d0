"""SIGHUP reloads the whole configuration (issue 31): the ACL, limits, authentication, $SYS
and the log level change for live and new clients alike without dropping a connection; a
broken file keeps the running configuration and says FILE:LINE:COL; keys that need a
restart are named and keep their running values."""

import signal
import subprocess

import mqtt_raw as m
from mqtt_raw import V311, V5


def reload(b, config_text):
    """Writes the broker's config file anew, sends SIGHUP, waits for the outcome line."""
    since = b.log_pos()
    b.config_path.write_text(config_text)
    b.proc.send_signal(signal.SIGHUP)
    b.wait_for_log(r"SIGHUP: (configuration reloaded|.*keeping the running configuration)",
                   since=since)
    return b.log_text()[since:]


def test_acl_limits_and_log_level_change_under_live_connections(broker):
    from conftest import free_port
    port = free_port()
    # No --log-level flag: a flag would win over the file's log_level on every reload.
    b = broker(config="[limits]\nmax_packet_size = 100000\n", default_args=False,
               wait_ports=[port], args=["--listen", f"mqtt://127.0.0.1:{port}",
                                        "--shards", "2", "--io", broker.backend])
    b.port = port
    sub = m.connected(b.port, "watcher", V5)
    assert sub.subscribe("secret/#", "open/#") == [0, 0]
    pub = m.connected(b.port, "talker", V5)
    assert pub.publish_qos1("secret/a", b"before").reason == 0
    assert sub.next_message(timeout=5).payload == b"before"

    out = reload(b, '[limits]\nmax_packet_size = 200\n\n[[acl.deny]]\ntopic = "secret/#"\n'
                    'access = "readwrite"\n\n[sys]\ninterval_ms = 500\n')
    assert "configuration reloaded" in out, out
    # The same connections: the publisher is now refused on secret/#, open/# still flows.
    assert pub.publish_qos1("secret/b", b"after").reason == 0x87
    assert pub.publish_qos1("open/c", b"still").reason == 0
    got = sub.next_message(timeout=5)
    assert (got.topic, got.payload) == ("open/c", b"still")
    # New clients are told the new maximum packet size; a live one is held to it.
    fresh = m.RawClient(b.port, V5)
    assert fresh.connect("fresh").props.get(0x27) == 200
    pub.publish("open/big", b"x" * 300)
    assert m.Disconnect(pub.read_packet(timeout=5)).reason == 0x95
    # $SYS statistics now every 500 ms.
    spy = m.connected(b.port, "spy", V5)
    spy.subscribe("$SYS/broker/uptime")
    spy.next_message(timeout=5)
    spy.next_message(timeout=2)   # within 2 s: the new interval, not the default 10 s

    # A broken file: nothing changes, and it says where.
    out = reload(b, '[limits]\nmax_packet_size = "big"\n')
    assert "keeping the running configuration" in out
    assert "peregrine.toml:2:" in out, out
    assert sub.subscribe("secret/x") == [0x87]   # the ACL is still the reloaded one

    # A key that needs a restart: named, the rest applies; the log level goes to debug.
    out = reload(b, 'fsync = "always"\nlog_level = "debug"\n[limits]\nmax_packet_size = 200\n')
    assert "'fsync' changed: it takes effect at the next restart" in out, out
    since = b.log_pos()
    chatty = m.connected(b.port, "chatty", V5)
    chatty.send(b"\xf0\x00")   # a reserved packet type: bad input, logged at debug
    assert chatty.expect_closed(5)
    b.wait_for_log(r" debug .*bad input .*client_id=chatty", since=since)
    assert sub.subscribe("secret/y") == [0]   # no ACL in this file any more
    for c in (sub, fresh, spy):
        c.disconnect()
    assert b.stop() == 0


def test_password_file_and_anonymous_policy_reload(broker, tmp_path):
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(passwd), "alice", "wonderland"],
                   check=True)
    base = f'[auth]\npassword_file = "{passwd}"\nallow_anonymous = false\n'
    b = broker(config=base)
    alice = m.connected(b.port, "alice-1", V5, username="alice", password="wonderland")
    m.RawClient(b.port, V311).connect("anon", expect_code=4)  # no credentials: refused
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "bob", "builder"], check=True)
    subprocess.run(["mosquitto_passwd", "-D", str(passwd), "alice"], check=True)
    out = reload(b, base)   # the same file name, new contents
    assert "configuration reloaded" in out and "password file users: 1" in out, out
    m.connected(b.port, "bob-1", V5, username="bob", password="builder").disconnect()
    m.RawClient(b.port, V5).connect("alice-2", username="alice", password="wonderland",
                                    expect_code=0x86)   # removed from the file
    m.RawClient(b.port, V311).connect("anon-2", expect_code=4)
    out = reload(b, base.replace("allow_anonymous = false", "allow_anonymous = true"))
    assert "anonymous clients allowed" in out, out
    m.connected(b.port, "anon-3", V311).disconnect()    # anonymous allowed now
    assert alice.publish_qos1("t", b"alive").reason == 0  # her live session goes on
    assert b.stop() == 0


def test_listeners_open_and_close_on_reload_and_their_connections_stay(broker):
    from conftest import free_ports, port_accepts
    first, second = free_ports(2)
    b = broker(config=f'listen = ["mqtt://127.0.0.1:{first}"]\n', default_args=False,
               wait_ports=[first], args=["--shards", "2", "--io", broker.backend])
    live = m.connected(first, "on-first", V5)
    out = reload(b, f'listen = ["mqtt://127.0.0.1:{second}?max_connections=1"]\n')
    assert f"SIGHUP: listening on mqtt://127.0.0.1:{second}" in out, out
    assert f"no longer listening on mqtt://127.0.0.1:{first}" in out, out
    assert not port_accepts(first)    # closed on every shard
    on_second = m.connected(second, "on-second", V5)
    m.RawClient(second, V5).connect("on-second-2", expect_code=0x97)  # its own bound
    assert live.publish_qos1("t", b"still here").reason == 0  # accepted before: it stays
    # One that cannot open is skipped; the others keep going.
    out = reload(b, f'listen = ["mqtt://127.0.0.1:{second}?max_connections=1", '
                    f'"mqtt://203.0.113.1:{first}"]\n')
    assert "not opened" in out, out
    assert on_second.publish_qos1("t", b"fine").reason == 0
    assert b.stop() == 0
