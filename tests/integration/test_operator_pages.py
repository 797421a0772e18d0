"""The operator's pages on an HTTP listener (issue 31): /metrics in Prometheus' text format
(checked by Debian's promtool) with every counter the broker keeps and the gauges;
/readyz answering 503 while the broker drains; /status rendered by headless Chromium."""

import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import paho.mqtt.client as paho
import pytest

import mqtt_raw as m
from conftest import port_accepts, start_transport_broker

def get(port, path, timeout=10):
    """(status, content type, body) of GET `path`."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def get_while_draining(port, path):
    """GET during a drain: a shard that has nothing to drain closes its page listener at
    once, which resets a connection still in that listener's accept queue; a client (a
    load balancer's probe) tries again and reaches a shard still draining."""
    for _ in range(20):
        try:
            return get(port, path)
        except (ConnectionError, urllib.error.URLError):
            time.sleep(0.05)
    return get(port, path)


def wait_until_ready(port, timeout=10.0):
    """/readyz answers 503 "recovering" until every shard has replayed its log."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = get(port, "/readyz")
        if status == 200 or time.monotonic() > deadline:
            return status, body
        assert (status, body) == (503, '{"status":"recovering"}')
        time.sleep(0.02)


def samples(text):
    """{metric name: {labels text: value}} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-z0-9_]+)(\{[^}]*\})? (\S+)", line)
        assert match, f"not a sample line: {line!r}"
        out.setdefault(match[1], {})[match[2] or ""] = float(match[3])
    return out


def total(found, name):
    return sum(found[name].values())


def promtool_check(text):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool missing: run tools/bootstrap (Debian's prometheus)", pytrace=False)
    checked = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                             capture_output=True, timeout=30)
    return checked.returncode, (checked.stdout + checked.stderr).decode()


def test_metrics_pass_promtool_and_count_what_happened(broker):
    b, ports = start_transport_broker(broker, None, ["mqtt", "http"])
    assert wait_until_ready(ports["http"]) == (200, '{"status":"ready"}')
    # An independent client subscribes (paho), Debian's mosquitto_pub publishes.
    sub = paho.Client(client_id="metrics-sub", protocol=paho.MQTTv311, clean_session=False)
    sub.connect("127.0.0.1", ports["mqtt"])
    sub.loop_start()
    try:
        assert sub.subscribe("metrics/#", qos=1)[0] == paho.MQTT_ERR_SUCCESS
        time.sleep(0.5)  # its SUBACK
        for i in range(5):
            subprocess.run(["mosquitto_pub", "-p", str(ports["mqtt"]), "-q", "1",
                            "-t", f"metrics/{i}", "-m", "x" * 10], check=True, timeout=10)
        subprocess.run(["mosquitto_pub", "-p", str(ports["mqtt"]), "-r", "-t", "metrics/kept",
                        "-m", "kept"], check=True, timeout=10)
        status, content_type, text = get(ports["http"], "/metrics")
        assert status == 200
        assert content_type == "text/plain; version=0.0.4; charset=utf-8"
        rc, out = promtool_check(text)
        assert rc == 0 and out.strip() == "", out
        found = samples(text)
        assert total(found, "peregrine_messages_in_total") >= 6
        assert total(found, "peregrine_messages_out_total") >= 6
        assert total(found, "peregrine_retained_messages") == 1
        assert total(found, "peregrine_retained_bytes") == len("metrics/kept") + len("kept")
        assert total(found, "peregrine_clients_connected") == 1
        assert total(found, "peregrine_subscriptions") == 1
        assert total(found, "peregrine_sessions") == 1
        assert set(found["peregrine_connections"]) == {'{shard="0"}', '{shard="1"}'}
        assert found["peregrine_shards"][""] == 2
        assert found["peregrine_ready"][""] == 1
        (build,) = found["peregrine_build_info"]
        backend = "io_uring" if b.backend == "uring" else "epoll"
        assert 'version="' in build and f'io="{backend}"' in build, build
    finally:
        sub.loop_stop()
        sub.disconnect()
    # Every counter of the shutdown line is exported (the rejected_<reason> ones as
    # peregrine_rejected_total{reason=...}).
    counters = b.counters()
    names = {name for name in counters if not name.startswith("rejected_")}
    missing = {name for name in names if f"peregrine_{name}_total" not in found}
    assert not missing and len(names) > 50, missing


