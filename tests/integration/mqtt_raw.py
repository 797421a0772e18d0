"""A tiny raw-socket MQTT client for tests that need exact bytes.

Deliberately independent of the broker's own codec: everything here is written from the
MQTT 3.1, 3.1.1 and 5.0 specifications, so a bug in the broker's encoder or parser cannot
be hidden by sharing code with it.
"""

import errno
import socket
import struct
import time

# Packet types.
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP = 8, 9, 10, 11, 12, 13
DISCONNECT, AUTH = 14, 15

TYPE_NAMES = {
    0: "RESERVED", 1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
    6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE",
    11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH",
}

# Protocol levels.
V31, V311, V5 = 3, 4, 5

# MQTT 5 property identifiers and their wire types.
PAYLOAD_FORMAT_INDICATOR = 0x01
MESSAGE_EXPIRY_INTERVAL = 0x02
CONTENT_TYPE = 0x03
RESPONSE_TOPIC = 0x08
CORRELATION_DATA = 0x09
SUBSCRIPTION_IDENTIFIER = 0x0B
SESSION_EXPIRY_INTERVAL = 0x11
ASSIGNED_CLIENT_IDENTIFIER = 0x12
SERVER_KEEP_ALIVE = 0x13
AUTHENTICATION_METHOD = 0x15
AUTHENTICATION_DATA = 0x16
REQUEST_PROBLEM_INFORMATION = 0x17
WILL_DELAY_INTERVAL = 0x18
REQUEST_RESPONSE_INFORMATION = 0x19
RESPONSE_INFORMATION = 0x1A
SERVER_REFERENCE = 0x1C
REASON_STRING = 0x1F
RECEIVE_MAXIMUM = 0x21
TOPIC_ALIAS_MAXIMUM = 0x22
TOPIC_ALIAS = 0x23
MAXIMUM_QOS = 0x24
RETAIN_AVAILABLE = 0x25
USER_PROPERTY = 0x26
MAXIMUM_PACKET_SIZE = 0x27
WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28
SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29
SHARED_SUBSCRIPTION_AVAILABLE = 0x2A

PROPERTY_TYPES = {
    0x01: "byte", 0x02: "u32", 0x03: "str", 0x08: "str", 0x09: "bin", 0x0B: "varint",
    0x11: "u32", 0x12: "str", 0x13: "u16", 0x15: "str", 0x16: "bin", 0x17: "byte",
    0x18: "u32", 0x19: "byte", 0x1A: "str", 0x1C: "str", 0x1F: "str", 0x21: "u16",
    0x22: "u16", 0x23: "u16", 0x24: "byte", 0x25: "byte", 0x26: "pair", 0x27: "u32",
    0x28: "byte", 0x29: "byte", 0x2A: "byte",
}


# ---------------------------------------------------------------------------------------
# Encoding


def varint(n):
    """Variable Byte Integer, minimal encoding."""
    assert 0 <= n <= 268_435_455
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def utf8(s):
    """A length-prefixed string; `s` may be bytes to send invalid UTF-8 on purpose."""
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return u16(len(b)) + b


def binary(b):
    return u16(len(b)) + bytes(b)


def encode_property(pid, value):
    kind = PROPERTY_TYPES[pid]
    body = varint(pid)
    if kind == "byte":
        return body + bytes([value])
    if kind == "u16":
        return body + u16(value)
    if kind == "u32":
        return body + u32(value)
    if kind == "varint":
        return body + varint(value)
    if kind == "str":
        return body + utf8(value)
    if kind == "bin":
        return body + binary(value)
    if kind == "pair":
        return body + utf8(value[0]) + utf8(value[1])
    raise AssertionError(kind)


def props(*pairs):
    """Encoded property block (length + properties) from (id, value) pairs."""
    body = b"".join(encode_property(pid, value) for pid, value in pairs)
    return varint(len(body)) + body


def packet(ptype, flags, body):
    """Fixed header + body."""
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + bytes(body)


def connect_raw(protocol_name, level, flags, keepalive, payload, properties=b""):
    """A CONNECT with every field under the caller's control.

    `properties` is the already-encoded property block (v5 only, include the length).
    """
    body = utf8(protocol_name) + bytes([level, flags]) + u16(keepalive) + properties + payload
    return packet(CONNECT, 0, body)


