"""Virtual brokers (issue 32): brokers chosen by the listener, TLS SNI and HTTP Host, each
an isolated topic space with its own sessions, retained messages, wills, shared groups and
$SYS events — proven with `#` subscribers and the same client ids in every broker — and
unmatched connections refused when configured (CONNACK 0x88; 3.1.1: return code 3).
Independent clients: Debian's mosquitto_pub/sub, raw MQTT over TCP and TLS, curl (SSE)."""

import json
import ssl
import subprocess
import time

import pytest

import mqtt_raw
import ws_raw
from conftest import BINARY, free_ports
from test_tls import TlsMqtt

BROKERS = """
[[namespace]]
name = "acme"

[[broker]]
name = "red"
namespace = "acme"
hostnames = ["red.acme.test", "*.red.acme.test"]

[[broker]]
name = "blue"
namespace = "acme"
hostnames = ["blue.acme.test"]
"""


def TlsRaw(port, certs, server_name, version=mqtt_raw.V5):
    """A raw MQTT client inside TLS that sends `server_name` as SNI (the test certificate
    names localhost: the name is not verified, the chain is)."""
    return TlsMqtt(port, certs, version, server_name=server_name, check_hostname=False)


def start(broker, certs=None, *, unmatched="default", listeners=("mqtt",), tables=""):
    """A broker with the red and blue brokers. `listeners`: schemes, optionally bound with
    "mqtt?broker=red.acme". Returns (broker, [ports])."""
    ports = free_ports(len(listeners))
    args = []
    for scheme, port in zip(listeners, ports):
        name, _, query = scheme.partition("?")
        args += ["--listen", f"{name}://127.0.0.1:{port}" + (f"?{query}" if query else "")]
    if certs is not None:
        args += ["--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key")]
    b = broker(config=f'unmatched_broker = "{unmatched}"\n' + tables + BROKERS, default_args=False,
               wait_ports=ports, args=args + ["--shards", "2", "--io", broker.backend,
                                              "--log-level", "debug"])
    return b, ports


def drain(client, timeout=0.5):
    out = []
    while True:
        pkt = client.try_read_packet(timeout)
        if pkt is None:
            return out
        if pkt.type == mqtt_raw.PUBLISH:
            out.append(mqtt_raw.Message(pkt, client.version))


def test_brokers_chosen_by_listener_are_isolated(broker):
    """Three listeners: the default broker's, red's and blue's. `#` subscribers, the same
    client ids, retained messages and wills: nothing crosses."""
    b, (default_port, red_port, blue_port) = start(
        broker, listeners=("mqtt", "mqtt?broker=red.acme", "mqtt?broker=blue.acme"))
    v = mqtt_raw.V5
    subs = {name: mqtt_raw.connected(port, "watcher", v)
            for name, port in (("default", default_port), ("red", red_port), ("blue", blue_port))}
    for sub in subs.values():
        assert sub.subscribe(("#", 1)) == [1]
    for name, port in (("default", default_port), ("red", red_port), ("blue", blue_port)):
        pub = mqtt_raw.connected(port, "publisher", v)
        pub.publish_qos1("sensors/temp", f"from {name}".encode())
        pub.publish_qos1("sensors/retained", f"kept by {name}".encode(), retain=True)
        pub.disconnect()
    for name, sub in subs.items():
        got = {(m.topic, m.payload) for m in drain(sub, 1.0)}
        assert got == {("sensors/temp", f"from {name}".encode()),
                       ("sensors/retained", f"kept by {name}".encode())}, name
    # Retained messages: each broker's new subscriber gets its own only.
    for name, port in (("default", default_port), ("red", red_port), ("blue", blue_port)):
        late = mqtt_raw.connected(port, "late", v)
        assert late.subscribe(("#", 0)) == [0]
        got = [(m.topic, m.payload) for m in drain(late, 1.0)]
        assert got == [("sensors/retained", f"kept by {name}".encode())], name
        late.disconnect()
    for sub in subs.values():
        sub.disconnect()