def test_readyz_is_503_while_draining_and_the_port_closes_after(broker):
    b, ports = start_transport_broker(broker, None, ["mqtt", "http"],
                                      config="drain_timeout_ms = 20000\n")
    assert wait_until_ready(ports["http"]) == (200, '{"status":"ready"}')
    assert get(ports["http"], "/healthz")[0] == 200
    stay = m.connected(ports["mqtt"], "stays", m.V5)   # reads its DISCONNECT only later
    try:
        b.proc.send_signal(signal.SIGTERM)
        b.wait_for_log(r"SIGTERM: shutting down")
        # The shard holding `stays` drains it (up to drain_timeout_ms) and keeps its page
        # listener open meanwhile; a shard with nothing to drain has closed its own. The
        # log line comes as main asks the shards to stop: one that has not turned since
        # still says ready (seen under ThreadSanitizer), never anything else.
        deadline = time.monotonic() + 5
        while True:
            status, _, body = get_while_draining(ports["http"], "/readyz")
            if (status, body) == (503, '{"status":"draining"}'):
                break
            assert (status, body) == (200, '{"status":"ready"}'), (status, body)
            assert time.monotonic() < deadline, "still ready 5 s after SIGTERM"
            time.sleep(0.02)
        status, _, body = get_while_draining(ports["http"], "/metrics")
        assert status == 503 and "draining" in body
        for _ in range(20):  # again after a reset, as above
            posted = subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "x",
                 f"http://127.0.0.1:{ports['http']}/events?topic=t"],
                capture_output=True, text=True, timeout=30)
            if posted.returncode == 0:
                break
            time.sleep(0.05)
        assert posted.stdout == "503", posted
        assert m.Disconnect(stay.read_packet(timeout=5)).reason == 0x8B
    finally:
        stay.close()
    assert b.proc.wait(10) == 0   # the drain ended with its last client, not its timeout
    assert not port_accepts(ports["http"])


def test_status_page_renders_its_figures_in_chromium(broker, tmp_path):
    b, ports = start_transport_broker(broker, None, ["mqtt", "http"])
    clients = [m.connected(ports["mqtt"], f"status-{i}", m.V5) for i in range(3)]
    for c in clients:
        c.publish("status/t", b"hello")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium missing: run tools/bootstrap", pytrace=False)
    url = f"http://127.0.0.1:{ports['http']}/status"
    common = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(common + ["--dump-dom", url], capture_output=True, timeout=90).stdout.decode()
    assert re.search(r'id="clients">3<', dom), dom[:2000]
    assert re.search(r'id="shards">2<', dom), dom[:2000]
    assert re.search(r'id="messages_in">[0-9.]+/s<', dom), dom[:2000]
    assert '<p id="state" class="ok">ready</p>' in dom
    assert f"<li>http://127.0.0.1:{ports['http']}</li>" in dom
    shot = tmp_path / "status.png"
    subprocess.run(common + ["--window-size=900,900", f"--screenshot={shot}", url],
                   capture_output=True, timeout=90)
    from PIL import Image
    image = Image.open(shot).convert("RGB")
    pixels = list(image.getdata())
    dark = sum(1 for r, g, bl in pixels if r + g + bl < 200)
    ready_green = sum(1 for px in pixels if abs(px[0] - 0x17) < 40 and abs(px[1] - 0x6b) < 40
                      and abs(px[2] - 0x2c) < 40)
    # Text drawn (the figures and their labels) and the "ready" line in its green.
    assert dark > 2000, f"{dark} dark pixels: the page did not render"
    assert ready_green > 30, f"{ready_green} green pixels: no ready state drawn"
    for c in clients:
        c.close()


def test_queued_and_inflight_gauges(broker):
    """A v5 subscriber with a receive window of 2 that never acknowledges: of 5 QoS 1
    messages 2 are in flight and 3 queued, each with its bytes; an acknowledgement moves
    one from the queue into flight."""
    b, ports = start_transport_broker(broker, None, ["mqtt", "http"])
    assert wait_until_ready(ports["http"]) == (200, '{"status":"ready"}')
    slow = m.RawClient(ports["mqtt"], m.V5)
    slow.connect("slow-reader", properties=[(0x21, 2)])  # Receive Maximum 2
    assert slow.subscribe(("gauges/#", 1)) == [1]
    pub = m.connected(ports["mqtt"], "gauge-pub", m.V5)
    for i in range(5):
        assert pub.publish_qos1(f"gauges/{i}", b"p" * 100).reason == 0
    first = slow.next_message()
    slow.next_message()

    def gauges():
        found = samples(get(ports["http"], "/metrics")[2])
        return {name: total(found, f"peregrine_{name}")
                for name in ("queued_messages", "queued_bytes", "inflight_messages",
                             "inflight_bytes", "held_messages", "mailbox_depth")}

    held = len("gauges/0") + 100
    g = gauges()
    assert (g["inflight_messages"], g["queued_messages"], g["held_messages"]) == (2, 3, 5), g
    assert (g["inflight_bytes"], g["queued_bytes"]) == (2 * held, 3 * held), g
    slow.send_ack(m.PUBACK, first.packet_id)
    slow.next_message()   # the next one leaves the queue
    g = gauges()
    assert (g["inflight_messages"], g["queued_messages"]) == (2, 2), g
    pub.disconnect()
    slow.disconnect()
    assert b.stop() == 0


