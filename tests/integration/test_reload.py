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


def test_kept_listeners_take_new_transports_and_the_admin_token_rotates(broker, tmp_path):
    """A listener kept by a reload keeps its socket and its live clients, and takes the
    new scheme, [http] settings and admin reach for the connections it accepts next; the
    admin token file is read again and holds at once, on a kept-alive connection too;
    the key list, the issuer's claims and /status follow the new file."""
    import http.client
    import json

    import jwt

    import ws_raw
    from conftest import free_ports
    from tokens import KeySet

    mqtt_port, http_port = free_ports(2)
    token_file = tmp_path / "admin.token"
    token_file.write_text("first-admin-token-0123456789\n")
    token_file.chmod(0o600)
    keydir = tmp_path / "keys"
    keydir.mkdir()
    keys = KeySet(keydir)

    def config(scheme, token_path, body_limit, issuer, with_keys):
        return (f'listen = ["{scheme}://127.0.0.1:{mqtt_port}", '
                f'"http://127.0.0.1:{http_port}"]\n'
                f'[admin]\ntoken_file = "{token_path}"\n'
                f'[http]\nmax_body_bytes = {body_limit}\n'
                f'allowed_origins = ["https://app.example"]\n'
                f'[auth]\nallow_anonymous = true\n[auth.jwt]\nissuer = "{issuer}"\n'
                + (keys.config() if with_keys else ""))

    b = broker(config=config("mqtt", token_file, 1000, "first-issuer", True),
               default_args=False, wait_ports=[mqtt_port, http_port],
               args=["--shards", "2", "--io", broker.backend, "--state-dir",
                     str(tmp_path / "state")])
    live = m.connected(mqtt_port, "live-tcp", V5)
    web = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)

    def admin(method, path, token):
        web.request(method, path, headers={"Authorization": f"Bearer {token}"})
        response = web.getresponse()
        return response.status, response.read()

    status, body = admin("GET", "/admin/keys", "first-admin-token-0123456789")
    assert status == 200, body
    assert {k["kid"] for k in json.loads(body)["result"]} >= {"ed1", "ec1", "hs1"}
    assert admin("POST", "/admin/keys", "first-admin-token-0123456789")[0] == 200

    token_file.write_text("second-admin-token-0123456789\n")
    out = reload(b, config("ws", token_file, 10, "second-issuer", False))
    assert "configuration reloaded" in out, out
    assert "admin API token replaced" in out, out
    assert (f"listener mqtt://127.0.0.1:{mqtt_port} is now ws://127.0.0.1:{mqtt_port}"
            in out), out
    assert "changed: it takes effect at the next restart" not in out, out

    # The socket stayed: the client it accepted goes on; new ones must speak WebSocket.
    assert live.publish_qos1("t", b"still here").reason == 0
    over_ws = ws_raw.WsMqttClient(mqtt_port, V5)
    assert over_ws.connect("over-ws").code == 0
    over_ws.disconnect()
    # The same kept-alive HTTP connection: the old token is refused, the new one taken.
    assert admin("GET", "/admin/keys", "first-admin-token-0123456789")[0] == 401
    status, body = admin("GET", "/admin/keys", "second-admin-token-0123456789")
    assert status == 200, body
    listed = json.loads(body)["result"]
    assert [k["source"] for k in listed] == ["broker"], listed  # the configured ones gone
    # Issued tokens carry the new issuer, which the verifier now wants.
    status, body = admin("GET", "/admin/credentials?number=1",
                         "second-admin-token-0123456789")
    assert status == 200, body
    [(client_id, token)] = json.loads(body)["result"].items()
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "second-issuer"
    holder = ws_raw.WsMqttClient(mqtt_port, V5)
    assert holder.connect(client_id, password=token).code == 0  # a bad token is refused
    holder.disconnect()
    web.close()
    # New HTTP connections get the new [http] settings: a 10-byte body limit.
    fresh = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    fresh.request("POST", "/events?topic=t", body=b"x" * 100)
    assert fresh.getresponse().status == 413
    fresh.close()
    page = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    page.request("GET", "/status")
    html = page.getresponse().read().decode()
    assert f"ws://127.0.0.1:{mqtt_port}" in html and f"mqtt://127.0.0.1:{mqtt_port}" not in html
    page.close()
    live.disconnect()
    assert b.stop() == 0
