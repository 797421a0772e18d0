"""MQTT over TLS (mqtts://): Debian's mosquitto clients with --cafile and client
certificates, openssl s_client negotiating TLS 1.2 and 1.3 (and refused TLS 1.0), ALPN and
SNI, mutual TLS with the certificate as identity, bad records and handshake timeouts that
harm no other client, session tickets, and SIGHUP certificate reloads."""

import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

import mqtt_raw
from conftest import REPO, start_transport_broker, tls_aes_first


def sub_process(port, certs, topic, *extra, count=1, version="mqttv311"):
    return subprocess.Popen(
        ["mosquitto_sub", "-h", "localhost", "-p", str(port), "--cafile",
         str(certs / "ca.pem"), "-t", topic, "-C", str(count), "-v", "-V", version,
         "-W", "10", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def pub(port, certs, topic, message, *extra, version="mqttv311"):
    return subprocess.run(
        ["mosquitto_pub", "-h", "localhost", "-p", str(port), "--cafile", str(certs / "ca.pem"),
         "-t", topic, "-m", message, "-V", version, *extra],
        capture_output=True, text=True, timeout=15)


def wait_subscribed(b, client_id_prefix="", since=0):
    b.wait_for_log(r"suback sent client_id=" + client_id_prefix, since=since)


def s_client(port, *args, input_=b"", linger=0.0, timeout=15):
    """openssl s_client; with `linger`, stdin stays open that long (TLS 1.3 session
    tickets arrive after the handshake)."""
    proc = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    if linger:
        time.sleep(linger)
    out, err = proc.communicate(input_, timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


class TlsMqtt(mqtt_raw.RawClient):
    """mqtt_raw.RawClient inside TLS (python's ssl)."""

    def __init__(self, port, certs, version=mqtt_raw.V311, cert=None, server_name="localhost",
                 check_hostname=True):
        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        ctx.check_hostname = check_hostname  # False: any SNI, the chain still checked
        if cert is not None:
            ctx.load_cert_chain(str(certs / f"{cert}.pem"), str(certs / f"{cert}.key"))
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.version = version
        self.sock = ctx.wrap_socket(raw, server_hostname=server_name)
        self.send_timeout = 10.0
        self.buf = b""
        self.queued = []
        self.closed = False
        self._next_id = 1


def test_mosquitto_clients_publish_and_subscribe_over_tls_v311_and_v5(broker, certs):
    b, ports = start_transport_broker(broker, certs, ["mqtts", "mqtt"])
    for version in ("mqttv311", "mqttv5"):
        pos = b.log_pos()
        sub = sub_process(ports["mqtts"], certs, f"tls/{version}", version=version)
        wait_subscribed(b, since=pos)
        r = pub(ports["mqtts"], certs, f"tls/{version}", f"hello {version}", "-q", "1",
                version=version)
        assert r.returncode == 0, r.stderr
        out, err = sub.communicate(timeout=15)
        assert out.strip() == f"tls/{version} hello {version}", err
    # Plain TCP and TLS clients share topics.
    pos = b.log_pos()
    sub = sub_process(ports["mqtts"], certs, "mixed")
    wait_subscribed(b, since=pos)
    r = subprocess.run(["mosquitto_pub", "-p", str(ports["mqtt"]), "-t", "mixed", "-m", "x"],
                       capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r.stderr
    out, _ = sub.communicate(timeout=15)
    assert out.strip() == "mixed x"


def test_mosquitto_client_rejects_a_broker_signed_by_another_ca(broker, certs):
    b, ports = start_transport_broker(broker, certs, ["mqtts"])
    r = subprocess.run(["mosquitto_pub", "-h", "localhost", "-p", str(ports["mqtts"]),
                        "--cafile", str(certs / "other-ca.pem"), "-t", "t", "-m", "x"],
                       capture_output=True, text=True, timeout=15)
    assert r.returncode != 0
    # The client's alert ends it; the broker may read it a moment after the client exits.
    b.wait_for_log(r"transport failure from .*: tls_handshake_failed")
    assert b.counters()["tls_handshake_failed"] >= 1


def test_openssl_negotiates_tls12_and_tls13_and_is_refused_tls10(broker, certs):
    b, ports = start_transport_broker(broker, certs, ["mqtts"])
    port = ports["mqtts"]
    r13 = s_client(port, "-tls1_3", "-CAfile", str(certs / "ca.pem"), "-servername", "edge.test",
                   "-alpn", "mqtt")
    out = r13.stdout.decode()
    # The server's order: AES-GCM first where AES-NI runs it, ChaCha20 otherwise.
    aes = tls_aes_first()
    first13 = "TLS_AES_128_GCM_SHA256" if aes else "TLS_CHACHA20_POLY1305_SHA256"
    assert f"New, TLSv1.3, Cipher is {first13}" in out, out
    assert "Verify return code: 0 (ok)" in out
    assert "ALPN protocol: mqtt" in out
    b.wait_for_log(r"tls from 127\.0\.0\.1:\d+: TLSv1\.3 \S+ sni=edge\.test alpn=mqtt")
    r12 = s_client(port, "-tls1_2", "-CAfile", str(certs / "ca.pem"))
    out = r12.stdout.decode()
    first12 = "ECDHE-ECDSA-AES128-GCM-SHA256" if aes else "ECDHE-ECDSA-CHACHA20-POLY1305"
    assert "Protocol  : TLSv1.2" in out and first12 in out, out
    # Either cipher for clients that offer only it.
    raes = s_client(port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert "Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" in raes.stdout.decode()
    rchacha = s_client(port, "-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305")
    assert "Cipher is ECDHE-ECDSA-CHACHA20-POLY1305" in rchacha.stdout.decode()
    r10 = s_client(port, "-tls1", "-cipher", "DEFAULT@SECLEVEL=0")
    text = r10.stdout.decode() + r10.stderr.decode()
    assert r10.returncode != 0
    assert "alert protocol version" in text, text
    counters = b.counters()
    assert counters["tls_handshake_failed"] == 1


def test_tls_session_resumes_with_a_ticket(broker, certs, tmp_path):
    b, ports = start_transport_broker(broker, certs, ["mqtts"])
    for version in ("-tls1_2", "-tls1_3"):
        sess = tmp_path / f"session{version}"
        first = s_client(ports["mqtts"], version, "-sess_out", str(sess), linger=0.5)
        assert first.returncode == 0 or b"New," in first.stdout
        assert sess.exists() and sess.stat().st_size > 0
        again = s_client(ports["mqtts"], version, "-sess_in", str(sess))
        assert b"Reused," in again.stdout, again.stdout.decode()


def test_garbage_and_bad_records_are_refused_without_harming_others(broker, certs):
    b, ports = start_transport_broker(broker, certs, ["mqtts"])
    port = ports["mqtts"]
    good = TlsMqtt(port, certs)
    good.connect("steady")
    good.subscribe(("steady/#", 0))
    # 1. Not TLS at all: an MQTT CONNECT in clear on the TLS port.
    plain = mqtt_raw.RawClient(port)
    plain.send(mqtt_raw.connect("plain"))
    assert plain.expect_closed(5)
    # 2. A record header that lies about its length, then random bytes.
    liar = socket.create_connection(("127.0.0.1", port), timeout=5)
    liar.sendall(bytes([0x16, 0x03, 0x01, 0xFF, 0xFF]) + os.urandom(300))
    liar.settimeout(5)
    liar.close()
    # 3. A handshake that completes, then a corrupted application-data record.
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            raw.sendall(outgoing.read())
            data = raw.recv(65536)
            assert data, "closed during the handshake"
            incoming.write(data)
    raw.sendall(outgoing.read())
    raw.sendall(bytes([0x17, 0x03, 0x03, 0x00, 0x20]) + os.urandom(32))  # fails its AEAD tag
    raw.settimeout(5)
    got = b""
    try:
        while True:
            chunk = raw.recv(4096)
            if not chunk:
                break
            got += chunk
    except ConnectionResetError:
        pass
    raw.close()
    # The steady client is untouched.
    good.publish("steady/1", b"still here")
    msg = good.next_message()
    assert msg.payload == b"still here"
    counters = b.counters()
    assert counters["tls_handshake_failed"] >= 2
    assert counters["tls_error"] == 1


def test_a_silent_socket_is_closed_at_the_handshake_timeout(broker, certs):
    config = "[tls]\nhandshake_timeout_ms = 300\n"
    b, ports = start_transport_broker(broker, certs, ["mqtts"], config=config)
    silent = mqtt_raw.RawClient(ports["mqtts"])
    start = time.monotonic()
    assert silent.expect_closed(5)
    assert 0.2 < time.monotonic() - start < 3
    assert b.counters()["tls_handshake_timeout"] == 1


MTLS_CONFIG = """
[tls]
ca_file = "{ca}"
client_auth = "{auth}"
identity = "{identity}"
"""


def test_required_client_certificates(broker, certs):
    config = MTLS_CONFIG.format(ca=certs / "ca.pem", auth="required", identity="none")
    b, ports = start_transport_broker(broker, certs, ["mqtts"], config=config)
    port = ports["mqtts"]
    # No certificate: refused in the handshake.
    r = pub(port, certs, "m", "x")
    assert r.returncode != 0
    # A certificate from another CA: refused.
    r = pub(port, certs, "m", "x", "--cert", str(certs / "untrusted-client.pem"),
            "--key", str(certs / "untrusted-client.key"))
    assert r.returncode != 0
    # The CA's client certificate: through.
    pos = b.log_pos()
    sub = sub_process(port, certs, "m", "--cert", str(certs / "client.pem"),
                      "--key", str(certs / "client.key"))
    wait_subscribed(b, since=pos)
    r = pub(port, certs, "m", "ok", "--cert", str(certs / "client.pem"),
            "--key", str(certs / "client.key"))
    assert r.returncode == 0, r.stderr
    out, _ = sub.communicate(timeout=15)
    assert out.strip() == "m ok"
    assert b.counters()["tls_handshake_failed"] >= 2


def test_certificate_identity_as_client_id_and_username(broker, certs):
    config = MTLS_CONFIG.format(ca=certs / "ca.pem", auth="optional", identity="client_id")
    b, ports = start_transport_broker(broker, certs, ["mqtts"], config=config)
    c = TlsMqtt(ports["mqtts"], certs, version=mqtt_raw.V5, cert="client")
    ack = c.connect("")  # v5 with an empty id: told the assigned one (the certificate's CN)
    assert ack.props.get(mqtt_raw.ASSIGNED_CLIENT_IDENTIFIER) == "client1", ack.props
    b.wait_for_log(r"client connected client_id=client1 ")
    # Without a certificate (optional): the client's own id.
    anon = TlsMqtt(ports["mqtts"], certs)
    anon.connect("no-cert")
    b.wait_for_log(r"client connected client_id=no-cert ")

    # identity = username: an ACL rule for that username applies.
    acl_config = MTLS_CONFIG.format(ca=certs / "ca.pem", auth="required",
                                    identity="username") + \
        '\n[[acl.deny]]\ntopic = "secret/#"\nusername = "client1"\n'
    b2, ports2 = start_transport_broker(broker, certs, ["mqtts"], config=acl_config)
    c2 = TlsMqtt(ports2["mqtts"], certs, version=mqtt_raw.V5, cert="client")
    c2.connect("who", username="someone-else")
    assert c2.subscribe(("secret/x", 0), ("open/x", 0)) == [0x87, 0x00]


def test_sighup_reloads_certificates_for_new_connections_only(broker, certs, tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    for name in ("server.pem", "server.key"):
        shutil.copy(certs / name, live / name)
    config = f'[tls]\ncert_file = "{live / "server.pem"}"\nkey_file = "{live / "server.key"}"\n'
    b, ports = start_transport_broker(broker, None, ["mqtts"], config=config)
    port = ports["mqtts"]
    old = TlsMqtt(port, certs)
    old.connect("old-conn")
    old.subscribe(("reload/#", 0))
    # New certificates from a new CA replace the files.
    fresh = tmp_path / "fresh"
    subprocess.run([str(REPO / "tools" / "make-certs"), str(fresh)], check=True,
                   capture_output=True, timeout=60)
    for name in ("server.pem", "server.key"):
        shutil.copy(fresh / name, live / name)
    pos = b.log_pos()
    b.proc.send_signal(signal.SIGHUP)
    b.wait_for_log(r"SIGHUP: TLS certificates reloaded", since=pos)
    # New connections see the new certificate: the old CA no longer verifies it.
    with pytest.raises(ssl.SSLCertVerificationError):
        TlsMqtt(port, certs)
    newer = TlsMqtt(port, fresh)
    newer.connect("new-conn")
    newer.publish("reload/x", b"after reload")
    # The connection made before the reload lives on.
    msg = old.next_message()
    assert msg.payload == b"after reload"
    # A broken key file keeps the current certificates.
    (live / "server.key").write_text("not a key\n")
    pos = b.log_pos()
    b.proc.send_signal(signal.SIGHUP)
    # (The whole configuration is checked first: a key that does not match its
    # certificate keeps the running configuration, TLS files included.)
    b.wait_for_log(r"SIGHUP: .*key.*; keeping the running configuration", since=pos)
    TlsMqtt(port, fresh).connect("still-fresh")


def test_unusable_certificate_files_are_configuration_errors(certs, tmp_path):
    """Refused before start-up (exit 2) with the key, where it was set and why; a key that
    does not match its certificate is refused even with no TLS listener to use it."""
    from conftest import free_port, run_cli
    port = free_port()
    missing = tmp_path / "none.pem"
    r = run_cli("--listen", f"mqtts://127.0.0.1:{port}", "--tls-cert", str(missing),
                "--tls-key", str(certs / "server.key"))
    assert r.returncode == 2
    assert f"--tls-cert: 'tls.cert_file': cannot read '{missing}': No such file or " \
           "directory" in r.stderr, r.stderr
    r = run_cli("--listen", f"mqtts://127.0.0.1:{port}", "--tls-cert", str(certs / "server.key"),
                "--tls-key", str(certs / "server.key"))
    assert r.returncode == 2 and "cannot load certificate chain" in r.stderr, r.stderr
    r = run_cli("--listen", f"mqtt://127.0.0.1:{port}", "--tls-cert", str(certs / "server.pem"),
                "--tls-key", str(certs / "client.key"))
    assert r.returncode == 2 and "does not match" in r.stderr, r.stderr
    config = tmp_path / "missing-cert.toml"
    config.write_text(f'listen = ["mqtt://127.0.0.1:{port}"]\n[tls]\n'
                      f'cert_file = "{missing}"\nkey_file = "{certs / "server.key"}"\n')
    r = run_cli("--config", str(config))
    assert r.returncode == 2
    assert f"{config}:3:13: 'tls.cert_file': cannot read" in r.stderr, r.stderr


def test_secret_files_others_may_read_are_warned_about(broker, certs, tmp_path):
    key = tmp_path / "open.key"
    key.write_bytes((certs / "server.key").read_bytes())
    key.chmod(0o644)
    config = tmp_path / "open.toml"
    config.write_text(f'[tls]\ncert_file = "{certs / "server.pem"}"\nkey_file = "{key}"\n'
                      '[[auth.scram_sha256]]\nusername = "u"\npassword = "p"\n')
    config.chmod(0o644)
    b = broker(args=["--config", str(config)])
    log = b.log_text()
    assert f"TLS key '{key}' is readable by group or others (mode 0644)" in log, log
    assert f"configuration file '{config}' holds SCRAM passwords" in log, log
    assert "password = " not in log and '"p"' not in log


def test_large_and_small_messages_interleaved_arrive_whole_over_tls(broker, certs):
    """Payloads below, at and across the TLS record size, and far beyond it, between
    small ones: a large payload goes to wolfSSL where it lies while the small ones are
    gathered into records (transport_stack.cc). QoS 0 and 1, subscriber on TLS and the
    publisher on TLS or plain TCP; byte-exact and in order."""
    b, ports = start_transport_broker(broker, certs, ["mqtts", "mqtt"])
    sub = TlsMqtt(ports["mqtts"], certs, version=mqtt_raw.V5)
    sub.connect("big-sub")
    assert sub.subscribe(("big/#", 1)) == [1]
    sizes = [10, 4095, 4096, 5000, 16383, 16384, 16385, 3, 40000, 1023, 1024, 1025,
             100_000, 17, 32768, 65536 + 7]
    rng = random.Random(28)
    for pub in (TlsMqtt(ports["mqtts"], certs, version=mqtt_raw.V5),
                mqtt_raw.RawClient(ports["mqtt"], version=mqtt_raw.V5)):
        pub.connect("")
        sent = []
        for i, size in enumerate(sizes):
            payload = bytes(rng.getrandbits(8) for _ in range(size))
            sent.append((f"big/{i}", payload))
            if i % 2:
                pub.publish_qos1(f"big/{i}", payload)
            else:
                pub.publish(f"big/{i}", payload)
        pub.publish_qos1("big/end", b"end")
        got = [(m.topic, m.payload) for m in sub.messages_until("big/end", timeout=20)]
        assert got[:-1] == sent, [(t, len(p)) for t, p in got]
        pub.disconnect()
    sub.disconnect()
