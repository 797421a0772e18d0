"""Enhanced authentication (MQTT 5 AUTH) with SCRAM-SHA-256: the whole exchange through
CONNECT, AUTH 0x18 and CONNACK with the server signature; wrong passwords, unknown
methods, out-of-sequence AUTH, and re-authentication. The client side is written here from
RFC 5802 with Python's hashlib/hmac, independently of the broker's wolfCrypt code."""

import base64
import hashlib
import hmac
import os

import mqtt_raw as m
from mqtt_raw import V5

CONFIG = """
[[auth.scram_sha256]]
username = "alice"
password = "correct horse"

[[acl.deny]]
topic = "alice-only/#"
username = "bob"
"""

METHOD = "SCRAM-SHA-256"


class ScramClient:
    def __init__(self, user, password):
        self.user, self.password = user, password
        self.nonce = base64.b64encode(os.urandom(12)).decode()
        self.first_bare = f"n={user},r={self.nonce}"

    def first(self):
        return ("n,," + self.first_bare).encode()

    def final(self, server_first):
        attrs = dict(kv.split("=", 1) for kv in server_first.decode().split(","))
        assert attrs["r"].startswith(self.nonce)
        salt = base64.b64decode(attrs["s"])
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt, int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        self.auth_message = f"{self.first_bare},{server_first.decode()},{without_proof}"
        signature = hmac.new(stored_key, self.auth_message.encode(), hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.expected_server = base64.b64encode(
            hmac.new(server_key, self.auth_message.encode(), hashlib.sha256).digest())
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()


def auth_packet(reason, data):
    body = bytes([reason]) + m.props((m.AUTHENTICATION_METHOD, METHOD),
                                     (m.AUTHENTICATION_DATA, data))
    return m.packet(15, 0, body)


def parse_props_of(pkt, offset):
    props, _ = m.parse_props(pkt.body, offset)
    return props


def scram_connect(port, user, password, client_id="scram-client"):
    """Runs the exchange; returns (client, final packet from the broker, scram client)."""
    c = m.RawClient(port, V5)
    scram = ScramClient(user, password)
    c.send(m.connect(client_id, V5, properties=[(m.AUTHENTICATION_METHOD, METHOD),
                                                (m.AUTHENTICATION_DATA, scram.first())]))
    challenge = c.read_packet()
    assert challenge.type == 15, challenge
    assert challenge.body[0] == 0x18
    cprops = parse_props_of(challenge, 1)
    assert cprops[m.AUTHENTICATION_METHOD] == METHOD
    c.send(auth_packet(0x18, scram.final(cprops[m.AUTHENTICATION_DATA])))
    return c, c.read_packet(), scram


def test_scram_exchange_connects_and_proves_the_server(broker):
    b = broker(config=CONFIG)
    c, final, scram = scram_connect(b.port, "alice", "correct horse")
    assert final.type == m.CONNACK
    assert final.body[1] == 0x00, final
    props = parse_props_of(final, 2)
    assert props[m.AUTHENTICATION_METHOD] == METHOD
    assert props[m.AUTHENTICATION_DATA] == b"v=" + scram.expected_server
    c.subscribe("alice-only/x")  # the client works normally afterwards
    c.ping()


def test_wrong_password_gets_connack_0x87(broker):
    b = broker(config=CONFIG)
    c, final, _ = scram_connect(b.port, "alice", "wrong")
    assert final.type == m.CONNACK and final.body[1] == 0x87
    assert c.expect_closed(5)


def test_unknown_user_is_refused_only_at_the_end(broker):
    b = broker(config=CONFIG)
    c, final, _ = scram_connect(b.port, "mallory", "x")
    assert final.type == m.CONNACK and final.body[1] == 0x87


def test_unknown_method_gets_0x8c(broker):
    b = broker(config=CONFIG)
    c = m.RawClient(b.port, V5)
    c.send(m.connect("x", V5, properties=[(m.AUTHENTICATION_METHOD, "KERBEROS")]))
    ack = m.Connack(c.read_packet(), V5)
    assert ack.code == 0x8C
    assert c.expect_closed(5)


def test_publish_during_the_exchange_is_a_protocol_error(broker):
    b = broker(config=CONFIG)
    c = m.RawClient(b.port, V5)
    c.send(m.connect("x", V5, properties=[(m.AUTHENTICATION_METHOD, METHOD),
                                          (m.AUTHENTICATION_DATA,
                                           ScramClient("alice", "p").first())]))
    assert c.read_packet().type == 15
    c.send(m.publish("a", b"early", V5))
    ack = m.Connack(c.read_packet(), V5)
    assert ack.code == 0x82


def test_reauthentication_with_auth_0x19(broker):
    b = broker(config=CONFIG)
    c, final, _ = scram_connect(b.port, "alice", "correct horse")
    assert final.body[1] == 0x00
    scram = ScramClient("alice", "correct horse")
    c.send(auth_packet(0x19, scram.first()))
    challenge = c.read_packet()
    assert challenge.type == 15 and challenge.body[0] == 0x18
    c.send(auth_packet(0x18, scram.final(parse_props_of(challenge, 1)[m.AUTHENTICATION_DATA])))
    done = c.read_packet()
    assert done.type == 15 and done.body[0] == 0x00
    assert parse_props_of(done, 1)[m.AUTHENTICATION_DATA] == b"v=" + scram.expected_server
    # A failed re-authentication disconnects with 0x87.
    bad = ScramClient("alice", "nope")
    c.send(auth_packet(0x19, bad.first()))
    challenge = c.read_packet()
    c.send(auth_packet(0x18, bad.final(parse_props_of(challenge, 1)[m.AUTHENTICATION_DATA])))
    assert m.Disconnect(c.read_packet()).reason == 0x87