def test_the_same_client_id_in_two_brokers_is_two_sessions(broker):
    b, (red_port, blue_port) = start(
        broker, listeners=("mqtt?broker=red.acme", "mqtt?broker=blue.acme"))
    v = mqtt_raw.V5
    expiry = [(mqtt_raw.SESSION_EXPIRY_INTERVAL, 300)]
    red = mqtt_raw.connected(red_port, "same-id", v, clean=True, properties=expiry)
    assert red.subscribe(("red/only", 1)) == [1]
    # The same id in blue takes nothing over: red stays connected.
    blue = mqtt_raw.connected(blue_port, "same-id", v, clean=False, properties=expiry)
    blue.publish_qos1("red/only", b"from blue")
    red.no_packet(0.5)
    assert red.is_open()
    red.ping()
    # A second client of red with that id takes red's session over (and only it).
    red_again = mqtt_raw.RawClient(red_port, v)
    connack = red_again.connect("same-id", clean=False, properties=expiry)
    assert connack.session_present
    red.expect_closed()
    blue.ping()
    blue.disconnect()
    red_again.disconnect()


def test_will_and_shared_groups_stay_in_their_broker(broker):
    b, (red_port, blue_port) = start(
        broker, listeners=("mqtt?broker=red.acme", "mqtt?broker=blue.acme"))
    v = mqtt_raw.V5
    red_sub = mqtt_raw.connected(red_port, "w-red", v)
    blue_sub = mqtt_raw.connected(blue_port, "w-blue", v)
    assert red_sub.subscribe(("$share/g/jobs/#", 1), ("wills/#", 1)) == [1, 1]
    assert blue_sub.subscribe(("$share/g/jobs/#", 1), ("wills/#", 1)) == [1, 1]
    dying = mqtt_raw.connected(red_port, "dying", v,
                               will=dict(topic="wills/dying", payload=b"gone", qos=1))
    dying.sock.close()
    msg = red_sub.next_message(10)
    assert (msg.topic, msg.payload) == ("wills/dying", b"gone")
    pub = mqtt_raw.connected(blue_port, "jobs", v)
    for i in range(4):
        pub.publish_qos1(f"jobs/{i}", b"job")
    got = drain(blue_sub, 1.0)
    assert sorted(m.topic for m in got) == [f"jobs/{i}" for i in range(4)]
    assert drain(red_sub, 0.5) == []
    for c in (red_sub, blue_sub, pub):
        c.disconnect()


def test_sys_events_are_published_inside_their_own_broker(broker):
    b, (default_port, red_port) = start(broker, listeners=("mqtt", "mqtt?broker=red.acme"),
                                        tables="[sys]\nevents = true\n")
    v = mqtt_raw.V5
    default_sys = mqtt_raw.connected(default_port, "sys-default", v)
    red_sys = mqtt_raw.connected(red_port, "sys-red", v)
    assert default_sys.subscribe(("$SYS/+/new/clients", 0)) == [0]
    assert red_sys.subscribe(("$SYS/+/new/clients", 0)) == [0]
    newcomer = mqtt_raw.connected(red_port, "red-newcomer", v)
    msg = red_sys.next_message(5)
    assert (msg.topic, msg.payload) == ("$SYS/red.acme/new/clients", b"red-newcomer")
    default_sys.no_packet(0.5)
    newcomer.disconnect()
    for c in (default_sys, red_sys):
        c.disconnect()


def test_publishing_to_sys_is_refused_in_every_broker(broker):
    b, (red_port,) = start(broker, listeners=("mqtt?broker=red.acme",))
    v = mqtt_raw.V5
    sub = mqtt_raw.connected(red_port, "s", v)
    assert sub.subscribe(("$SYS/#", 0), ("#", 0)) == [0, 0]
    pub = mqtt_raw.connected(red_port, "p", v)
    pub.publish("$SYS/broker/fake", b"x")
    pub.publish("marker", b"m")
    got = sub.messages_until("marker")
    assert [m.topic for m in got if m.topic.startswith("$SYS/broker/fake")] == []
    for c in (sub, pub):
        c.disconnect()


