"""A real browser: headless Chromium (Debian's chromium, installed by tools/bootstrap)
loads a page that connects with MQTT.js over WebSocket, subscribes, and shows a message
published by mosquitto_pub; the page reports the text it shows back over MQTT."""

import subprocess

import pytest

import mqtt_raw
from conftest import HERE, launch_chromium, start_transport_broker

PAGE = HERE / "browser" / "subscribe.html"


def test_chromium_page_shows_a_message_from_mosquitto_pub(broker, tmp_path):
    if not (HERE / "js" / "node_modules" / "mqtt" / "dist" / "mqtt.min.js").exists():
        pytest.fail("MQTT.js missing: run tools/bootstrap", pytrace=False)
    b, ports = start_transport_broker(broker, None, ["ws", "mqtt"])
    watcher = mqtt_raw.connected(ports["mqtt"], "watcher")
    watcher.subscribe(("browser/ready", 0), ("browser/shown", 0))
    url = f"ws://127.0.0.1:{ports['ws']}/mqtt"
    browser = launch_chromium(f"file://{PAGE}?url={url}", tmp_path / "profile")
    try:
        ready = watcher.next_message(timeout=60)
        assert ready.topic == "browser/ready"
        assert b"Chrome" in ready.payload
        r = subprocess.run(["mosquitto_pub", "-p", str(ports["mqtt"]), "-t", "browser/in",
                            "-m", "hello from mosquitto_pub", "-q", "1"],
                           capture_output=True, text=True, timeout=15)
        assert r.returncode == 0, r.stderr
        shown = watcher.next_message(timeout=20)
        assert (shown.topic, shown.payload) == ("browser/shown",
                                                b"browser/in: hello from mosquitto_pub")
    finally:
        browser.kill()
        browser.wait()
    b.wait_for_log(r"client connected client_id=chromium-page shard=\d protocol=5\b")
