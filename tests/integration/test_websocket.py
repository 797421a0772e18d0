"""MQTT over WebSocket (ws:// and wss://, RFC 6455): the upgrade and its refusals, MQTT
packets spanning frames and several packets per frame, ping/pong, the close handshake,
and bad frames (unmasked, oversized, bad opcode, text, bad close code, fragmented
control) answered with the right Close code without harming other clients."""

import socket
import struct
import time

import pytest

import mqtt_raw
import ws_raw
from ws_raw import BINARY, CLOSE, CONT, PING, PONG, TEXT
from conftest import start_transport_broker


@pytest.fixture
def ws_broker(broker, certs):
    config = "[websocket]\nmax_frame_bytes = 4096\nmax_message_bytes = 8192\n"
    return start_transport_broker(broker, certs, ["ws", "wss", "ws:/custom/path", "mqtt"],
                                  config=config)


def test_upgrade_answers_with_accept_key_and_mqtt_subprotocol(ws_broker):
    b, ports = ws_broker
    for protocol, want in (("mqtt", "mqtt"), ("mqttv3.1", "mqttv3.1"),
                           ("chat, mqtt", "mqtt"), (None, None)):
        sock = ws_raw.open_socket(ports["ws"])
        request, key = ws_raw.upgrade_request(protocol=protocol)
        sock.sendall(request)
        status, headers, _ = ws_raw.read_http_response(sock)
        assert status == 101, (protocol, status, headers)
        assert headers["upgrade"].lower() == "websocket"
        assert headers["sec-websocket-accept"] == ws_raw.accept_for(key)
        assert headers.get("sec-websocket-protocol") == want
        sock.close()


@pytest.mark.parametrize("kwargs, status", [
    (dict(path="/other"), 404),
    (dict(method="POST"), 405),
    (dict(version="8"), 426),
    (dict(key="short"), 400),
    (dict(protocol="chat"), 400),
])
def test_bad_upgrades_get_http_errors(ws_broker, kwargs, status):
    b, ports = ws_broker
    sock = ws_raw.open_socket(ports["ws"])
    request, _ = ws_raw.upgrade_request(**kwargs)
    sock.sendall(request)
    got, headers, _ = ws_raw.read_http_response(sock)
    assert got == status, headers
    if status == 426:
        assert headers["sec-websocket-version"] == "13"
    sock.settimeout(5)
    assert sock.recv(100) == b""  # closed after the answer
    assert b.counters()["ws_upgrade_refused"] == 1


def test_oversized_and_broken_upgrade_requests(ws_broker):
    b, ports = ws_broker
    sock = ws_raw.open_socket(ports["ws"])
    sock.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
    status, _, _ = ws_raw.read_http_response(sock)
    assert status == 431
    sock = ws_raw.open_socket(ports["ws"])
    sock.sendall(b"GET /mqtt HTTP/1.1\r\nHost : x\r\n\r\n")  # space before the colon
    status, _, _ = ws_raw.read_http_response(sock)
    assert status == 400
    assert b.counters()["ws_upgrade_refused"] == 2


@pytest.mark.parametrize("scheme", ["ws", "wss", "ws:/custom/path"])
def test_mqtt_round_trip_over_websocket(ws_broker, certs, scheme):
    b, ports = ws_broker
    tls_ca = certs / "ca.pem" if scheme == "wss" else None
    path = "/custom/path" if scheme.endswith("path") else "/mqtt"
    sub = ws_raw.WsMqttClient(ports[scheme], mqtt_raw.V5, path=path, tls_ca=tls_ca)
    sub.connect("ws-sub")
    assert sub.subscribe(("ws/#", 1)) == [1]
    # A plain TCP publisher and a WebSocket one.
    tcp = mqtt_raw.connected(ports["mqtt"], "tcp-pub")
    tcp.publish("ws/a", b"from tcp")
    pub = ws_raw.WsMqttClient(ports[scheme], mqtt_raw.V311, path=path, tls_ca=tls_ca)
    pub.connect("ws-pub")
    pub.publish("ws/b", b"x" * 3000, qos=1, packet_id=7)
    assert pub.read_until(mqtt_raw.PUBACK) is not None
    got = [sub.next_message(), sub.next_message()]
    assert sorted((m.topic, m.payload) for m in got) == [("ws/a", b"from tcp"),
                                                          ("ws/b", b"x" * 3000)]


def test_packets_spanning_frames_and_several_packets_per_frame(ws_broker):
    b, ports = ws_broker
    c = ws_raw.WsMqttClient(ports["ws"])
    connect = mqtt_raw.connect("spanning")
    # CONNECT in three pieces of one fragmented message, byte-split mid-header.
    c.send_frames(connect[:1], connect[1:5], connect[5:])
    assert mqtt_raw.Connack(c.read_packet(), c.version).code == 0
    # SUBSCRIBE + PUBLISH + PINGREQ in one frame.
    c.send(mqtt_raw.subscribe(1, [("span/#", 0)]) + mqtt_raw.publish("span/x", b"hello") +
           mqtt_raw.pingreq())
    # SUBACK waits for the other shard's routing update; PINGRESP need not.
    got = {}
    for _ in range(3):
        pkt = c.read_packet()
        got[pkt.type] = pkt
    assert set(got) == {mqtt_raw.SUBACK, mqtt_raw.PINGRESP, mqtt_raw.PUBLISH}, got
    assert mqtt_raw.Message(got[mqtt_raw.PUBLISH], c.version).payload == b"hello"
    # A PUBLISH split over separate (unfragmented) Binary messages.
    p = mqtt_raw.publish("span/y", b"y" * 100)
    c.ws.send(BINARY, p[:30])
    time.sleep(0.05)
    c.ws.send(BINARY, p[30:])
    assert c.next_message().payload == b"y" * 100


