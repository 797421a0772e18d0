"""Fastly's HTTP surface on http:// and https:// listeners, driven by curl: Server-Sent
Events on GET /events (message and message-base64 events, ids, durable retained delivery,
Last-Event-ID resume, keep-alive comments), POST /events (binary bodies, retain, ttl,
chunked bodies, keep-alive), /healthz, errors with JSON bodies (400/401/403/404/405/413/
431), slowloris timeouts, and messages crossing between HTTP and MQTT clients."""

import json
import socket
import subprocess
import time

import pytest

import mqtt_raw
import ws_raw
from conftest import start_transport_broker

# The MQTT connect timeout is shorter than the HTTP ones on purpose: an HTTP connection
# answers to those alone (the idle test below lasts past it).
CONFIG = """
[limits]
connect_timeout_ms = 1000
[http]
request_timeout_ms = 600
idle_timeout_ms = 3000
sse_keepalive_ms = 300
max_body_bytes = 65536
"""


@pytest.fixture
def http_broker(broker, certs):
    return start_transport_broker(broker, certs, ["http", "https", "mqtt"], config=CONFIG)


def curl(*args, timeout=15):
    return subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=timeout)


def post(port, query, body, *extra, scheme="http", certs=None):
    args = ["-w", "\n%{http_code}", "--data-binary", "@-", *extra]
    if certs is not None:
        args += ["--cacert", str(certs / "ca.pem")]
    r = subprocess.run(["curl", "-sS", *args, f"{scheme}://localhost:{port}/events?{query}"],
                       input=body, capture_output=True, timeout=15)
    text, _, code = r.stdout.rpartition(b"\n")
    return int(code), text


