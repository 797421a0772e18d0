"""Debian's mosquitto_pub/mosquitto_sub with MQTT 5 options against the broker: retained
with properties (-D), QoS 2, persistent sessions (-c -x) with messages queued while away,
and shared subscriptions."""

import subprocess
import time

FORMAT = "%t|%p|%r|%q|%C|%E|%P"


def pub(port, *args):
    r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-V", "5", *args],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr


def sub(port, *args, count=1, wait=10):
    r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-V", "5",
                        "-C", str(count), "-W", str(wait), "-F", FORMAT, *args],
                       capture_output=True, text=True, timeout=wait + 10)
    return r.returncode, r.stdout.splitlines()


def test_retained_qos2_with_properties(broker):
    b = broker()
    pub(b.port, "-q", "2", "-r", "-t", "mq/ret", "-m", "kept",
        "-D", "publish", "user-property", "k", "v",
        "-D", "publish", "content-type", "text/plain",
        "-D", "publish", "message-expiry-interval", "300")
    rc, lines = sub(b.port, "-q", "2", "-t", "mq/#")
    assert rc == 0, lines
    topic, payload, retain, qos, ctype, expiry, props = lines[0].split("|")
    assert (topic, payload, retain, qos, ctype) == ("mq/ret", "kept", "1", "2", "text/plain")
    assert 290 <= int(expiry) <= 300
    assert "k:v" in props


def test_persistent_session_gets_what_was_published_while_away(broker):
    b = broker()
    # Subscribe with Clean Start 0 and a session expiry, then leave (-W ends it).
    rc, _ = sub(b.port, "-c", "-x", "60", "-i", "mq-persist", "-q", "1", "-t", "mq/s/#",
                wait=1)
    for i in range(3):
        pub(b.port, "-q", "1", "-t", f"mq/s/{i}", "-m", f"away {i}")
    rc, lines = sub(b.port, "-c", "-x", "60", "-i", "mq-persist", "-q", "1", "-t", "mq/s/#",
                    count=3)
    assert rc == 0, lines
    assert [line.split("|")[:2] for line in lines] == [[f"mq/s/{i}", f"away {i}"]
                                                       for i in range(3)]


def test_shared_subscription_with_mosquitto_sub(broker):
    b = broker()
    procs = [subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(b.port), "-V",
                               "5", "-t", "$share/grp/mq/sh", "-W", "6", "-F", "%p", "-i",
                               f"mq-sh{i}"], stdout=subprocess.PIPE, text=True)
             for i in range(2)]
    b.wait_for_log(r"suback sent client_id=mq-sh1")
    b.wait_for_log(r"suback sent client_id=mq-sh0")
    for i in range(20):
        pub(b.port, "-t", "mq/sh", "-m", str(i))
    outs = [p.communicate(timeout=20)[0].split() for p in procs]
    assert sorted(int(x) for out in outs for x in out) == list(range(20))
    assert all(outs), outs
