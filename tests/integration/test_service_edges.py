"""An operator's sharp edges (issue 31): a second instance on a port in use is refused,
and the broker raises its own open-files limit."""

import re
import socket
import subprocess
import time

import mqtt_raw as m
from conftest import BINARY, free_port, start_transport_broker


def wait_exit(proc, timeout=15.0):
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return "still running"


def start_second(port, io_backend, tmp_path, extra=()):
    """A second peregrine on `port`, expected to give up: (exit status, its output)."""
    proc = subprocess.Popen(
        [BINARY, "--listen", f"mqtt://127.0.0.1:{port}", "--io", io_backend,
         "--state-dir", str(tmp_path / "second-state"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    status = wait_exit(proc)
    return status, proc.stdout.read().decode(errors="replace")


def test_a_second_instance_on_the_same_port_is_refused(broker, io_backend, tmp_path):
    first = broker()
    status, out = start_second(first.port, io_backend, tmp_path)
    assert status not in (0, "still running"), out
    assert re.search(rf"127\.0\.0\.1:{first.port}.*already", out), out
    # The first keeps every client: nothing was split off to the second.
    for i in range(20):
        c = m.connected(first.port, f"after-{i}")
        c.disconnect()
    assert first.counters()["connections_accepted"] >= 20


def test_a_port_another_program_listens_on_is_refused(io_backend, tmp_path):
    port = free_port()
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # even so
        other.bind(("127.0.0.1", port))
        other.listen()
        status, out = start_second(port, io_backend, tmp_path)
    assert status not in (0, "still running"), out
    assert f"127.0.0.1:{port}" in out and "already" in out, out


def test_the_same_port_twice_in_one_config_is_refused(io_backend, tmp_path):
    port = free_port()
    status, out = start_second(port, io_backend, tmp_path,
                               extra=("--listen", f"ws://127.0.0.1:{port}/mqtt"))
    assert status not in (0, "still running"), out
    assert "already" in out, out


def test_a_restart_on_the_same_port_right_after_a_stop_works(broker):
    """Connections the first left in TIME_WAIT do not count as a listener."""
    first = broker(shards=1)
    port = first.port
    clients = [m.connected(port, f"tw-{i}") for i in range(5)]
    first.stop()
    for c in clients:
        c.close()
    second = broker(shards=1, default_args=False, wait_ports=[port],
                    args=["--listen", f"mqtt://127.0.0.1:{port}", "--io", first.backend])
    c = m.connected(port, "again")
    c.disconnect()
    second.stop()


def test_the_soft_open_files_limit_is_raised_to_the_hard_one(broker):
    b = broker(nofile=None, soft_nofile=(1024, 8192))
    limits = open(f"/proc/{b.proc.pid}/limits").read()
    soft, hard = re.search(r"Max open files\s+(\d+)\s+(\d+)", limits).groups()
    assert (int(soft), int(hard)) == (8192, 8192), limits
    assert re.search(r"open files: 8192 \(raised from 1024\)", b.log_text()), b.log_text()


# --- HTTP listeners: their own limits and timeouts answer, not MQTT's ----------------------

HTTP_CONFIG = """
[limits]
connect_timeout_ms = 1000
[http]
request_timeout_ms = 2500
idle_timeout_ms = 3500
"""


def test_a_huge_request_head_is_431_however_it_arrives(broker, certs):
    """A 1 MB head sent at once was 413 (the bridge's input bound), gradually 431."""
    import ws_raw
    b, ports = start_transport_broker(broker, certs, ["ws", "http"])
    head = b"GET /mqtt HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"
    for scheme in ("ws", "http"):
        sock = socket.create_connection(("127.0.0.1", ports[scheme]), timeout=10)
        try:
            sock.sendall(head)
        except OSError:
            pass  # closed once answered: the answer is still there to read
        status, _, _ = ws_raw.read_http_response(sock)
        assert status == 431, scheme
        sock.close()


def test_an_http_request_gets_its_408_not_the_mqtt_connect_timeout(broker, certs):
    import ws_raw
    b, ports = start_transport_broker(broker, certs, ["http", "ws"], config=HTTP_CONFIG)
    for scheme in ("http", "ws"):
        sock = socket.create_connection(("127.0.0.1", ports[scheme]), timeout=10)
        start = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        status, _, _ = ws_raw.read_http_response(sock, timeout=10)
        took = time.monotonic() - start
        assert status == 408, scheme
        assert 2.0 < took < 4.5, (scheme, took)  # request_timeout_ms, not connect_timeout_ms
        sock.close()


def test_after_a_websocket_upgrade_the_connect_timeout_starts_again(broker, certs):
    """The MQTT connect deadline counts from the upgrade, whenever it comes."""
    import ws_raw
    b, ports = start_transport_broker(broker, certs, ["ws"], config=HTTP_CONFIG)
    sock = socket.create_connection(("127.0.0.1", ports["ws"]), timeout=10)
    sock.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n")
    time.sleep(1.6)  # past connect_timeout_ms since accept, within request_timeout_ms
    sock.sendall(b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Protocol: mqtt\r\n\r\n")
    status, _, _ = ws_raw.read_http_response(sock)
    assert status == 101
    start = time.monotonic()
    sock.settimeout(10)
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass
    assert 0.7 < time.monotonic() - start < 3.0  # a full connect_timeout_ms from the upgrade


def test_max_connections_refuses_with_0x97_and_3_then_admits_again(broker):
    """[limits] max_connections bounds MQTT clients over every listener (v5: CONNACK 0x97
    Quota exceeded; 3.1.1: 3, server unavailable); a listener's ?max_connections=N bounds
    its own. Refused clients are counted; a slot comes back when a client goes."""
    from conftest import free_ports
    main, small = free_ports(2)
    b = broker(config="[limits]\nmax_connections = 3\n", default_args=False,
               wait_ports=[main, small],
               args=["--listen", f"mqtt://127.0.0.1:{main}",
                     "--listen", f"mqtt://127.0.0.1:{small}?max_connections=1",
                     "--shards", "2", "--io", broker.backend])
    first_small = m.connected(small, "small-0", m.V5)
    refused = m.RawClient(small, m.V5)
    refused.connect("small-1", expect_code=0x97)      # the listener's own bound
    assert refused.expect_closed(5)
    held = [first_small] + [m.connected(main, f"main-{i}", m.V5) for i in range(2)]
    over5 = m.RawClient(main, m.V5)
    ack = over5.connect("main-over", expect_code=0x97)  # the total: 3 connected
    assert ack.props.get(0x1F) == "max_connections reached"   # Reason String
    over3 = m.RawClient(main, m.V311)
    over3.connect("main-over-311", expect_code=3)
    assert over3.expect_closed(5)
    held[1].disconnect()
    # The slot comes back when the broker has seen the client go.
    deadline = time.monotonic() + 5
    while True:
        again = m.RawClient(main, m.V5)
        again.send(m.connect("main-again", version=m.V5))
        code = m.Connack(again.read_packet(5), m.V5).code
        if code == 0 or time.monotonic() > deadline:
            break
        again.close()
        time.sleep(0.05)
    assert code == 0
    counters = b.counters()
    assert counters["connections_refused"] >= 3