class SseStream:
    """curl -N on /events in the background; events() parses what it printed."""

    def __init__(self, port, query, *extra, scheme="http", certs=None):
        args = ["curl", "-sS", "-N", "-i", *extra]
        if certs is not None:
            args += ["--cacert", str(certs / "ca.pem")]
        self.proc = subprocess.Popen(args + [f"{scheme}://localhost:{port}/events?{query}"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = b""

    def read_until(self, needle, timeout=10.0):
        import select
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while needle not in self.out:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{needle!r} not seen; got {self.out!r}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = __import__("os").read(fd, 65536)
                if not chunk:
                    raise AssertionError(f"stream ended before {needle!r}; got {self.out!r}")
                self.out += chunk
        return self.out

    def events(self):
        body = self.out.split(b"\r\n\r\n", 1)[1].decode()
        events = []
        for block in body.split("\n\n"):
            fields = {}
            for line in block.split("\n"):
                if not line or line.startswith(":"):
                    continue
                name, _, value = line.partition(": ")
                if name == "data" and "data" in fields:
                    fields["data"] += "\n" + value
                else:
                    fields[name] = value
            if fields:
                events.append(fields)
        return events

    def close(self):
        self.proc.kill()
        self.proc.wait()


def wait_stream_open(stream):
    stream.read_until(b"\r\n\r\n")
    head = stream.out.split(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.1 200"), head
    assert "content-type: text/event-stream" in head.lower()


def test_healthz_and_unknown_paths(http_broker):
    b, ports = http_broker
    r = curl("-i", f"http://127.0.0.1:{ports['http']}/healthz")
    assert r.stdout.startswith(b"HTTP/1.1 200"), r.stdout
    assert json.loads(r.stdout.split(b"\r\n\r\n")[1]) == {"status": "ok"}
    r = curl("-w", "%{http_code}", "-o", "/dev/null", f"http://127.0.0.1:{ports['http']}/nope")
    assert r.stdout == b"404"
    r = curl("-w", "%{http_code}", "-o", "/dev/null", "-X", "DELETE",
             f"http://127.0.0.1:{ports['http']}/events?topic=a")
    assert r.stdout == b"405"


def test_sse_receives_http_and_mqtt_publishes(http_broker, certs):
    b, ports = http_broker
    for scheme in ("http", "https"):
        stream = SseStream(ports[scheme], "topic=t/a&topic=t/b", scheme=scheme,
                           certs=certs if scheme == "https" else None)
        wait_stream_open(stream)
        assert post(ports[scheme], "topic=t/a", b"line one\nline two", scheme=scheme,
                    certs=certs if scheme == "https" else None) == (200, b'{"status":"ok"}')
        assert post(ports["http"], "topic=t/b", bytes([0, 255, 1, 2]))[0] == 200
        mqtt_raw.connected(ports["mqtt"], "mqtt-pub").publish("t/a", b'{"text":"hello"}')
        stream.read_until(b"hello")
        events = stream.events()
        stream.close()
        assert [(e["event"], e["data"]) for e in events] == [
            ("message", "line one\nline two"),
            ("message-base64", "AP8BAg=="),
            ("message", '{"text":"hello"}'),
        ]
        assert all(len(e["id"]) == 16 for e in events)
        assert len({e["id"] for e in events}) == 3


def test_mqtt_subscribers_get_posted_messages_with_retain_and_ttl(http_broker):
    b, ports = http_broker
    sub = mqtt_raw.connected(ports["mqtt"], "mqtt-sub", mqtt_raw.V5)
    sub.subscribe(("p/#", 1))
    assert post(ports["http"], "topic=p/x&retain=true&ttl=30", b"\x00binary\xff")[0] == 200
    msg = sub.next_message()
    assert (msg.topic, msg.payload) == ("p/x", b"\x00binary\xff")
    assert msg.props.get(mqtt_raw.MESSAGE_EXPIRY_INTERVAL) in (29, 30)
    # Retained: a later MQTT subscriber gets it with its remaining expiry.
    late = mqtt_raw.connected(ports["mqtt"], "late", mqtt_raw.V5)
    late.subscribe(("p/x", 0))
    got = late.next_message()
    assert got.retain and got.payload == b"\x00binary\xff"


def test_durable_stream_gets_retained_first_and_ttl_expires(http_broker):
    b, ports = http_broker
    assert post(ports["http"], "topic=d/1&retain=true", b"kept")[0] == 200
    assert post(ports["http"], "topic=d/2&retain=true&ttl=1", b"short-lived")[0] == 200
    plain = SseStream(ports["http"], "topic=d/1")
    durable = SseStream(ports["http"], "topic=d/1&durable=true")
    durable.read_until(b"data: kept")
    wait_stream_open(plain)
    time.sleep(0.3)
    assert b"kept" not in plain.out  # not durable: no retained message
    plain.close()
    durable.close()
    time.sleep(1.3)
    expired = SseStream(ports["http"], "topic=d/2&durable=true")
    wait_stream_open(expired)
    time.sleep(0.4)
    expired.close()
    assert b"short-lived" not in expired.out


def test_last_event_id_resumes_from_retained_state(http_broker):
    b, ports = http_broker
    assert post(ports["http"], "topic=r/a&retain=true", b"state-1")[0] == 200
    first = SseStream(ports["http"], "topic=r/a&durable=true")
    first.read_until(b"state-1")
    seen = first.events()[-1]["id"]
    first.close()
    # Reconnecting with the id of what it saw: nothing is replayed.
    again = SseStream(ports["http"], "topic=r/a", "-H", f"Last-Event-ID: {seen}")
    wait_stream_open(again)
    time.sleep(0.4)
    assert b"state-1" not in again.out
    again.close()
    # The state moved on while it was away: the resumed stream catches up.
    assert post(ports["http"], "topic=r/a&retain=true", b"state-2")[0] == 200
    later = SseStream(ports["http"], "topic=r/a", "-H", f"Last-Event-ID: {seen}")
    later.read_until(b"state-2")
    later.close()


def test_keepalive_comments_on_a_quiet_stream(http_broker):
    b, ports = http_broker
    stream = SseStream(ports["http"], "topic=quiet")
    stream.read_until(b": keepalive\n\n")
    stream.close()


def test_post_errors_have_json_bodies(http_broker):
    b, ports = http_broker
    code, body = post(ports["http"], "topic=a/%2B", b"x")  # a wildcard in a topic name
    assert code == 400 and "error" in json.loads(body)
    assert post(ports["http"], "topic=a&topic=b", b"x")[0] == 400
    assert post(ports["http"], "topic=a&ttl=soon", b"x")[0] == 400
    assert post(ports["http"], "topic=a", b"x" * 70000)[0] == 413
    assert post(ports["http"], "topic=a", b"x", "-H", "Authorization: Basic Zm9vOmJhcg==")[0] == 401
    assert post(ports["http"], "topic=a&auth=not-a-token", b"x")[0] == 401
    # A JWT-shaped token is a token: with no key to verify it, it is refused, never taken
    # as anonymous (which this loopback broker allows).
    assert post(ports["http"], "topic=a&auth=eyJhbGciOiJIUzI1NiJ9.e30.c2ln", b"x")[0] == 401
    assert post(ports["http"], "topic=a", b"x")[0] == 200
    counters = b.counters()
    assert counters["http_refused"] == 7


def test_acl_applies_to_http_publish_and_subscribe(broker, certs):
    config = CONFIG + '\n[[acl.deny]]\ntopic = "locked/#"\n'
    b, ports = start_transport_broker(broker, certs, ["http"], config=config)
    assert post(ports["http"], "topic=locked/x", b"x")[0] == 403
    r = curl("-w", "\n%{http_code}", f"http://127.0.0.1:{ports['http']}/events?topic=locked/x")
    assert r.stdout.endswith(b"403")


def test_keep_alive_and_chunked_bodies(http_broker):
    b, ports = http_broker
    sub = mqtt_raw.connected(ports["mqtt"], "ka-sub")
    sub.subscribe(("ka/#", 0))
    sock = socket.create_connection(("127.0.0.1", ports["http"]), timeout=5)
    requests = (
        b"POST /events?topic=ka/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
        b"POST /events?topic=ka/2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\ntwo\r\n4;ext=1\r\n-and\r\n0\r\n\r\n"
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    sock.sendall(requests)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 3, data
    assert [sub.next_message().payload for _ in range(2)] == [b"one", b"two-and"]


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    (b"POST /events?topic=a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"POST /events?topic=a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"GET /healthz HTTP/2.0\r\n\r\n", 505),
    (b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n", 400),
], ids=["oversized-head", "bad-chunk", "unknown-coding", "http2", "bad-header"])
def test_broken_http_is_answered_and_harms_nobody(http_broker, request_bytes, status):
    b, ports = http_broker
    steady = mqtt_raw.connected(ports["mqtt"], "steady")
    steady.subscribe(("steady", 0))
    sock = socket.create_connection(("127.0.0.1", ports["http"]), timeout=5)
    sock.sendall(request_bytes)
    got, _, _ = ws_raw.read_http_response(sock)
    assert got == status
    assert sock.recv(100) == b""
    assert post(ports["http"], "topic=steady", b"ok")[0] == 200
    assert steady.next_message().payload == b"ok"


def test_slowloris_is_cut_off_at_the_request_timeout(http_broker):
    b, ports = http_broker
    sock = socket.create_connection(("127.0.0.1", ports["http"]), timeout=5)
    start = time.monotonic()
    sock.sendall(b"GET /healthz HTTP/1.1\r\n")
    for _ in range(20):  # a header byte every 100 ms: never done within 600 ms
        try:
            sock.sendall(b"X")
        except OSError:
            break
        time.sleep(0.1)
    sock.settimeout(5)
    status, _, _ = ws_raw.read_http_response(sock)
    assert status == 408
    assert time.monotonic() - start < 2.5


def test_idle_keep_alive_connection_is_closed(http_broker):
    b, ports = http_broker
    sock = socket.create_connection(("127.0.0.1", ports["http"]), timeout=10)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, _ = ws_raw.read_http_response(sock)
    assert status == 200
    start = time.monotonic()
    sock.settimeout(10)
    assert sock.recv(100) == b""
    assert 2.0 < time.monotonic() - start < 6


def test_websocket_upgrade_on_http_listener(http_broker, certs):
    b, ports = http_broker
    for scheme in ("http", "https"):
        c = ws_raw.WsMqttClient(ports[scheme], mqtt_raw.V5,
                                tls_ca=certs / "ca.pem" if scheme == "https" else None)
        c.connect(f"ws-on-{scheme}")
        c.subscribe(("up/#", 0))
        assert post(ports["http"], "topic=up/x", b"to websocket")[0] == 200
        assert c.next_message().payload == b"to websocket"
