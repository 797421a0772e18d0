"""MQTT.js (Node.js, tests/integration/js, installed by tools/bootstrap) against the broker:
protocol versions 5 and 4, QoS 2 subscriptions, QoS 1 and 2 publishes; over TCP, TLS,
WebSocket and WebSocket over TLS."""

import shutil
import subprocess

import pytest

from conftest import HERE, start_transport_broker

JS = HERE / "js"


def run_roundtrip(*args):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (tools/bootstrap installs nodejs)")
    if not (JS / "node_modules" / "mqtt").is_dir():
        pytest.fail("MQTT.js missing: run tools/bootstrap (npm ci in tests/integration/js)",
                    pytrace=False)
    r = subprocess.run([node, str(JS / "qos_roundtrip.js"), *args], cwd=JS,
                       capture_output=True, text=True, timeout=60)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, f"qos_roundtrip.js exit {r.returncode}:\n{r.stdout}\n{r.stderr}"
    assert r.stdout.split() == ["ok", "js/5-5", "ok", "js/5-4", "ok", "js/4-5", "ok", "js/4-4"]


@pytest.mark.parametrize("scheme", ["mqtts", "ws", "wss"])
def test_mqttjs_round_trip_over_tls_and_websocket(broker, certs, scheme):
    b, ports = start_transport_broker(broker, certs, [scheme])
    path = "/mqtt" if scheme.startswith("ws") else ""
    url = f"{scheme}://localhost:{ports[scheme]}{path}"
    run_roundtrip(url, str(certs / "ca.pem"))
    b.wait_for_log(r"client connected client_id=js-sub-5-5 shard=\d protocol=5\b")


def test_mqttjs_qos1_and_qos2_round_trip_with_v5_and_v311(broker):
    b = broker()
    run_roundtrip(str(b.port))
    # The broker saw both protocol versions.
    b.wait_for_log(r"client connected client_id=js-sub-5-5 shard=\d protocol=5\b")
    b.wait_for_log(r"client connected client_id=js-sub-4-4 shard=\d protocol=4\b")
