"""Command line, TOML config file, startup log lines, several listeners."""

import os
import re
from pathlib import Path

import pytest

import mqtt_raw as m
from conftest import REPO, free_port, free_ports, port_accepts, run_cli
from mqtt_raw import V311, V5

FLAGS = ["--config", "--listen", "--shards", "--io", "--log-level", "--tls-cert", "--tls-key",
         "--tls-ca", "--version", "--help"]


def io_name(backend):
    return {"uring": "io_uring", "epoll": "epoll"}[backend]


# --- flags that exit immediately (no listener, so these run once, not per backend) ------

def test_version_prints_name_and_version():
    r = run_cli("--version")
    assert r.returncode == 0, r.stderr
    # The name and version, then which wolfSSL the binary runs (test_tls_library.py).
    assert re.fullmatch(r"peregrine \d+\.\d+\.\d+\S*\ntls: wolfSSL [^\n]+\n?", r.stdout), \
        repr(r.stdout)
    meson = re.search(r"^\s*version\s*:\s*'([^']+)'", (REPO / "meson.build").read_text(),
                      re.MULTILINE)
    if meson:
        assert r.stdout.split()[1] == meson.group(1)


def test_help_lists_every_flag():
    r = run_cli("--help")
    assert r.returncode == 0, r.stderr
    missing = [f for f in FLAGS if f not in r.stdout]
    assert not missing, f"--help does not mention {missing}:\n{r.stdout}"


