"""The load generator (bench/load, build/bench/peregrine-bench) is a product: its counts
must be exact. Short runs against Peregrine and against Debian's mosquitto (a broker that
shares no code with it) check that every message it sends is a valid PUBLISH carrying its
own stamp: a wrong packet id, topic or stamp shows as a broker hang-up, a loss, a
duplicate or a "foreign" message. The cases cover what the generator reuses per message
(the run PUBLISH copied once per place in its send buffer, with the id and stamp
rewritten): acknowledgements and PUBRELs staged between publishes, 16 KiB payloads, all
three QoS levels and protocol versions, fan-in and the WebSocket transport.

The generator, not the broker backend, is under test here: it runs on io_uring only."""

import json
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BINARY, REPO, free_port, port_accepts

# Beside the broker under test; sanitizer builds leave bench/ out (-Dbench=disabled), so
# they drive their broker with the release build's generator.
GENERATOR = next((p for p in (Path(BINARY).parent / "bench" / "peregrine-bench",
                              REPO / "build" / "bench" / "peregrine-bench") if p.exists()),
                 Path(BINARY).parent / "bench" / "peregrine-bench")
SHORT = ["--warmup", "0", "--duration", "0.7", "--drain", "2", "--quiet"]


def run_generator(port, *args, timeout=60):
    if not GENERATOR.exists():
        pytest.fail(f"no load generator at {GENERATOR}", pytrace=False)
    done = subprocess.run([str(GENERATOR), "-p", str(port), *SHORT, *args],
                          capture_output=True, text=True, timeout=timeout)
    lines = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")]
    assert lines, f"no RESULT line (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    return json.loads(lines[-1][len("RESULT "):])


def assert_exact(result, lossless):
    assert result["status"] == "ok", result["reason"]
    assert result["sent"] > 0 and result["received"] > 0
    assert result["foreign"] == 0
    assert result["duplicated"] == 0
    assert result["reordered"] == 0
    assert result["connect"]["closed_by_broker"] == 0
    if lossless:
        assert result["lost"] == 0
        assert result["received"] == result["expected"]


@pytest.fixture
def uring_broker(broker):
    if broker.backend != "uring":
        pytest.skip("the generator is under test; one broker backend is enough")
    return broker(log_level="info")


CASES = {
    # name: (generator flags, lossless)
    "pairs-qos0-v4": (["--scenario", "pairs", "-c", "8"], False),
    "pairs-qos1-v5": (["--scenario", "pairs-qos1", "-c", "8", "-V", "5"], True),
    "pairs-qos2-v3": (["--scenario", "pairs", "-c", "6", "-q", "2", "-V", "3"], True),
    "large-qos1": (["--scenario", "large", "-c", "4", "-q", "1"], True),
    "large-qos2-v5": (["--scenario", "large", "-c", "3", "-q", "2", "-V", "5"], True),
    # The subscriber's queue (its session's bound) must hold every publisher's lag.
    "fan-in-qos1": (["--scenario", "fan-in", "-c", "8", "-q", "1", "--max-lag", "64"], True),
    "odd-payload-qos1": (["--scenario", "pairs", "-c", "5", "-q", "1", "-s", "1001"], True),
    # Seed publishes are staged one by one (their own topic each), not from the run image.
    "retained-storm": (["--scenario", "retained-storm", "--retained", "500", "--subs", "4",
                        "--duration", "20"], True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_message_arrives_once_in_order_from_peregrine(uring_broker, case):
    flags, lossless = CASES[case]
    assert_exact(run_generator(uring_broker.port, *flags), lossless)


def test_websocket_transport_counts_exactly(broker):
    if broker.backend != "uring":
        pytest.skip("the generator is under test; one broker backend is enough")
    port = free_port()
    b = broker(default_args=False, wait_ports=[port], log_level="info",
               args=["--listen", f"ws://127.0.0.1:{port}/mqtt", "--shards", "2",
                     "--io", broker.backend, "--log-level", "info"])
    assert b.alive()
    result = run_generator(port, "--scenario", "pairs-qos1", "-c", "4", "--transport", "ws",
                           "-s", "5000")
    assert_exact(result, True)


@pytest.fixture
def mosquitto(tmp_path, broker):
    if broker.backend != "uring":
        pytest.skip("the generator is under test; one broker backend is enough")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text("\n".join([f"listener {port} 127.0.0.1", "allow_anonymous true",
                               "persistence false", "log_dest none",
                               "max_queued_messages 100000", "max_inflight_messages 1000",
                               ""]))
    proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not port_accepts(port):
            assert proc.poll() is None and time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("flags", [
    ["--scenario", "pairs-qos1", "-c", "4", "-V", "5"],
    ["--scenario", "large", "-c", "2", "-q", "2"],
], ids=["qos1-v5", "large-qos2-v4"])
def test_every_message_arrives_once_in_order_from_mosquitto(mosquitto, flags):
    assert_exact(run_generator(mosquitto, *flags), True)