def test_ping_pong_and_close_handshake(ws_broker):
    b, ports = ws_broker
    c = ws_raw.WsMqttClient(ports["ws"])
    c.connect("pinger")
    c.ws.send(PING, b"are you there")
    fin, op, payload = c.ws.read_frame()
    assert (fin, op, payload) == (True, PONG, b"are you there")
    c.ws.send(PONG, b"unsolicited")  # ignored
    c.ping()
    # The client closes: the broker echoes the status code and closes the socket.
    c.ws.send(CLOSE, struct.pack("!H", 1000) + b"bye")
    assert c.ws.expect_close() == 1000
    b.wait_for_log(r"client disconnected client_id=pinger")
    # A Close without a status is answered with a Close without one.
    d = ws_raw.WsMqttClient(ports["ws"])
    d.connect("quiet")
    d.ws.send(CLOSE)
    assert d.ws.expect_close() is None


def test_server_disconnect_sends_close_frame(ws_broker):
    b, ports = ws_broker
    c = ws_raw.WsMqttClient(ports["ws"], mqtt_raw.V5)
    c.connect("bad-actor")
    c.send(mqtt_raw.packet(0xF, 0, b""))  # AUTH with no method: protocol error
    pkt = c.read_packet()
    assert pkt.type == mqtt_raw.DISCONNECT
    assert c.ws.expect_close() == 1000


# A PUBLISH header announcing ~12 KB, so the MQTT layer waits while frames pile up.
BIG_PUBLISH_START = b"\x30" + mqtt_raw.varint(12000)

BAD_FRAMES = [
    ("unmasked", ws_raw.frame(BINARY, b"\x10", mask=False), 1002),
    ("bad opcode", ws_raw.frame(0x3, b"x"), 1002),
    ("reserved bits", ws_raw.frame(BINARY, b"x", rsv=4), 1002),
    ("text frame", ws_raw.frame(TEXT, b"hello"), 1003),
    ("oversized frame", ws_raw.frame(BINARY, b"x" * 5000), 1009),
    ("oversized message",
     ws_raw.frame(BINARY, BIG_PUBLISH_START + b"x" * 3990, fin=False) +
     ws_raw.frame(CONT, b"x" * 4000, fin=False) + ws_raw.frame(CONT, b"x" * 4000), 1009),
    ("bad close code", ws_raw.frame(CLOSE, struct.pack("!H", 1005)), 1002),
    ("reserved close code", ws_raw.frame(CLOSE, struct.pack("!H", 2000)), 1002),
    ("close reason not utf-8", ws_raw.frame(CLOSE, struct.pack("!H", 1000) + b"\xff"), 1007),
    ("one-byte close", ws_raw.frame(CLOSE, b"\x03"), 1002),
    ("fragmented ping", ws_raw.frame(PING, b"x", fin=False), 1002),
    ("long ping", ws_raw.frame(PING, b"x" * 126), 1002),
    ("continuation first", ws_raw.frame(CONT, b"x"), 1002),
    ("new message mid-fragment", ws_raw.frame(BINARY, b"\x10", fin=False) +
     ws_raw.frame(BINARY, b"x"), 1002),
]


@pytest.mark.parametrize("name, data, code", BAD_FRAMES, ids=[f[0] for f in BAD_FRAMES])
def test_bad_frames_are_closed_with_the_right_code(ws_broker, name, data, code):
    b, ports = ws_broker
    steady = ws_raw.WsMqttClient(ports["ws"])
    steady.connect("steady")
    steady.subscribe(("steady/#", 0))
    bad = ws_raw.WsMqttClient(ports["ws"])
    bad.connect("bad")
    bad.ws.send_raw(data)
    assert bad.ws.expect_close() == code, name
    # Nobody else noticed.
    steady.publish("steady/x", b"fine")
    assert steady.next_message().payload == b"fine"
    counters = b.counters()
    if code in (1002, 1003, 1007, 1009):
        assert counters["ws_protocol_error"] == 1, name


def test_bad_frames_over_tls(ws_broker, certs):
    b, ports = ws_broker
    bad = ws_raw.WsMqttClient(ports["wss"], tls_ca=certs / "ca.pem")
    bad.connect("bad-tls")
    bad.ws.send_raw(ws_raw.frame(BINARY, b"\x10", mask=False))
    assert bad.ws.expect_close() == 1002
    assert b.counters()["ws_protocol_error"] == 1


def test_upgrade_request_that_never_ends_is_answered_408_and_closed(broker, certs):
    """HTTP's own request timeout answers it, not the MQTT connect timeout (shorter here):
    the MQTT one starts only once the connection is upgraded."""
    b, ports = start_transport_broker(
        broker, certs, ["ws"],
        config="[limits]\nconnect_timeout_ms = 300\n[http]\nrequest_timeout_ms = 800\n")
    sock = ws_raw.open_socket(ports["ws"])
    sock.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n")  # and then nothing
    start = time.monotonic()
    status, _, _ = ws_raw.read_http_response(sock, timeout=5)
    assert status == 408
    assert sock.recv(100) == b""
    assert 0.6 < time.monotonic() - start < 3
    assert b.counters()["connect_timeout"] == 0
