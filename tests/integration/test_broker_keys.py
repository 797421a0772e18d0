"""The broker's own signing keys and the credentials it issues, end to end on both io
backends: `peregrine-ctl keys create|list|delete`, `public-keys` and `issue`, tokens that
an independent verifier (Debian's python3-jwt) accepts with the published JWKS, used by
paho and mosquitto_pub with their topic claims enforced, Cloudflare's API shapes over curl,
a deleted key closing live connections on every shard (0x98) and refusing its tokens, and
keys (0600) that survive a restart — or stop the start when others could read them."""

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import jwt
import pytest

import mqtt_raw as m
from clients import PahoClient
from conftest import BINARY, free_ports
from mqtt_raw import V5, V311
from tokens import KeySet

CTL = str(Path(BINARY).with_name("peregrine-ctl"))


class KeysBroker:
    """Two shards, an MQTT and an HTTP listener, a configured key set, its own state_dir."""

    def __init__(self, broker, keys, state):
        self.mqtt, self.http = free_ports(2)
        self.state = state
        self.b = broker(config="[auth]\nallow_anonymous = false\n" + keys.config(),
                        default_args=False, wait_ports=[self.mqtt, self.http],
                        args=["--listen", f"mqtt://127.0.0.1:{self.mqtt}",
                              "--listen", f"http://127.0.0.1:{self.http}",
                              "--state-dir", str(state), "--shards", "2",
                              "--io", broker.backend, "--log-level", "debug"])
        self.url = f"http://127.0.0.1:{self.http}"

    def ctl(self, *args):
        env = dict(os.environ)
        env.pop("PEREGRINE_ADMIN_URL", None)
        r = subprocess.run([CTL, "--url", self.url, "--token-file",
                            str(self.state / "admin.token"), *args],
                           capture_output=True, text=True, timeout=30, env=env)
        return r

    def ok(self, *args):
        r = self.ctl(*args)
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout

    def curl(self, method, path):
        token = (self.state / "admin.token").read_text().strip()
        r = subprocess.run(["curl", "-sS", "-X", method, "-w", "\n%{http_code}", "-H",
                            f"Authorization: Bearer {token}", self.url + path],
                           capture_output=True, text=True, timeout=15)
        body, _, code = r.stdout.rpartition("\n")
        return int(code), json.loads(body)


@pytest.fixture
def keys(tmp_path):
    d = tmp_path / "keys"
    d.mkdir()
    return KeySet(d)


def issued(output):
    """`issue`'s human output: {client id: token}."""
    return dict(line.split(" ", 1) for line in output.strip().split("\n"))


