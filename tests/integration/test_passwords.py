"""Password files made by Debian's mosquitto_passwd ($7$ PBKDF2-SHA512 and $6$ SHA-512):
known users must give their password even where anonymous access is allowed (CONNACK
0x86, 3.1.1: 4); a user who logged in is a proven identity for the ACL's named rules and
%u patterns; refusals are counted."""

import subprocess

import pytest

import mqtt_raw as m
from clients import PahoClient
from mqtt_raw import V311, V5


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "alice", "wonderland"], check=True)
    subprocess.run(["mosquitto_passwd", "-H", "sha512", "-b", str(path), "bob", "builder"],
                   check=True)
    text = path.read_text()
    assert "alice:$7$" in text and "bob:$6$" in text, text
    return path


def test_mosquitto_made_password_file(broker, password_file):
    acl = '[[acl.deny]]\ntopic = "private/#"\nusername = "bob"\n' \
          '[[acl.deny]]\ntopic = "home/%u/locked"\naccess = "write"\n'
    b = broker(config=f'[auth]\npassword_file = "{password_file}"\n' + acl)
    b.wait_for_log(r"password file users: 2")
    alice = PahoClient(b.port, "a1", version=4, username="alice", password="wonderland")
    assert alice.subscribe("private/x") == [0]
    alice.close()
    bob = m.connected(b.port, "b1", V5, username="bob", password="builder")
    assert bob.subscribe("private/x") == [0x87]   # a named rule, bob proven
    bob.publish("home/bob/locked", b"x", qos=1, packet_id=1)
    assert m.Ack(bob.read_packet()).reason == 0x87
    bob.publish("home/alice/locked", b"x", qos=1, packet_id=2)
    assert m.Ack(bob.read_packet()).reason == 0
    # Wrong or missing passwords of known users: refused, though anonymous is allowed here.
    m.RawClient(b.port, V5).connect("x", expect_code=0x86, username="alice", password="nope")
    m.RawClient(b.port, V311).connect("x", expect_code=4, username="bob", password="Builder")
    m.RawClient(b.port, V5).connect("x", expect_code=0x86, username="alice")
    # An unknown name with no password is anonymous (loopback listener): it proves nothing,
    # so the rule naming bob does not apply, and %u matches any level.
    stranger = m.connected(b.port, "s1", V5, username="bob2")
    assert stranger.subscribe("private/x") == [0]
    stranger.publish("home/anyone/locked", b"x", qos=1, packet_id=3)
    assert m.Ack(stranger.read_packet()).reason == 0x87
    c = b.counters()
    assert c["auth_bad_password"] == 3, c
    assert c["auth_verified"] == 2, c


def test_bad_password_file_stops_start_up(broker, tmp_path):
    path = tmp_path / "passwd"
    path.write_text("alice:plaintext\n")
    b = broker(config=f'[auth]\npassword_file = "{path}"\n', wait_ports=[], expect_exit=1)
    assert b.proc.wait(10) == 1
    assert f"{path}:1: not a $6$ or $7$ hash" in b.log_text()
