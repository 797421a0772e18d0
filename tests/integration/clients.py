"""Real MQTT clients for end-to-end tests: paho-mqtt 1.6 (v1 API) and mosquitto_sub/pub."""

import queue
import subprocess
import threading
import time

import paho.mqtt.client as mqtt

PAHO_PROTOCOLS = {3: mqtt.MQTTv31, 4: mqtt.MQTTv311, 5: mqtt.MQTTv5}
MOSQUITTO_VERSIONS = {3: "mqttv31", 4: "mqttv311", 5: "mqttv5"}


class PahoClient:
    """A paho client with a background network loop and a queue of received messages."""

    def __init__(self, port, client_id, version=4, keepalive=60, timeout=10.0, clean=True,
                 session_expiry=None, will=None, username=None, password=None):
        """will: dict(topic=, payload=, qos=, retain=, delay=) (delay: v5 Will Delay)."""
        self.version = version
        self.session_present = None
        self.messages = queue.Queue()
        self.connack = None
        self._connected = threading.Event()
        self.disconnected = threading.Event()
        self._acks = {}
        self._ack_lock = threading.Lock()
        self._ack_cv = threading.Condition(self._ack_lock)
        if version == 5:
            self.client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)
        else:
            self.client = mqtt.Client(client_id=client_id, protocol=PAHO_PROTOCOLS[version],
                                      clean_session=clean)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_unsubscribe = self._on_unsubscribe
        connect_kw = {}
        if version == 5:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties
            connect_kw["clean_start"] = clean
            if session_expiry is not None:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = session_expiry
                connect_kw["properties"] = props
        if will is not None:
            will_props = None
            if version == 5 and will.get("delay"):
                from paho.mqtt.packettypes import PacketTypes
                from paho.mqtt.properties import Properties
                will_props = Properties(PacketTypes.WILLMESSAGE)
                will_props.WillDelayInterval = will["delay"]
            self.client.will_set(will["topic"], will.get("payload", b""), will.get("qos", 0),
                                 will.get("retain", False), properties=will_props)
        if username is not None or password is not None:
            self.client.username_pw_set(username, password)
        self.client.connect("127.0.0.1", port, keepalive=keepalive, **connect_kw)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.close()
            raise AssertionError(f"paho {client_id!r} got no CONNACK within {timeout}s")
        if self.connack != 0:
            self.close()
            raise AssertionError(f"paho {client_id!r} CONNACK {self.connack}")

    # paho callbacks (v3 and v5 signatures differ only by trailing args)
    def _on_connect(self, client, userdata, flags, rc, properties=None):
        self.connack = rc if isinstance(rc, int) else rc.value
        self.session_present = bool(flags.get("session present"))
        self._connected.set()

    def _on_disconnect(self, client, userdata, rc, properties=None):
        # v5: the DISCONNECT's reason code when the broker sent one.
        self.disconnect_reason = rc if isinstance(rc, int) else rc.value
        self.disconnected.set()

    def _on_message(self, client, userdata, msg):
        self.messages.put((msg.topic, msg.payload, msg.qos, msg.retain))

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        codes = [g if isinstance(g, int) else g.value for g in granted]
        with self._ack_cv:
            self._acks[mid] = codes
            self._ack_cv.notify_all()

    def _on_unsubscribe(self, client, userdata, mid, properties=None, reasons=None):
        with self._ack_cv:
            self._acks[mid] = []
            self._ack_cv.notify_all()

    def _wait_ack(self, mid, timeout):
        with self._ack_cv:
            if not self._ack_cv.wait_for(lambda: mid in self._acks, timeout):
                raise AssertionError(f"no SUBACK/UNSUBACK for mid {mid} within {timeout}s")
            return self._acks.pop(mid)

    def subscribe(self, topic, qos=0, timeout=10.0):
        """Returns the granted QoS / reason codes."""
        rc, mid = self.client.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS, rc
        return self._wait_ack(mid, timeout)

    def unsubscribe(self, topic, timeout=10.0):
        rc, mid = self.client.unsubscribe(topic)
        assert rc == mqtt.MQTT_ERR_SUCCESS, rc
        self._wait_ack(mid, timeout)

    def publish(self, topic, payload, qos=0, retain=False, timeout=10.0):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout)
        assert info.is_published(), f"paho did not send {topic!r}"

    def next_message(self, timeout=10.0):
        """(topic, payload, qos, retain); raises AssertionError on timeout."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout}s") from None

    def messages_until(self, topic, timeout=10.0):
        out = []
        deadline = time.monotonic() + timeout
        while True:
            msg = self.next_message(max(0.0, deadline - time.monotonic()))
            out.append(msg)
            if msg[0] == topic:
                return out

    def close(self):
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    def drop(self):
        """Closes the socket without DISCONNECT (an abnormal close: the will is due)."""
        self.client.loop_stop()
        self.client.socket().close()


class MosquittoSub:
    """mosquitto_sub running in the background; `-d` output tells us when SUBACK came."""

    def __init__(self, port, topic, version, count, client_id, timeout_s=20):
        self.proc = subprocess.Popen(
            # stdbuf: mosquitto_sub's stdout is block-buffered into a pipe otherwise.
            ["stdbuf", "-oL", "mosquitto_sub", "-h", "127.0.0.1", "-p", str(port),
             "-V", MOSQUITTO_VERSIONS[version], "-i", client_id, "-t", topic,
             "-C", str(count), "-W", str(timeout_s), "-d", "-F", "MSG %t %p"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.lines = []

    def wait_subscribed(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if "received SUBACK" in line:
                return
            if time.monotonic() > deadline:
                break
        self.proc.kill()
        raise AssertionError("mosquitto_sub did not get SUBACK:\n" + "\n".join(self.lines))

    def finish(self, timeout=30.0):
        """Waits for exit; returns (exit code, ["topic payload", ...])."""
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self.lines += out.decode("utf-8", "replace").splitlines()
        msgs = [line[4:] for line in self.lines if line.startswith("MSG ")]
        return self.proc.returncode, msgs


def mosquitto_pub(port, topic, message, version, client_id=None, timeout=20, password=None,
                  qos=0):
    cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port),
           "-V", MOSQUITTO_VERSIONS[version], "-t", topic, "-m", message, "-q", str(qos)]
    if client_id:
        cmd += ["-i", client_id]
    if password is not None:
        cmd += ["-P", password]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"mosquitto_pub failed ({r.returncode}): {r.stderr}"