def test_keys_issue_verify_and_use(broker, keys, tmp_path):
    kb = KeysBroker(broker, keys, tmp_path / "state")
    # No key of its own yet: issuing says what to do.
    r = kb.ctl("issue")
    assert r.returncode == 1 and "keys create" in r.stderr, r.stderr
    kid = kb.ok("keys", "create").split()[2]
    saved = kb.state / "signing-keys.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert [k["kid"] for k in json.loads(saved.read_text())["keys"]] == [kid]
    listing = kb.ok("keys", "list")
    assert f"{kid}  EdDSA  broker" in listing, listing
    assert "ed1" in listing and "config" in listing  # the configured keys, by kid only

    # Tokens verify with the published JWKS in an independent implementation.
    jwks = json.loads(kb.ok("public-keys"))
    assert [k["kid"] for k in jwks["keys"]] == [kid] and "d" not in jwks["keys"][0]
    tokens = issued(kb.ok("issue", "--number", "3", "--expiration", "1h",
                          "--topic-acl", "dev/#"))
    assert len(tokens) == 3
    public = jwt.PyJWK(jwks["keys"][0]).key
    for client_id, token in tokens.items():
        assert len(client_id) == 23 and client_id.isalnum() and client_id.isupper()
        claims = jwt.decode(token, public, algorithms=["EdDSA"])
        assert claims["sub"] == client_id and claims["topicAcl"] == "dev/#"
        assert 3590 <= claims["exp"] - time.time() <= 3600 and claims["jti"]
        assert jwt.get_unverified_header(token)["kid"] == kid

    # Used by real clients: the claims hold.
    client_id, token = next(iter(tokens.items()))
    sub = PahoClient(kb.mqtt, client_id, version=5, username=client_id, password=token)
    sub.subscribe("dev/#", qos=1)
    other_id, other_token = list(tokens.items())[1]
    r = subprocess.run(["mosquitto_pub", "-p", str(kb.mqtt), "-V", "mqttv5", "-i", other_id,
                        "-P", other_token, "-t", "dev/x", "-m", "hi", "-q", "1"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert sub.messages.get(timeout=5)[:2] == ("dev/x", b"hi")
    raw = m.connected(kb.mqtt, other_id, V5, password=other_token)
    assert raw.subscribe(("other/#", 0)) == [0x87]  # outside its topicAcl
    sub.close()

    # Given client ids, Peregrine's own pub/sub claims, and Cloudflare's answer shape.
    code, body = kb.curl("GET", "/admin/credentials?clientid=a1&clientid=a2&pub=up/a&sub=down/%23")
    assert code == 200 and body["success"] is True, body
    assert sorted(body["result"]) == ["a1", "a2"]
    a1 = m.connected(kb.mqtt, "a1", V5, password=body["result"]["a1"])
    assert a1.subscribe(("down/x", 0), ("up/a", 0)) == [0, 0x87]
    m.RawClient(kb.mqtt, V5).connect("a3", expect_code=0x87, password=body["result"]["a1"])
    r = kb.ctl("issue", "--client-id", "z", "--json")
    assert r.returncode == 0 and list(json.loads(r.stdout)["result"]) == ["z"]
    code, body = kb.curl("GET", "/admin/credentials?number=101")
    assert code == 400 and body["success"] is False and body["errors"][0]["code"] == 10021


def test_deleting_a_key_closes_its_holders_on_every_shard(broker, keys, tmp_path):
    kb = KeysBroker(broker, keys, tmp_path / "state")
    doomed = kb.ok("keys", "create").split()[2]
    kept = kb.ok("keys", "create").split()[2]
    holders = []
    shards = set()
    for client_id, token in issued(kb.ok("issue", "--kid", doomed, "--number", "8")).items():
        holders.append(m.connected(kb.mqtt, client_id, V5 if len(holders) % 2 else V311,
                                   username=client_id, password=token))
        shards.add(kb.b.shard_of(client_id))
    assert shards == {0, 1}, "the holders should span both shards"
    survivor_id, survivor_token = next(iter(issued(kb.ok("issue", "--kid", kept)).items()))
    survivor = m.connected(kb.mqtt, survivor_id, V5, password=survivor_token)
    # The newest key signs when none is named.
    newest = jwt.get_unverified_header(next(iter(issued(kb.ok("issue")).values())))["kid"]
    assert newest == kept

    start = time.monotonic()
    assert kb.ok("keys", "delete", doomed).startswith(f"deleted key {doomed}")
    for c in holders:
        if c.version == V5:
            assert m.Disconnect(c.read_packet(timeout=1.0)).reason == 0x98
        assert c.expect_closed(1.0)
    assert time.monotonic() - start < 2.0
    survivor.ping()
    token = issued(kb.ok("issue", "--kid", kept, "--client-id", "late")).get("late")
    m.connected(kb.mqtt, "late", V5, password=token)
    r = kb.ctl("keys", "delete", doomed)
    assert r.returncode == 1 and "HTTP 404" in r.stderr
    r = kb.ctl("keys", "delete", "ed1")
    assert r.returncode == 1 and "HTTP 409" in r.stderr and "config" in r.stderr
    saved = json.loads((kb.state / "signing-keys.json").read_text())
    assert [k["kid"] for k in saved["keys"]] == [kept]
    counters = kb.b.counters()
    assert counters["auth_revoked_disconnects"] == 8, counters


def test_keys_and_tokens_survive_a_restart(broker, keys, tmp_path):
    state = tmp_path / "state"
    kb = KeysBroker(broker, keys, state)
    kid = kb.ok("keys", "create").split()[2]
    (client_id, token), = issued(kb.ok("issue")).items()
    old_token = token
    deleted = kb.ok("keys", "create").split()[2]
    (gone_id, gone_token), = issued(kb.ok("issue", "--kid", deleted)).items()
    kb.ok("keys", "delete", deleted)
    kb.b.stop()

    kb = KeysBroker(broker, keys, state)
    m.connected(kb.mqtt, client_id, V5, password=old_token)
    m.RawClient(kb.mqtt, V5).connect(gone_id, expect_code=0x86, password=gone_token)
    m.RawClient(kb.mqtt, V311).connect(gone_id, expect_code=4, username=gone_id,
                                       password=gone_token)
    assert kid in kb.ok("keys", "list") and deleted not in kb.ok("keys", "list")
    kb.b.stop()

    # Private keys others can read stop the start, as ssh refuses them.
    (state / "signing-keys.json").chmod(0o644)
    mqtt, = free_ports(1)
    r = subprocess.run([BINARY, "--listen", f"mqtt://127.0.0.1:{mqtt}", "--state-dir",
                        str(state), "--io", broker.backend], capture_output=True, text=True,
                       timeout=10, input="")
    assert r.returncode != 0
    assert "readable by others" in r.stderr + r.stdout


def test_ctl_over_https_checks_the_broker_certificate(broker, certs, tmp_path):
    """The admin token goes only to a broker whose certificate chains to --ca-file and
    names the URL's host."""
    state = tmp_path / "state"
    port_a, port_b = free_ports(2)
    broker(default_args=False, wait_ports=[port_a],
           args=["--listen", f"https://127.0.0.1:{port_a}", "--tls-cert",
                 str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
                 "--state-dir", str(state), "--io", broker.backend])

    def ctl(url, ca):
        return subprocess.run([CTL, "--url", url, "--token-file", str(state / "admin.token"),
                               "--ca-file", str(ca), "keys", "create"],
                              capture_output=True, text=True, timeout=30)

    r = ctl(f"https://localhost:{port_a}", certs / "ca.pem")
    assert r.returncode == 0 and r.stdout.startswith("created key"), r.stderr
    r = ctl(f"https://127.0.0.1:{port_a}", certs / "ca.pem")
    assert r.returncode == 0, r.stderr
    r = ctl(f"https://localhost:{port_a}", certs / "other-ca.pem")
    assert r.returncode == 1 and "certificate verify failed" in r.stderr, r.stderr
    # The same broker certificate on an address it does not name.
    b = broker(default_args=False, wait_ports=[],
               args=["--listen", f"https://127.0.0.2:{port_b}", "--tls-cert",
                     str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
                     "--state-dir", str(tmp_path / "state-b"), "--io", broker.backend])
    b.wait_for_log(r"listening on https://127\.0\.0\.2", 10)
    r = ctl(f"https://127.0.0.2:{port_b}", certs / "ca.pem")
    assert r.returncode == 1 and "name mismatch" in r.stderr, r.stderr
    assert len(json.loads((state / "signing-keys.json").read_text())["keys"]) == 2
