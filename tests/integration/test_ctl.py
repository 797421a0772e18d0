"""peregrine-ctl end to end: revoke / unrevoke / show-revocations against a running
broker's admin API (human output and --json, errors as exit status 1 and a message, bad
usage 2), a live connection closed by `revoke`, `passwd` writing a password file that
both Peregrine and Debian's Mosquitto accept, and --help for every verb."""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import mqtt_raw as m
from conftest import BINARY, free_ports
from mqtt_raw import V5
from tokens import KeySet

CTL = str(Path(BINARY).with_name("peregrine-ctl"))
VERBS = ["revoke", "unrevoke", "show-revocations", "passwd", "issue", "keys", "public-keys",
         "namespace", "broker"]


def ctl(*args, stdin=None, env=None):
    if not Path(CTL).exists():
        pytest.fail(f"{CTL} missing: build it (meson builds peregrine-ctl beside peregrine)")
    full_env = dict(os.environ)
    full_env.pop("PEREGRINE_ADMIN_URL", None)
    full_env.update(env or {})
    return subprocess.run([CTL, *args], input=stdin, capture_output=True, text=True,
                          timeout=30, env=full_env)


@pytest.fixture
def admin_broker(broker, tmp_path):
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    keys = KeySet(keys_dir)
    mqtt, http = free_ports(2)
    state = tmp_path / "state"
    b = broker(config="[auth]\nallow_anonymous = false\n" + keys.config(), default_args=False,
               wait_ports=[mqtt, http],
               args=["--listen", f"mqtt://127.0.0.1:{mqtt}", "--listen",
                     f"http://127.0.0.1:{http}", "--state-dir", str(state), "--io",
                     broker.backend, "--log-level", "debug"])
    return b, keys, mqtt, f"http://127.0.0.1:{http}", state


def test_revoke_unrevoke_and_show(admin_broker):
    b, keys, mqtt, url, state = admin_broker
    token_file = str(state / "admin.token")
    base = ["--url", url, "--token-file", token_file]
    live = m.connected(mqtt, "dev", V5, password=keys.token(sub="dev", jti="j1"))
    r = ctl(*base, "revoke", "--jti", "j1", "--jti", "j 2/x")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "revoked 2 tokens: j1 j 2/x"
    assert m.Disconnect(live.read_packet(timeout=2)).reason == 0x98
    r = ctl(*base, "revoke", "--jti", "j1")
    assert r.stdout.strip() == "revoked 0 tokens (1 already revoked)"
    assert ctl(*base, "show-revocations").stdout.split("\n")[:2] == ["j1", "j 2/x"]
    # The token file found through $STATE_DIRECTORY, as under systemd.
    r = ctl("--url", url, "--json", "show-revocations", env={"STATE_DIRECTORY": str(state)})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["result"] == ["j1", "j 2/x"]
    assert ctl(*base, "unrevoke", "--jti", "j1").stdout.strip() == "unrevoked 1 token: j1"
    m.connected(mqtt, "dev", V5, password=keys.token(sub="dev", jti="j1"))


def test_errors_and_usage(admin_broker, tmp_path):
    b, keys, mqtt, url, state = admin_broker
    bad = tmp_path / "bad.token"
    bad.write_text("not-the-admin-token\n")
    r = ctl("--url", url, "--token-file", str(bad), "show-revocations")
    assert r.returncode == 1 and "HTTP 401" in r.stderr, r.stderr
    r = ctl("--token-file", str(state / "admin.token"), "show-revocations")
    assert r.returncode == 2 and "--url" in r.stderr
    assert ctl("--url", url, "--token-file", str(state / "admin.token"), "revoke").returncode == 2
    assert ctl("frobnicate").returncode == 2
    r = ctl("--url", "http://127.0.0.1:1", "--token-file", str(state / "admin.token"),
            "show-revocations")
    assert r.returncode == 1 and "cannot connect" in r.stderr, r.stderr
    for verb in VERBS:
        r = ctl(verb, "--help")
        assert r.returncode == 0 and f"peregrine-ctl" in r.stdout and verb in r.stdout, verb
        assert ctl("help", verb).stdout == r.stdout
    assert ctl("--help").returncode == 0


def test_passwd_makes_a_file_both_brokers_accept(broker, tmp_path):
    path = tmp_path / "passwd"
    r = ctl("passwd", str(path), "carol", stdin="s3cret!\n")
    assert r.returncode == 0 and "added carol" in r.stdout, r.stderr
    assert ctl("passwd", str(path), "dave", stdin="other\n").returncode == 0
    assert ctl("passwd", str(path), "carol", stdin="changed\n").stdout.startswith("changed")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    lines = path.read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == ["carol", "dave"]
    assert all(line.split(":")[1].startswith("$7$101$") for line in lines)
    b = broker(config=f'[auth]\npassword_file = "{path}"\n')
    m.connected(b.port, "c1", V5, username="carol", password="changed")
    m.RawClient(b.port, V5).connect("c2", expect_code=0x86, username="carol", password="s3cret!")
    b.stop()
    # Debian's mosquitto reads the same file.
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port, = free_ports(1)
    conf = tmp_path / "mosquitto.conf"
    # user root: it stays the test's user, which can read the file (0600) in its directory.
    conf.write_text(f"user root\nlistener {port} 127.0.0.1\nallow_anonymous false\n"
                    f"password_file {path}\npersistence false\nlog_dest none\n")
    proc = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        c = None
        while c is None and time.monotonic() < deadline:
            try:
                c = m.RawClient(port, V5)
            except OSError:
                assert proc.poll() is None, "mosquitto exited at start"
                time.sleep(0.05)
        assert c is not None, "mosquitto did not listen"
        c.connect("c3", username="dave", password="other")
        # (Mosquitto 2.0.11 answers a wrong password with 0x87 Not authorized.)
        m.RawClient(port, V5).connect("c4", expect_code=0x87, username="dave", password="x")
    finally:
        proc.terminate()
        proc.wait(10)
    assert ctl("passwd", "-D", str(path), "dave").stdout.startswith("removed dave")
    assert [line.split(":")[0] for line in path.read_text().splitlines()] == ["carol"]
    assert ctl("passwd", "-D", str(path), "nobody").returncode == 1
