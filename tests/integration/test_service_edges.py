"""An operator's sharp edges (issue 31): a second instance on a port in use is refused,
and the broker raises its own open-files limit."""

import re
import socket
import subprocess
import time

import mqtt_raw as m
from conftest import BINARY, free_port


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