def connect(client_id="", version=V311, clean=True, keepalive=60, username=None,
            password=None, will=None, properties=()):
    """A well-formed CONNECT.

    will: dict(topic=..., payload=b"...", qos=0, retain=False, properties=()).
    properties: (id, value) pairs (v5 only).
    """
    flags = 0x02 if clean else 0
    payload = utf8(client_id)
    if will is not None:
        flags |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
        if version == V5:
            payload += props(*will.get("properties", ()))
        payload += utf8(will["topic"]) + binary(will.get("payload", b""))
    if username is not None:
        flags |= 0x80
        payload += utf8(username)
    if password is not None:
        flags |= 0x40
        payload += binary(password.encode() if isinstance(password, str) else password)
    name = "MQIsdp" if version == V31 else "MQTT"
    return connect_raw(name, version, flags, keepalive, payload,
                       props(*properties) if version == V5 else b"")


def subscribe(packet_id, filters, version=V311, properties=()):
    """filters: list of topic filters or (filter, options byte) pairs."""
    body = u16(packet_id)
    if version == V5:
        body += props(*properties)
    for f in filters:
        if isinstance(f, tuple):
            body += utf8(f[0]) + bytes([f[1]])
        else:
            body += utf8(f) + b"\x00"
    return packet(SUBSCRIBE, 0x2, body)


def unsubscribe(packet_id, filters, version=V311, properties=()):
    body = u16(packet_id)
    if version == V5:
        body += props(*properties)
    for f in filters:
        body += utf8(f)
    return packet(UNSUBSCRIBE, 0x2, body)


def publish(topic, payload=b"", version=V311, qos=0, retain=False, dup=False,
            packet_id=None, properties=()):
    flags = (qos << 1) | (0x1 if retain else 0) | (0x8 if dup else 0)
    body = utf8(topic)
    if qos > 0:
        body += u16(packet_id if packet_id is not None else 1)
    if version == V5:
        body += props(*properties)
    body += payload.encode() if isinstance(payload, str) else bytes(payload)
    return packet(PUBLISH, flags, body)


def ack(ptype, packet_id, reason=None, properties=()):
    """PUBACK/PUBREC/PUBREL/PUBCOMP; without `reason` the short form valid for every
    version, with it the v5 form (reason code and property block)."""
    body = u16(packet_id)
    if reason is not None:
        body += bytes([reason]) + props(*properties)
    return packet(ptype, 0x2 if ptype == PUBREL else 0, body)


def sub_options(qos=0, no_local=False, retain_as_published=False, retain_handling=0):
    """The v5 Subscription Options byte."""
    return (qos | (0x04 if no_local else 0) | (0x08 if retain_as_published else 0)
            | (retain_handling << 4))


def pingreq():
    return b"\xc0\x00"


def disconnect(reason=None, properties=()):
    if reason is None:
        return b"\xe0\x00"
    return packet(DISCONNECT, 0, bytes([reason]) + props(*properties))


# ---------------------------------------------------------------------------------------
# Decoding


class MalformedFromBroker(AssertionError):
    pass


class Packet:
    def __init__(self, first_byte, body):
        self.type = first_byte >> 4
        self.flags = first_byte & 0x0F
        self.body = body
        self.raw = bytes([first_byte]) + varint(len(body)) + body

    def __repr__(self):
        return f"<{TYPE_NAMES[self.type]} flags={self.flags:#x} body={self.body.hex()}>"


def decode_varint(data, off):
    value, mult = 0, 1
    for i in range(4):
        if off + i >= len(data):
            return None, off
        b = data[off + i]
        value += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            return value, off + i + 1
    raise MalformedFromBroker(f"5-byte varint from broker: {data[off:off + 5].hex()}")


