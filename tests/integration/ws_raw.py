"""A byte-level WebSocket client (RFC 6455) for the integration tests: the opening
handshake, masked frames of any shape (including broken ones on purpose), and an MQTT
client (mqtt_raw.RawClient) that speaks over it, optionally inside TLS."""

import base64
import hashlib
import os
import socket
import ssl
import struct
import time

import mqtt_raw

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """A client frame; `length` overrides the encoded payload length (for lies)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    if n < 126:
        head = bytes([b0, (0x80 if mask else 0) | n])
    elif n <= 0xFFFF:
        head = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def open_socket(port, host="127.0.0.1", tls_ca=None, server_name="localhost", timeout=10.0):
    sock = socket.create_connection((host, port), timeout=timeout)
    if tls_ca is not None:
        ctx = ssl.create_default_context(cafile=str(tls_ca))
        sock = ctx.wrap_socket(sock, server_hostname=server_name)
    return sock


def upgrade_request(path="/mqtt", key=None, protocol="mqtt", version="13", host="localhost",
                    method="GET", extra=""):
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
             f"Sec-WebSocket-Version: {version}"]
    if protocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode(), key


def read_http_response(sock, timeout=10.0):
    """(status, {header: value}, leftover bytes) of an HTTP response head."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


class ServerFrames:
    """Decodes the server's (unmasked) frames from a byte stream."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data

    def next(self):
        """(fin, opcode, payload) or None if incomplete."""
        b = self.buf
        if len(b) < 2:
            return None
        assert b[1] & 0x80 == 0, "server frames must not be masked"
        n = b[1] & 0x7F
        off = 2
        if n == 126:
            if len(b) < 4:
                return None
            n = struct.unpack("!H", b[2:4])[0]
            off = 4
        elif n == 127:
            if len(b) < 10:
                return None
            n = struct.unpack("!Q", b[2:10])[0]
            off = 10
        if len(b) < off + n:
            return None
        self.buf = b[off + n:]
        return bool(b[0] & 0x80), b[0] & 0x0F, b[off:off + n]


class WsConnection:
    """A WebSocket connection after a successful upgrade (raw frames both ways)."""

    def __init__(self, port, path="/mqtt", tls_ca=None, protocol="mqtt", timeout=10.0,
                 host="localhost"):
        self.sock = open_socket(port, tls_ca=tls_ca, timeout=timeout)
        request, key = upgrade_request(path, protocol=protocol, host=host)
        self.sock.sendall(request)
        status, headers, rest = read_http_response(self.sock, timeout)
        assert status == 101, f"upgrade answered {status} {headers}"
        assert headers.get("sec-websocket-accept") == accept_for(key), headers
        self.headers = headers
        self.frames = ServerFrames()
        self.frames.feed(rest)

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, opcode, payload=b"", **kw):
        self.sock.sendall(frame(opcode, payload, **kw))

    def read_frame(self, timeout=10.0):
        """The next server frame as (fin, opcode, payload); None if the socket closed."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.frames.next()
            if f is not None:
                return f
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no frame")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                return None
            if not data:
                return None
            self.frames.feed(data)

    def expect_close(self, timeout=10.0):
        """Reads until a Close frame; returns its status code (None if empty). Asserts
        the socket is closed after it."""
        while True:
            f = self.read_frame(timeout)
            assert f is not None, "socket closed without a Close frame"
            fin, op, payload = f
            if op == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.sock.settimeout(timeout)
                try:
                    rest = self.sock.recv(65536)
                except (ConnectionResetError, ssl.SSLError, socket.timeout):
                    rest = b""
                # Nothing but (possibly) a TLS close_notify may follow; then EOF.
                assert self.frames.next() is None
                assert rest == b"", f"bytes after Close: {rest!r}"
                return code

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class WsMqttClient(mqtt_raw.RawClient):
    """mqtt_raw.RawClient over WebSocket: each send() is one Binary frame (or as split by
    `send_frames`); received Binary frames are unwrapped into the MQTT byte buffer."""

    def __init__(self, port, version=mqtt_raw.V311, path="/mqtt", tls_ca=None, timeout=10.0,
                 host="localhost"):
        self.version = version
        self.ws = WsConnection(port, path=path, tls_ca=tls_ca, timeout=timeout, host=host)
        self.sock = self.ws.sock
        self.send_timeout = timeout
        self.buf = b""
        self.queued = []
        self.closed = False
        self._next_id = 1
        self.close_code = None

    def send(self, data):
        self.ws.send(BINARY, data)

    def send_frames(self, *pieces):
        """One MQTT byte stream split over a fragmented message: first piece Binary,
        the rest Continuation, FIN on the last."""
        for i, piece in enumerate(pieces):
            self.ws.send(BINARY if i == 0 else CONT, piece, fin=(i == len(pieces) - 1))

    def _fill(self, deadline):
        if self.closed:
            raise mqtt_raw.ConnectionClosed()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            f = self.ws.read_frame(remaining)
        except TimeoutError:
            return False
        except OSError:
            f = None
        if f is None:
            self.closed = True
            raise mqtt_raw.ConnectionClosed()
        fin, op, payload = f
        if op == CLOSE:
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            self.closed = True
            raise mqtt_raw.ConnectionClosed()
        assert op in (BINARY, CONT), f"unexpected opcode {op}"
        self.buf += payload
        return True