@pytest.mark.parametrize("args", [
    ["--bogus"],
    ["--shards", "abc"],
    ["--shards", "0"],
    ["--io", "kqueue"],
    ["--log-level", "loud"],
    ["--listen", "gopher://127.0.0.1:1883"],
    ["--listen", "mqtt://127.0.0.1:1883/path"],
    ["--listen", "mqtts://127.0.0.1:8883"],  # TLS without a certificate
    ["--listen", "mqtt://127.0.0.1:notaport"],
    ["--listen"],
    ["--config"],
    ["positional"],
], ids=lambda a: " ".join(a))
def test_bad_command_line_exits_2_with_a_message(args):
    r = run_cli(*args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip(), "no message on stderr"


# --- config errors: FILE:LINE:COL ----------------------------------------------------------

@pytest.mark.parametrize("text,line,col,word", [
    ("shards = 2\nio = \"epoll\"\nbogus = 1\n", 3, 1, "bogus"),
    ("[limits]\nmax_packet_size = 1024\nmax_packet_sise = 5\n", 3, 1, "max_packet_sise"),
    ("[limitz]\nmax_packet_size = 1024\n", 1, None, "limitz"),
    ("shards = \"two\"\n", 1, None, "shards"),
    ("listen = \"mqtt://127.0.0.1:1883\"\n", 1, None, "listen"),
    ("[limits]\nconnect_timeout_ms = \"soon\"\n", 2, None, "connect_timeout_ms"),
    ("log_level = 3\n", 1, None, "log_level"),
    ("shards = = 2\n", 1, None, None),  # TOML syntax error
], ids=["unknown-key", "unknown-limit", "unknown-table", "shards-string", "listen-string",
        "timeout-string", "log-level-int", "syntax"])
def test_config_errors_exit_2_naming_file_and_line(tmp_path, text, line, col, word):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    r = run_cli("--config", str(path))
    assert r.returncode == 2, (r.returncode, r.stderr)
    where = re.escape(str(path)) + f":{line}:" + (str(col) if col else r"\d+") + ":"
    found = re.search(where + r".*$", r.stderr, re.MULTILINE)
    assert found, f"no '{str(path)}:{line}:...' in stderr:\n{r.stderr}"
    if word:
        assert word in found.group(0), found.group(0)


def test_unknown_key_message_format(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text("shards = 2\n\nbogus = 1\n")
    r = run_cli("--config", str(path))
    assert r.returncode == 2
    assert f"{path}:3:1: unknown key 'bogus'" in r.stderr, r.stderr


def test_missing_config_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "nope.toml"
    r = run_cli("--config", str(path))
    assert r.returncode != 0
    assert str(path) in r.stderr, r.stderr


# --- running brokers --------------------------------------------------------------------------

def test_startup_log_names_backend_shards_and_listener(broker, io_backend):
    b = broker(shards=2)
    b.wait_for_log(r"\bio=%s\b" % io_name(io_backend))
    b.wait_for_log(r"\bshards=2\b")
    b.wait_for_log(r"listening on mqtt://127\.0\.0\.1:%d\b" % b.port)
    c = m.connected(b.port, "logme", V5)
    m_ = b.wait_for_log(r"client connected client_id=logme shard=([01]) protocol=5\b")
    assert m_
    c.disconnect()


def test_several_listeners_all_work(broker):
    b = broker(listeners=3)
    for p in b.ports:
        b.wait_for_log(r"listening on mqtt://127\.0\.0\.1:%d\b" % p)
    sub = m.connected(b.ports[0], "l-sub", V5)
    sub.subscribe("multi/#")
    for i, p in enumerate(b.ports):
        pub = m.connected(p, f"l-pub{i}", V311)
        pub.publish(f"multi/{i}", str(p).encode())
        msg = sub.next_message()
        assert (msg.topic, msg.payload) == (f"multi/{i}", str(p).encode())


def test_config_file_alone_configures_everything(broker, io_backend):
    p1, p2 = free_ports(2)
    config = (
        f'shards = 3\nio = "{io_backend}"\nlog_level = "debug"\n'
        f'listen = ["mqtt://127.0.0.1:{p1}", "mqtt://127.0.0.1:{p2}"]\n'
        '[limits]\nmax_packet_size = 2048\nconnect_timeout_ms = 5000\n'
        "outbound_buffer_bytes = 1048576\n")
    b = broker(config=config, default_args=False, wait_ports=[p1, p2])
    b.wait_for_log(r"\bio=%s\b" % io_name(io_backend))
    b.wait_for_log(r"\bshards=3\b")
    for p in (p1, p2):
        b.wait_for_log(r"listening on mqtt://127\.0\.0\.1:%d\b" % p)
    # Three shards: some client id lands on shard 2.
    seen = set()
    clients = []
    for i in range(40):
        pos = b.log_pos()
        clients.append(m.connected(p1 if i % 2 else p2, f"three{i}", V311))
        seen.add(b.shard_of(f"three{i}", since=pos))
        if seen == {0, 1, 2}:
            break
    assert seen == {0, 1, 2}, seen
    # The max_packet_size from the file applies.
    c = m.connected(p1, "cfg-mps", V5)
    c.send(b"\x30" + m.varint(4096))
    assert m.Disconnect(c.read_packet()).reason == 0x95


def test_command_line_overrides_config(broker, io_backend):
    cfg_port = free_port()
    other_io = "epoll" if io_backend == "uring" else "uring"
    config = (f'shards = 3\nio = "{other_io}"\nlog_level = "error"\n'
              f'listen = ["mqtt://127.0.0.1:{cfg_port}"]\n')
    b = broker(config=config, shards=2, log_level="info")
    b.wait_for_log(r"\bshards=2\b")
    b.wait_for_log(r"\bio=%s\b" % io_name(io_backend))
    assert not re.search(r"\bshards=3\b", b.log_text())
    # --listen replaces the config's listeners.
    assert not port_accepts(cfg_port)
    # log level info from the command line: connections are logged.
    c = m.connected(b.port, "override", V311)
    b.wait_for_log(r"client connected client_id=override\b")
    c.disconnect()


@pytest.mark.parametrize("level", ["warn", "error", "off"])
def test_quiet_log_levels_do_not_log_connections(broker, level):
    b = broker(log_level=level)
    c = m.connected(b.port, "quiet", V311)
    c.subscribe("q")  # a round trip after CONNECT: the line would be written by now
    c.disconnect()
    loud = broker(log_level="info")
    d = m.connected(loud.port, "loud", V311)
    loud.wait_for_log(r"client connected client_id=loud\b")
    d.disconnect()
    assert "client connected" not in b.log_text()
    assert "listening on" not in b.log_text()


def cpu_list(text):
    cpus = set()
    for part in text.strip().split(","):
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def broker_thread_cpus(pid):
    """{thread name: [CPUs each thread of that name may run on]} for the broker's own
    threads (io_uring's iou-* workers aside)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            status = (task / "status").read_text()
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        if comm.startswith("iou-"):
            continue
        line = next(l for l in status.splitlines() if l.startswith("Cpus_allowed_list:"))
        found.setdefault(comm, []).append(cpu_list(line.split(":", 1)[1]))
    return found


def test_shards_float_unless_pin_shards_is_set(broker):
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        pytest.skip("needs two CPUs to tell pinned shards from free ones")
    free = broker(shards=2)
    free.wait_for_log(r"running: io=\S+ shards=2$")
    assert all(cpus == allowed
               for sets in broker_thread_cpus(free.proc.pid).values() for cpus in sets)
    pinned = broker(shards=2, config="pin_shards = true\n")
    pinned.wait_for_log(r"running: io=\S+ shards=2 pinned$")
    threads = broker_thread_cpus(pinned.proc.pid)
    singles = [threads["shard0"][0], threads["shard1"][0]]
    assert all(len(cpus) == 1 for cpus in singles), threads
    assert singles[0] != singles[1] and set().union(*singles) <= allowed
    # Everything else (main, the epoll backend's disk helpers, the state writer) floats.
    others = [cpus for name, sets in threads.items() if not name.startswith("shard")
              for cpus in sets]
    assert others and all(cpus == allowed for cpus in others), threads


def test_json_logs_are_one_object_per_line_with_client_and_peer(broker):
    """log_format = "json": every line the broker writes parses as JSON, with time, level,
    shard and event, and a client's lines carry its client id and peer address."""
    import json
    b = broker(config='log_format = "json"\n')
    c = m.connected(b.port, "json-logger", m.V5)
    c.disconnect()
    assert b.stop() == 0
    lines = [json.loads(line) for line in b.log_text().splitlines() if line.strip()]
    assert len(lines) > 5
    for line in lines:
        assert {"time", "level", "shard", "event", "msg"} <= set(line), line
        assert line["level"] in ("trace", "debug", "info", "warn", "error")
    connected = [l for l in lines if l["event"] == "client connected"]
    assert connected and connected[0]["client_id"] == "json-logger"
    assert connected[0]["peer"].startswith("127.0.0.1:")
    assert isinstance(connected[0]["shard"], int)
    assert any(l["event"] == "counters" or l["msg"].startswith("counters:") for l in lines)