def parse_props(data, off):
    """Returns ({id: value, or a list for user properties and subscription
    identifiers}, new offset)."""
    length, off = decode_varint(data, off)
    if length is None or off + length > len(data):
        raise MalformedFromBroker("property length past end of packet")
    end = off + length
    out = {}
    while off < end:
        pid, off = decode_varint(data, off)
        kind = PROPERTY_TYPES.get(pid)
        if kind is None:
            raise MalformedFromBroker(f"unknown property id {pid:#x}")
        if kind == "byte":
            val, off = data[off], off + 1
        elif kind == "u16":
            val, off = struct.unpack_from(">H", data, off)[0], off + 2
        elif kind == "u32":
            val, off = struct.unpack_from(">I", data, off)[0], off + 4
        elif kind == "varint":
            val, off = decode_varint(data, off)
        elif kind in ("str", "bin"):
            n = struct.unpack_from(">H", data, off)[0]
            val, off = data[off + 2:off + 2 + n], off + 2 + n
            if kind == "str":
                val = val.decode("utf-8")
        else:
            n = struct.unpack_from(">H", data, off)[0]
            k = data[off + 2:off + 2 + n].decode()
            off += 2 + n
            n = struct.unpack_from(">H", data, off)[0]
            v = data[off + 2:off + 2 + n].decode()
            off += 2 + n
            out.setdefault(pid, []).append((k, v))
            continue
        if pid == SUBSCRIPTION_IDENTIFIER:
            # May appear more than once in a PUBLISH [MQTT-3.3.4-4]: always a list.
            out.setdefault(pid, []).append(val)
            continue
        if pid in out:
            raise MalformedFromBroker(f"duplicate property {pid:#x} from broker")
        out[pid] = val
    if off != end:
        raise MalformedFromBroker("property block overruns its length")
    return out, end


class Connack:
    def __init__(self, pkt, version):
        if pkt.type != CONNACK:
            raise AssertionError(f"expected CONNACK, got {pkt!r}")
        self.session_present = bool(pkt.body[0] & 1)
        self.code = pkt.body[1]
        self.props = {}
        if version == V5 and len(pkt.body) > 2:
            self.props, end = parse_props(pkt.body, 2)
            assert end == len(pkt.body), f"trailing bytes in CONNACK {pkt!r}"


class Suback:
    def __init__(self, pkt, version):
        if pkt.type not in (SUBACK, UNSUBACK):
            raise AssertionError(f"expected SUBACK/UNSUBACK, got {pkt!r}")
        self.packet_id = struct.unpack_from(">H", pkt.body, 0)[0]
        off = 2
        self.props = {}
        if version == V5:
            self.props, off = parse_props(pkt.body, off)
        self.codes = list(pkt.body[off:])


class Disconnect:
    def __init__(self, pkt):
        if pkt.type != DISCONNECT:
            raise AssertionError(f"expected DISCONNECT, got {pkt!r}")
        self.reason = pkt.body[0] if pkt.body else 0
        self.props = parse_props(pkt.body, 1)[0] if len(pkt.body) > 1 else {}


class Ack:
    """PUBACK/PUBREC/PUBREL/PUBCOMP: packet id, reason code (0 when omitted), properties."""

    def __init__(self, pkt, ptype=None):
        if ptype is not None and pkt.type != ptype:
            raise AssertionError(f"expected {TYPE_NAMES[ptype]}, got {pkt!r}")
        if pkt.type not in (PUBACK, PUBREC, PUBREL, PUBCOMP):
            raise AssertionError(f"expected an acknowledgement, got {pkt!r}")
        want_flags = 0x2 if pkt.type == PUBREL else 0
        if pkt.flags != want_flags:
            raise MalformedFromBroker(f"{TYPE_NAMES[pkt.type]} flags {pkt.flags:#x}")
        if len(pkt.body) < 2:
            raise MalformedFromBroker(f"short acknowledgement {pkt!r}")
        self.type = pkt.type
        self.packet_id = struct.unpack_from(">H", pkt.body, 0)[0]
        self.reason = pkt.body[2] if len(pkt.body) > 2 else 0
        self.props = {}
        if len(pkt.body) > 3:
            self.props, end = parse_props(pkt.body, 3)
            if end != len(pkt.body):
                raise MalformedFromBroker(f"trailing bytes in {pkt!r}")

    def __repr__(self):
        return f"<{TYPE_NAMES[self.type]} id={self.packet_id} reason={self.reason:#x}>"


class Message:
    def __init__(self, pkt, version):
        if pkt.type != PUBLISH:
            raise AssertionError(f"expected PUBLISH, got {pkt!r}")
        self.raw = pkt.raw
        self.qos = (pkt.flags >> 1) & 3
        self.retain = bool(pkt.flags & 1)
        self.dup = bool(pkt.flags & 8)
        n = struct.unpack_from(">H", pkt.body, 0)[0]
        self.topic = pkt.body[2:2 + n].decode("utf-8")
        off = 2 + n
        self.packet_id = None
        if self.qos:
            self.packet_id = struct.unpack_from(">H", pkt.body, off)[0]
            off += 2
        self.props = {}
        if version == V5:
            self.props, off = parse_props(pkt.body, off)
        self.payload = pkt.body[off:]

    def __repr__(self):
        return f"<PUBLISH {self.topic!r} {self.payload[:40]!r} q{self.qos} r{int(self.retain)}>"