def fill_retained(port, count):
    """`count` retained QoS 0 messages on distinct topics, sent in one stream (3.1.1)."""
    import socket as socket_module
    sock = socket_module.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(m.connect("filler", version=m.V311))
    assert sock.recv(4)[0] >> 4 == m.CONNACK
    sock.sendall(b"".join(m.publish(f"kept/{i}", b"v", m.V311, retain=True)
                          for i in range(count)))
    sock.sendall(m.disconnect())
    sock.settimeout(30)
    while sock.recv(65536):
        pass
    sock.close()


def test_readyz_is_503_while_a_shard_recovers(broker, tmp_path):
    """Restarted on a state with retained messages, with shard 1's thread stopped (ptrace)
    before it has recovered: shard 0's page listener answers 503 "recovering", no MQTT
    client is admitted, and once shard 1 goes on every page says ready and the retained
    messages are back. A stop that comes too late (shard 1 already replayed) is retried
    on a new start; it is never taken as a pass."""
    import os
    import socket as socket_module
    from conftest import binary_sanitizer, free_ports
    import stopped_threads

    if binary_sanitizer() is not None:
        # A thread stopped mid-replay can hold the sanitizer runtime's own locks (its
        # allocator's, under ASan too: seen in CI), which the other shard then waits for:
        # the stop would test the runtime, not the broker.
        pytest.skip("stops a shard mid-work: not under a sanitizer")

    mqtt_port, http_port = free_ports(2)
    args = ["--listen", f"mqtt://127.0.0.1:{mqtt_port}", "--listen",
            f"http://127.0.0.1:{http_port}", "--shards", "2", "--io", broker.backend,
            "--state-dir", str(tmp_path / "state")]
    count = 200_000
    b = broker(default_args=False, wait_ports=[mqtt_port, http_port], args=args)
    fill_retained(mqtt_port, count)
    deadline = time.monotonic() + 30
    while total(samples(get(http_port, "/metrics")[2]), "peregrine_retained_messages") < count:
        assert time.monotonic() < deadline, "the retained messages were not all stored"
        time.sleep(0.1)
    assert b.stop() == 0

    ring_kind = "anon_inode:[io_uring]" if broker.backend == "uring" else "anon_inode:[eventpoll]"

    def rings(pid):
        found = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                found += os.readlink(f"/proc/{pid}/fd/{fd}") == ring_kind
            except OSError:
                pass
        return found

    def stop_shard1(pid, within=10.0):
        # Not before both shards' rings exist: they wait for each other's there, and a
        # shard 0 held at that barrier could not answer either.
        deadline = time.monotonic() + within
        while rings(pid) < 2:
            assert time.monotonic() < deadline, "the shards' rings were not made"
        tid = stopped_threads.thread_of(pid, "shard1", within=deadline - time.monotonic())
        stopped_threads.stop(tid)
        return tid

    def readyz_once():
        try:
            status, _, body = get(http_port, "/readyz", timeout=0.3)
            return status, body
        except (OSError, urllib.error.URLError):
            return None   # landed on shard 1's socket, which is stopped

    for attempt in range(5):
        b = broker(default_args=False, wait_ports=[], args=args)
        tid = stop_shard1(b.proc.pid)
        late = False
        try:
            caught_early = "[shard1] log " not in b.log_text()
            # Shard 0 answers once its own replay is done (a request meanwhile waits in
            # its listener's backlog); shard 1's never while it is stopped.
            seen = []
            until = time.monotonic() + 15
            while sum(s is not None for s in seen) < 6 and time.monotonic() < until:
                seen.append(readyz_once())
            answered = [s for s in seen if s is not None]
            late = not caught_early and any(s[0] == 200 for s in answered)
            if late:
                continue   # shard 1 had recovered before it was stopped: start again
            assert answered, seen   # some connections reach shard 0's socket
            assert set(answered) == {(503, '{"status":"recovering"}')}, seen
            mqtt = socket_module.create_connection(("127.0.0.1", mqtt_port), timeout=2)
            mqtt.sendall(m.connect("too-early", version=m.V311))
            mqtt.settimeout(0.5)
            try:
                early = mqtt.recv(4)
            except socket_module.timeout:
                early = b""
            assert early == b"", "an MQTT client was admitted while a shard recovers"
        finally:
            stopped_threads.release(tid)
            if late:
                assert b.stop() == 0
        assert wait_until_ready(http_port) == (200, '{"status":"ready"}')
        assert all(get(http_port, "/readyz")[0] == 200 for _ in range(8))
        assert mqtt.recv(4)[:2] == b"\x20\x02"   # the waiting client gets its CONNACK now
        mqtt.close()
        found = samples(get(http_port, "/metrics")[2])
        assert total(found, "peregrine_retained_messages") == count
        assert b.stop() == 0
        return
    pytest.fail("shard 1 recovered before it could be stopped, five starts in a row")