def test_sni_chooses_the_broker_on_a_shared_tls_listener(broker, certs):
    b, (tls_port, plain_port) = start(broker, certs, listeners=("mqtts", "mqtt"))
    v = mqtt_raw.V5
    red = TlsRaw(tls_port, certs, "red.acme.test")
    red.connect("sni-sub")
    assert red.subscribe(("#", 0)) == [0]
    red_wild = TlsRaw(tls_port, certs, "edge-1.red.acme.test")  # *.red.acme.test
    red_wild.connect("sni-pub")
    blue = TlsRaw(tls_port, certs, "Blue.Acme.Test")  # names are matched without case
    blue.connect("sni-sub")  # the same id in another broker
    assert blue.subscribe(("#", 0)) == [0]
    default = mqtt_raw.connected(plain_port, "sni-default", v)
    assert default.subscribe(("#", 0)) == [0]
    red_wild.publish("t", b"red")
    blue.publish("t", b"blue")
    default.publish("t", b"default")
    assert [(m.topic, m.payload) for m in drain(red, 1.0)] == [("t", b"red")]
    assert [(m.topic, m.payload) for m in drain(blue, 1.0)] == [("t", b"blue")]
    assert [(m.topic, m.payload) for m in drain(default, 1.0)] == [("t", b"default")]
    for c in (red, red_wild, blue, default):
        c.disconnect()


def test_unmatched_connections_are_refused_when_configured(broker, certs):
    """unmatched_broker = "refuse": MQTT with no name gets CONNACK 0x88 (3.1.1: 3); a TLS
    SNI naming no broker ends the handshake with unrecognized_name; an HTTP Host naming
    none gets 421 on the WebSocket upgrade, SSE and POST, while the operator's pages
    answer whatever the Host; a listener bound to a broker refuses nothing."""
    b, (tls_port, plain_port, red_port, ws_port, http_port) = start(
        broker, certs, unmatched="refuse",
        listeners=("mqtts", "mqtt", "mqtt?broker=red.acme", "ws", "http"))
    mqtt_raw.RawClient(plain_port, mqtt_raw.V5).connect("x", expect_code=0x88)
    mqtt_raw.RawClient(plain_port, mqtt_raw.V311).connect("x", expect_code=3)
    with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):
        TlsRaw(tls_port, certs, "nobody.acme.test")
    # No SNI at all (an address): the handshake completes, the CONNECT is refused.
    no_sni = TlsMqtt(tls_port, certs, mqtt_raw.V5, server_name=None, check_hostname=False)
    no_sni.connect("x", expect_code=0x88)
    ok = TlsRaw(tls_port, certs, "red.acme.test")
    ok.connect("y")
    ok.disconnect()
    mqtt_raw.connected(red_port, "z", mqtt_raw.V311).disconnect()
    # WebSocket: 421 by Host; a broker's Host upgrades.
    with pytest.raises(AssertionError, match="upgrade answered 421"):
        ws_raw.WsMqttClient(ws_port, mqtt_raw.V5, host="nobody.acme.test")
    ws = ws_raw.WsMqttClient(ws_port, mqtt_raw.V5, host="blue.acme.test:443")
    ws.connect("w")
    ws.disconnect()
    # HTTP: SSE and POST by Host; the operator's pages for any.
    base = f"http://127.0.0.1:{http_port}"
    code = lambda *args: subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", *args],
        capture_output=True, text=True, timeout=15).stdout
    assert code("-X", "POST", "--data", "x", f"{base}/events?topic=t") == "421"
    assert code("-H", "Host: nobody.acme.test", f"{base}/events?topic=t") == "421"
    assert code("-X", "POST", "-H", "Host: red.acme.test", "--data", "x",
                f"{base}/events?topic=t") == "200"
    assert code(f"{base}/healthz") == "200"
    b.wait_for_log(r"no virtual broker for this connection")