# ---------------------------------------------------------------------------------------
# The client


class ConnectionClosed(Exception):
    pass


class RawClient:
    """One TCP connection speaking MQTT byte by byte.

    PUBLISH packets that arrive while waiting for something else are queued, so
    `next_message` never loses one.
    """

    # Bytes written by every RawClient of this process: what the broker's bytes_in
    # counter must come to when only raw clients spoke to it.
    sent_total = 0

    def __init__(self, port, version=V311, host="127.0.0.1", rcvbuf=None, timeout=10.0,
                 source=None):
        """source: the local address to connect from (any of 127/8 reaches a loopback
        listener: how per-address limits are tested)."""
        self.version = version
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source is not None:
            self.sock.bind((source, 0))
        self.send_timeout = timeout
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = b""
        self.queued = []
        self.closed = False
        self._next_id = 1

    # -- bytes -------------------------------------------------------------------------

    def send(self, data):
        self.sock.settimeout(self.send_timeout)
        self.sock.sendall(data)
        RawClient.sent_total += len(data)

    def _fill(self, deadline):
        """Reads more bytes into self.buf. False on timeout; ConnectionClosed on EOF/RST."""
        if self.closed:
            raise ConnectionClosed()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError as e:
            if e.errno in (errno.ECONNRESET, errno.EPIPE):
                self.closed = True
                raise ConnectionClosed() from e
            raise
        if not data:
            self.closed = True
            raise ConnectionClosed()
        self.buf += data
        return True

    def _take_packet(self):
        if len(self.buf) < 2:
            return None
        length, off = decode_varint(self.buf, 1)
        if length is None or len(self.buf) < off + length:
            return None
        pkt = Packet(self.buf[0], self.buf[off:off + length])
        self.buf = self.buf[off + length:]
        return pkt

    def read_packet(self, timeout=10.0):
        """The next packet (queued PUBLISHes first). Raises TimeoutError / ConnectionClosed."""
        if self.queued:
            return self.queued.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            pkt = self._take_packet()
            if pkt is not None:
                return pkt
            if not self._fill(deadline):
                raise TimeoutError(f"no packet within {timeout}s (buffered: {self.buf.hex()})")

    def try_read_packet(self, timeout):
        """Like read_packet but returns None on timeout."""
        try:
            return self.read_packet(timeout)
        except TimeoutError:
            return None

    def read_until(self, ptype, timeout=10.0):
        """Reads until a packet of `ptype`; PUBLISHes on the way are queued, others fail."""
        deadline = time.monotonic() + timeout
        while True:
            pkt = self._take_packet()
            if pkt is None:
                if not self._fill(deadline):
                    raise TimeoutError(f"no {TYPE_NAMES[ptype]} within {timeout}s")
                continue
            if pkt.type == ptype:
                return pkt
            if pkt.type == PUBLISH:
                self.queued.append(pkt)
                continue
            raise AssertionError(f"expected {TYPE_NAMES[ptype]}, got {pkt!r}")

    def expect_closed(self, timeout=10.0):
        """True when the peer closes (EOF or reset) within `timeout`; bytes received on
        the way stay in self.buf for inspection."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                if not self._fill(deadline):
                    return False
        except ConnectionClosed:
            return True

    def is_open(self):
        """Non-blocking check: False if the peer has closed (pending data is left alone)."""
        if self.closed:
            return False
        self.sock.setblocking(False)
        try:
            data = self.sock.recv(1 << 20, socket.MSG_PEEK)
            if data == b"":
                return False
            return True
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            self.sock.setblocking(True)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    # -- MQTT --------------------------------------------------------------------------

    def packet_id(self):
        pid = self._next_id
        self._next_id = self._next_id % 65535 + 1
        return pid

    def connect(self, client_id="", expect_code=0, timeout=10.0, **kw):
        """Sends CONNECT, returns the parsed CONNACK, asserting its code."""
        self.send(connect(client_id, version=self.version, **kw))
        ack_ = Connack(self.read_packet(timeout), self.version)
        assert ack_.code == expect_code, \
            f"CONNACK code {ack_.code:#x}, expected {expect_code:#x} (props {ack_.props})"
        return ack_

    def subscribe(self, *filters, timeout=10.0, properties=()):
        """Sends SUBSCRIBE, returns the list of SUBACK codes."""
        pid = self.packet_id()
        self.send(subscribe(pid, list(filters), self.version, properties))
        sub = Suback(self.read_until(SUBACK, timeout), self.version)
        assert sub.packet_id == pid, f"SUBACK for packet id {sub.packet_id}, sent {pid}"
        return sub.codes

    def unsubscribe(self, *filters, timeout=10.0):
        """Sends UNSUBSCRIBE, returns the UNSUBACK reason codes (v5) or [] (v3)."""
        pid = self.packet_id()
        self.send(unsubscribe(pid, list(filters), self.version))
        sub = Suback(self.read_until(UNSUBACK, timeout), self.version)
        assert sub.packet_id == pid
        return sub.codes

    def publish(self, topic, payload=b"", **kw):
        self.send(publish(topic, payload, self.version, **kw))

    def send_ack(self, ptype, packet_id, reason=None):
        self.send(ack(ptype, packet_id, reason))

    def read_ack(self, ptype, timeout=10.0):
        """The next acknowledgement of `ptype` (PUBLISHes on the way are queued)."""
        return Ack(self.read_until(ptype, timeout), ptype)

    def publish_qos1(self, topic, payload=b"", packet_id=None, timeout=10.0, **kw):
        """QoS 1 PUBLISH and its PUBACK (checked for the packet id); returns the Ack."""
        pid = packet_id if packet_id is not None else self.packet_id()
        self.publish(topic, payload, qos=1, packet_id=pid, **kw)
        a = self.read_ack(PUBACK, timeout)
        assert a.packet_id == pid, f"PUBACK for {a.packet_id}, sent {pid}"
        return a

    def publish_qos2(self, topic, payload=b"", packet_id=None, timeout=10.0, **kw):
        """The whole QoS 2 flow (PUBLISH, PUBREC, PUBREL, PUBCOMP); returns the PUBCOMP."""
        pid = packet_id if packet_id is not None else self.packet_id()
        self.publish(topic, payload, qos=2, packet_id=pid, **kw)
        rec = self.read_ack(PUBREC, timeout)
        assert (rec.packet_id, rec.reason) == (pid, 0), f"{rec!r} for {pid}"
        self.send_ack(PUBREL, pid)
        comp = self.read_ack(PUBCOMP, timeout)
        assert (comp.packet_id, comp.reason) == (pid, 0), f"{comp!r} for {pid}"
        return comp

    def no_packet(self, timeout=0.3):
        """Asserts nothing (not even a queued PUBLISH) arrives within `timeout`."""
        pkt = self.try_read_packet(timeout)
        assert pkt is None, f"unexpected {pkt!r}"

    def ping(self, timeout=10.0):
        self.send(pingreq())
        pkt = self.read_until(PINGRESP, timeout)
        assert pkt.raw == b"\xd0\x00", f"PINGRESP bytes {pkt.raw.hex()}"

    def next_message(self, timeout=10.0):
        """The next PUBLISH as a Message; anything else is an error."""
        pkt = self.read_packet(timeout)
        if pkt.type != PUBLISH:
            raise AssertionError(f"expected PUBLISH, got {pkt!r}")
        return Message(pkt, self.version)

    def messages_until(self, topic, payload=None, timeout=10.0):
        """Every message up to and including the first on `topic` (with `payload`, if
        given). Used as a barrier: messages from one publisher arrive in order."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"marker {topic!r} not received; got {out[-5:]}")
            msg = self.next_message(remaining)
            out.append(msg)
            if msg.topic == topic and (payload is None or msg.payload == payload):
                return out

    def disconnect(self):
        """DISCONNECT, then wait (up to 5 s) for the broker to close the connection: a
        CONNECT with the same client id sent at once could otherwise reach the broker
        before this DISCONNECT is read, and be (rightly) a takeover of a live session."""
        try:
            self.send(disconnect())
        except OSError:
            self.close()
            return
        self.expect_closed(timeout=5.0)
        self.close()


def connected(port, client_id, version=V311, source=None, **kw):
    """A RawClient that has completed CONNECT/CONNACK successfully."""
    c = RawClient(port, version, source=source)
    c.connect(client_id, **kw)
    return c
