"""Revocation by jti through the admin API (Cloudflare's /revocations: POST, DELETE, GET
with ?jti=), authenticated with the admin token from state_dir (made 0600 on first
start), never an MQTT token: a revoked token's live connections on every shard get
DISCONNECT 0x98 (3.1.1: closed) at once, new CONNECTs with it get 0x86, it stays revoked
across a restart (state_dir/revocations.json, 0600), unrevoking lets it in again, and the
list is bounded (409 beyond). The admin API answers on loopback listeners only unless
admin.allow_remote."""

import json
import stat
import subprocess
import time

import pytest

import mqtt_raw as m
from conftest import free_ports
from mqtt_raw import V311, V5
from tokens import KeySet


def admin(port, method, path="/admin/revocations", query="", token=None):
    args = ["curl", "-sS", "-X", method, "-w", "\n%{http_code}"]
    if token is not None:
        args += ["-H", f"Authorization: Bearer {token}"]
    r = subprocess.run(args + [f"http://127.0.0.1:{port}{path}{query}"], capture_output=True,
                       text=True, timeout=15)
    body, _, code = r.stdout.rpartition("\n")
    return int(code), json.loads(body) if body.startswith("{") else body


class RevocationBroker:
    """A broker with an MQTT and an HTTP listener, token keys, and its own state_dir."""

    def __init__(self, broker, keys, state, extra=""):
        self.mqtt, self.http = free_ports(2)
        self.state = state
        self.b = broker(config="[auth]\nallow_anonymous = false\n" + extra + keys.config(),
                        default_args=False, wait_ports=[self.mqtt, self.http],
                        args=["--listen", f"mqtt://127.0.0.1:{self.mqtt}",
                              "--listen", f"http://127.0.0.1:{self.http}",
                              "--state-dir", str(state), "--shards", "2",
                              "--io", broker.backend, "--log-level", "debug"])
        self.token = (state / "admin.token").read_text().strip()

    def call(self, method, query=""):
        return admin(self.http, method, query=query, token=self.token)


def test_revocation_closes_live_holders_on_every_shard_and_survives_a_restart(
        broker, tmp_path, keys_dir):
    keys = KeySet(keys_dir)
    state = tmp_path / "state"
    rb = RevocationBroker(broker, keys, state)
    assert stat.S_IMODE((state / "admin.token").stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert rb.call("GET") == (200, {"success": True, "errors": [], "messages": [], "result": []})

    # One token (no sub: any client id) held by clients on both shards, and another one.
    shared = keys.token(jti="t1")
    holders = []
    shards = set()
    for i in range(8):
        c = m.connected(rb.mqtt, f"h{i}", V5 if i % 2 else V311, username=f"h{i}",
                        password=shared)
        holders.append(c)
        shards.add(rb.b.shard_of(f"h{i}"))
    assert shards == {0, 1}, "the holders should span both shards"
    other = m.connected(rb.mqtt, "o1", V5, password=keys.token(jti="t2"))

    start = time.monotonic()
    code, body = rb.call("POST", "?jti=t1")
    assert code == 200 and body["result"] == ["t1"], body
    for i, c in enumerate(holders):
        if c.version == V5:
            assert m.Disconnect(c.read_packet(timeout=1.0)).reason == 0x98
        assert c.expect_closed(1.0)
    assert time.monotonic() - start < 1.0 + 1.0  # the answer came after every shard applied
    other.ping()  # a client with another token stays
    m.RawClient(rb.mqtt, V5).connect("n1", expect_code=0x86, password=shared)
    m.RawClient(rb.mqtt, V311).connect("n2", expect_code=4, username="n2", password=shared)
    assert rb.call("GET")[1]["result"] == ["t1"]
    assert rb.call("POST", "?jti=t1&jti=t3")[1]["result"] == ["t3"]  # only what changed

    # Restart on the same state_dir: still revoked.
    c = rb.b.counters()
    assert c["auth_revoked_disconnects"] == 8, c
    assert c["auth_token_revoked"] == 2, c
    saved = state / "revocations.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text())["revoked"] == ["t1", "t3"]
    rb = RevocationBroker(broker, keys, state)
    m.RawClient(rb.mqtt, V5).connect("n3", expect_code=0x86, password=shared)
    assert rb.call("GET")[1]["result"] == ["t1", "t3"]
    # Unrevoked: in again, also after a restart.
    assert rb.call("DELETE", "?jti=t1")[1]["result"] == ["t1"]
    m.connected(rb.mqtt, "n4", V5, password=shared)
    rb.b.stop()
    rb = RevocationBroker(broker, keys, state)
    m.connected(rb.mqtt, "n5", V5, password=shared)
    assert rb.call("GET")[1]["result"] == ["t3"]


@pytest.fixture
def keys_dir(tmp_path):
    d = tmp_path / "keys"
    d.mkdir()
    return d


def test_admin_api_needs_its_own_token_and_is_bounded(broker, tmp_path, keys_dir):
    keys = KeySet(keys_dir)
    rb = RevocationBroker(broker, keys, tmp_path / "state", extra="max_revocations = 2\n")
    assert admin(rb.http, "GET")[0] == 401
    assert admin(rb.http, "GET", token=keys.token(sub="x"))[0] == 401  # an MQTT token
    code, body = admin(rb.http, "GET", token=rb.token + "x")
    assert code == 401 and body["success"] is False and body["errors"][0]["code"] == 10001
    assert rb.call("POST")[0] == 400                        # no jti
    assert rb.call("POST", "?jti=" + "x" * 300)[0] == 400    # too long
    assert rb.call("PUT")[0] == 405
    assert admin(rb.http, "GET", path="/admin/nothing", token=rb.token)[0] == 404
    assert rb.call("POST", "?jti=a&jti=b")[0] == 200
    code, body = rb.call("POST", "?jti=c")
    assert code == 409 and "full" in body["errors"][0]["message"], body
    assert rb.call("GET")[1]["result"] == ["a", "b"]
    assert rb.b.log_text().count(rb.token) == 0, "the admin token reached the log"


def test_admin_api_only_on_loopback_unless_allowed(broker, tmp_path, keys_dir):
    keys = KeySet(keys_dir)
    for allow, expected in (("false", 404), ("true", 200)):
        http, = free_ports(1)
        state = tmp_path / f"state-{allow}"
        b = broker(config=f"[admin]\nallow_remote = {allow}\n" + keys.config(),
                   default_args=False, wait_ports=[http],
                   args=["--listen", f"http://0.0.0.0:{http}", "--state-dir", str(state),
                         "--io", broker.backend])
        token = (state / "admin.token").read_text().strip()
        assert admin(http, "GET", token=token)[0] == expected
        b.stop()