def test_an_unknown_sni_reaches_the_default_broker_unless_refused(broker, certs):
    b, (tls_port, plain_port) = start(broker, certs, listeners=("mqtts", "mqtt"))
    stranger = TlsRaw(tls_port, certs, "nobody.acme.test")
    stranger.connect("s")
    assert stranger.subscribe(("t", 0)) == [0]
    default = mqtt_raw.connected(plain_port, "d", mqtt_raw.V5)
    default.publish("t", b"default")
    assert [(m.topic, m.payload) for m in drain(stranger, 1.0)] == [("t", b"default")]
    for c in (stranger, default):
        c.disconnect()


def test_mosquitto_clients_see_their_topics_without_the_broker(broker):
    """Real clients: what they subscribe to and receive is their own broker's topic as
    they wrote it, and an assigned client id is theirs alone."""
    b, (red_port, blue_port) = start(
        broker, listeners=("mqtt?broker=red.acme", "mqtt?broker=blue.acme"))
    pos = b.log_pos()
    sub = subprocess.Popen(["mosquitto_sub", "-p", str(red_port), "-t", "#", "-v", "-C", "1",
                            "-W", "10", "-V", "mqttv5"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b.wait_for_log(r"suback sent", since=pos)
    r = subprocess.run(["mosquitto_pub", "-p", str(blue_port), "-t", "a/b", "-m", "blue"],
                       capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["mosquitto_pub", "-p", str(red_port), "-t", "a/b", "-m", "red",
                        "-V", "mqttv5"], capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r.stderr
    out, err = sub.communicate(timeout=15)
    assert out.strip() == "a/b red", err
    c = mqtt_raw.RawClient(red_port, mqtt_raw.V5)
    connack = c.connect("")
    assigned = connack.props.get(mqtt_raw.ASSIGNED_CLIENT_IDENTIFIER)
    assert assigned and "\xff" not in assigned and "acme" not in assigned
    c.disconnect()


def test_sse_host_chooses_the_broker(broker):
    ports = free_ports(2)
    b = broker(config=BROKERS, default_args=False, wait_ports=ports,
               args=["--listen", f"http://127.0.0.1:{ports[0]}", "--listen",
                     f"mqtt://127.0.0.1:{ports[1]}?broker=red.acme", "--shards", "2",
                     "--io", broker.backend, "--log-level", "debug"])
    pos = b.log_pos()
    events = subprocess.Popen(
        ["curl", "-sN", "--max-time", "10", "-H", "Host: red.acme.test",
         f"http://127.0.0.1:{ports[0]}/events?topic=news"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b.wait_for_log(r"suback sent", since=pos)
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                        "-H", "Host: blue.acme.test", "--data", "blue",
                        f"http://127.0.0.1:{ports[0]}/events?topic=news"],
                       capture_output=True, text=True, timeout=15)
    assert r.stdout == "200", r
    red = mqtt_raw.connected(ports[1], "red-pub", mqtt_raw.V5)
    red.publish_qos1("news", b"red")
    red.disconnect()
    deadline = time.monotonic() + 10
    text = ""
    while "red" not in text and time.monotonic() < deadline:
        line = events.stdout.readline()
        if not line:
            break
        text += line
    events.kill()
    assert "data: red" in text and "blue" not in text, text


# ---- managed live through the admin API and peregrine-ctl ------------------------------

def ctl(state, url, *args):
    from test_ctl import ctl as run_ctl
    return run_ctl("--url", url, "--token-file", str(state / "admin.token"), *args)


def start_managed(broker, tmp_path, config="", shards=2):
    mqtt_port, http_port, tls_port = free_ports(3)
    state = tmp_path / "state"
    b = broker(config=config, default_args=False, wait_ports=[mqtt_port, http_port],
               args=["--listen", f"mqtt://127.0.0.1:{mqtt_port}", "--listen",
                     f"http://127.0.0.1:{http_port}", "--state-dir", str(state),
                     "--shards", str(shards), "--io", broker.backend, "--log-level", "debug"])
    return b, mqtt_port, f"http://127.0.0.1:{http_port}", state


def test_brokers_made_changed_and_deleted_live_with_peregrine_ctl(broker, tmp_path):
    b, mqtt_port, url, state = start_managed(broker, tmp_path)
    r = ctl(state, url, "namespace", "create", "acme", "--description", "our edge")
    assert r.returncode == 0 and r.stdout.strip() == "created namespace acme", r
    r = ctl(state, url, "broker", "create", "live", "--namespace", "acme",
            "--hostname", "live.acme.test", "--description", "made live")
    assert r.returncode == 0 and r.stdout.strip() == "created broker live.acme", r
    r = ctl(state, url, "--json", "broker", "describe", "live", "--namespace", "acme")
    result = json.loads(r.stdout)["result"]
    assert result["hostnames"] == ["live.acme.test"] and result["source"] == "api"
    assert result["description"] == "made live"
    r = ctl(state, url, "namespace", "list")
    assert "acme" in r.stdout and "our edge" in r.stdout
    # Bad calls are refused with a clear error (exit 1).
    r = ctl(state, url, "broker", "create", "Bad_Name", "--namespace", "acme")
    assert r.returncode == 1 and "a-z, 0-9" in r.stderr
    r = ctl(state, url, "broker", "create", "x", "--namespace", "nowhere")
    assert r.returncode == 1 and "no such namespace" in r.stderr
    r = ctl(state, url, "namespace", "delete", "acme")
    assert r.returncode == 1 and "has brokers" in r.stderr
    # Chosen by its Host over WebSocket? Its hostname over SNI is in the next test; here
    # a client of the default broker and one of the new broker, by an update's hostname
    # used as an HTTP Host on an SSE stream.
    default = mqtt_raw.connected(mqtt_port, "watcher", mqtt_raw.V5)
    assert default.subscribe(("#", 0)) == [0]
    pos = b.log_pos()
    events = subprocess.Popen(
        ["curl", "-sN", "--max-time", "10", "-H", "Host: live.acme.test",
         f"{url}/events?topic=news"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b.wait_for_log(r"suback sent", since=pos)
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                        "-H", "Host: live.acme.test", "--data", "live-news",
                        f"{url}/events?topic=news"], capture_output=True, text=True, timeout=15)
    assert r.stdout == "200", r
    default.no_packet(0.5)  # the default broker's `#` sees nothing of it
    # Deleted: its SSE stream ends (its MQTT session got DISCONNECT 0x98), its state goes.
    r = ctl(state, url, "broker", "delete", "live", "--namespace", "acme")
    assert r.returncode == 0 and r.stdout.strip() == "deleted broker live.acme", r
    out, _ = events.communicate(timeout=15)
    assert "live-news" in out
    b.wait_for_log(r"virtual broker live.acme deleted")
    assert ctl(state, url, "broker", "list", "--namespace", "acme").stdout.count("\n") == 1
    r = ctl(state, url, "namespace", "delete", "acme")
    assert r.returncode == 0, r
    default.disconnect()


def test_a_deleted_brokers_clients_sessions_and_retained_messages_go(broker, certs, tmp_path):
    """Made through the API, reached by SNI; deleted: its client gets DISCONNECT 0x98, and
    a broker made again with that name has none of its session or retained messages."""
    tls_port, http_port = free_ports(2)
    state = tmp_path / "state"
    url = f"http://127.0.0.1:{http_port}"
    b = broker(default_args=False, wait_ports=[tls_port, http_port],
               args=["--listen", f"mqtts://127.0.0.1:{tls_port}", "--listen", url,
                     "--tls-cert", str(certs / "server.pem"), "--tls-key",
                     str(certs / "server.key"), "--state-dir", str(state), "--shards", "2",
                     "--io", broker.backend, "--log-level", "debug"])
    assert ctl(state, url, "namespace", "create", "acme").returncode == 0
    make = ["broker", "create", "gone", "--namespace", "acme", "--hostname", "gone.acme.test"]
    assert ctl(state, url, *make).returncode == 0
    expiry = [(mqtt_raw.SESSION_EXPIRY_INTERVAL, 600)]
    client = TlsRaw(tls_port, certs, "gone.acme.test")
    assert not client.connect("keeper", clean=False, properties=expiry).session_present
    assert client.subscribe(("kept/#", 1)) == [1]
    for i in range(300):  # more than one purge slice of retained messages
        client.publish(f"kept/{i}", b"r", retain=True)
    client.publish_qos1("kept/last", b"r", retain=True)
    assert ctl(state, url, "broker", "delete", "gone", "--namespace", "acme").returncode == 0
    while True:
        pkt = client.read_packet(timeout=5)
        if pkt.type == mqtt_raw.DISCONNECT:
            assert mqtt_raw.Disconnect(pkt).reason == 0x98
            break
    b.wait_for_log(r"virtual broker gone.acme deleted")
    # Made again: a new broker of the same name starts empty.
    assert ctl(state, url, *make).returncode == 0
    deadline = time.monotonic() + 10
    while True:
        again = TlsRaw(tls_port, certs, "gone.acme.test")
        present = again.connect("keeper", clean=False, properties=expiry).session_present
        assert again.subscribe(("#", 0)) == [0]
        leftovers = drain(again, 0.5)
        again.disconnect()
        if (not present and not leftovers) or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # the purge runs in slices over a few turns
    assert not present
    assert leftovers == []
    # And after a restart: the log forgot them too.
    assert ctl(state, url, "broker", "delete", "gone", "--namespace", "acme").returncode == 0
    b.wait_for_log(r"virtual broker gone.acme deleted")
    time.sleep(0.5)
    b.stop()
    b2 = broker(default_args=False, wait_ports=[tls_port, http_port], args=b.cmd[1:])
    assert ctl(state, url, *make).returncode == 0
    again = TlsRaw(tls_port, certs, "gone.acme.test")
    assert not again.connect("keeper", clean=False, properties=expiry).session_present
    assert again.subscribe(("#", 0)) == [0]
    assert drain(again, 0.5) == []
    again.disconnect()


def test_brokers_made_through_the_api_survive_a_restart(broker, tmp_path):
    b, mqtt_port, url, state = start_managed(broker, tmp_path)
    assert ctl(state, url, "namespace", "create", "acme").returncode == 0
    assert ctl(state, url, "broker", "create", "kept", "--namespace", "acme",
               "--hostname", "kept.acme.test").returncode == 0
    assert oct((state / "brokers.json").stat().st_mode & 0o777) == "0o600"
    b.stop()
    b2 = broker(default_args=False, wait_ports=[mqtt_port, int(url.rsplit(":", 1)[1])],
                args=["--listen", f"mqtt://127.0.0.1:{mqtt_port}", "--listen", url,
                      "--state-dir", str(state), "--shards", "2", "--io", broker.backend,
                      "--log-level", "debug"])
    r = ctl(state, url, "--json", "broker", "list", "--namespace", "acme")
    assert [x["full_name"] for x in json.loads(r.stdout)["result"]] == ["kept.acme"]
    b2.wait_for_log(r"virtual brokers: 1 in 1 namespaces")


def test_the_cloudflare_profile_bounds_namespaces_and_brokers(broker, tmp_path):
    b, mqtt_port, url, state = start_managed(broker, tmp_path,
                                             config='limits_profile = "cloudflare"\n')
    for i in range(3):
        assert ctl(state, url, "namespace", "create", f"ns{i}").returncode == 0
    r = ctl(state, url, "namespace", "create", "ns3")
    assert r.returncode == 1 and "max_namespaces" in r.stderr, r
    for i in range(3):
        assert ctl(state, url, "broker", "create", f"b{i}", "--namespace", "ns0").returncode == 0
    r = ctl(state, url, "broker", "create", "b3", "--namespace", "ns0")
    assert r.returncode == 1 and "max_brokers_per_namespace" in r.stderr, r
    assert ctl(state, url, "broker", "create", "b3", "--namespace", "ns1").returncode == 0


def test_config_brokers_come_and_go_with_sighup(broker):
    """A [[broker]] and a listener bound to it added by SIGHUP serve at once; a bad one
    (a listener naming no broker) is refused and the running configuration kept."""
    from test_reload import reload
    plain, bound = free_ports(2)
    b = broker(config=f'listen = ["mqtt://127.0.0.1:{plain}"]\n', default_args=False,
               wait_ports=[plain], args=["--shards", "2", "--io", broker.backend,
                                         "--log-level", "debug"])
    default = mqtt_raw.connected(plain, "watcher", mqtt_raw.V5)
    assert default.subscribe(("#", 0)) == [0]
    out = reload(b, f'listen = ["mqtt://127.0.0.1:{plain}", '
                    f'"mqtt://127.0.0.1:{bound}?broker=nope.acme"]\n')
    assert "keeping the running configuration" in out and "nope.acme" in out, out
    out = reload(b, f'listen = ["mqtt://127.0.0.1:{plain}", '
                    f'"mqtt://127.0.0.1:{bound}?broker=red.acme"]\n' + BROKERS)
    assert "configuration reloaded" in out, out
    red = mqtt_raw.connected(bound, "watcher", mqtt_raw.V5)  # the same id: another session
    assert red.subscribe(("#", 0)) == [0]
    red.publish_qos1("t", b"red")
    assert [(m.topic, m.payload) for m in drain(red, 0.5)] == [("t", b"red")]
    default.no_packet(0.3)
    assert default.is_open()
    for c in (red, default):
        c.disconnect()


@pytest.mark.parametrize("config,says", [
    ('[[namespace]]\nname = "a"\n[[broker]]\nname = "b"\n', "a broker needs a name and a namespace"),
    ('[[namespace]]\nname = "a"\ncolor = "x"\n', "unknown key 'namespace.color'"),
    ('[[namespace]]\nname = "a"\n[[broker]]\nname = "b"\nnamespace = "a"\nhostnames = ["x", 3]\n',
     "'broker.hostnames' expects an array of strings"),
    ('[[namespace]]\nname = "a"\n[[broker]]\nname = "b"\nnamespace = "zz"\n',
     "names namespace 'zz', which is not defined"),
    ('[[namespace]]\nname = "A_b"\n', "is not 1 to 63 of a-z"),
    ('[[namespace]]\nname = "a"\n[[broker]]\nname = "b"\nnamespace = "a"\n'
     'hostnames = ["h.example"]\n[[broker]]\nname = "c"\nnamespace = "a"\n'
     'hostnames = ["H.example"]\n', "belongs to two brokers"),
    ('listen = ["mqtt://127.0.0.1:1?broker=b.a"]\n', "which no [[broker]] defines"),
])
def test_a_bad_broker_config_stops_the_start(tmp_path, config, says):
    path = tmp_path / "peregrine.toml"
    path.write_text(config)
    r = subprocess.run([BINARY, "--config", str(path), "--state-dir", str(tmp_path / "state")],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0, r
    assert says in r.stdout + r.stderr, r


def test_metrics_count_each_virtual_brokers_clients(broker):
    b, (red_port, blue_port, http_port) = start(
        broker, listeners=("mqtt?broker=red.acme", "mqtt?broker=blue.acme", "http"))
    metrics = lambda: subprocess.run(
        ["curl", "-s", f"http://127.0.0.1:{http_port}/metrics"], capture_output=True,
        text=True, timeout=15).stdout
    clients = [mqtt_raw.connected(red_port, f"r{i}", mqtt_raw.V5) for i in range(3)]
    clients.append(mqtt_raw.connected(blue_port, "b0", mqtt_raw.V311))
    text = metrics()
    assert 'peregrine_broker_clients_connected{broker="red.acme"} 3' in text, text
    assert 'peregrine_broker_clients_connected{broker="blue.acme"} 1' in text, text
    for c in clients:
        c.disconnect()
    deadline = time.monotonic() + 5
    while "peregrine_broker_clients_connected{" in metrics() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "peregrine_broker_clients_connected{" not in metrics()
