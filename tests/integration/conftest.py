"""Fixtures for the integration tests: the real peregrine binary on free ports.

Run from the repository root with Debian's python (paho-mqtt lives there):

    /usr/bin/python3 -m pytest tests/integration -q

Environment:
    PEREGRINE_BIN            path of the binary (default: build/peregrine)
    PEREGRINE_IO_BACKENDS    comma-separated io backends to run every test on
                             (default: "uring,epoll")
    PEREGRINE_STORM_COUNT    retained messages in test_retained_storm.py (default
                             100000; lower it for slow builds such as ASan)

MQTT.js for test_mqttjs_client.py is installed by tools/bootstrap (npm ci in js/).
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

REPO = HERE.parent.parent
BINARY = os.environ.get("PEREGRINE_BIN", str(REPO / "build" / "peregrine"))
BACKENDS = [b.strip() for b in
            os.environ.get("PEREGRINE_IO_BACKENDS", "uring,epoll").split(",") if b.strip()]

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "runtime error:")
CONNECTED_RE = r"client connected client_id={id} shard=(\d+) protocol=([345])"
COUNTERS_RE = r"counters:((?: [A-Za-z0-9_.]+=\d+)+)\s*$"


def free_ports(n):
    """`n` distinct ports nobody listens on right now (bind to 0, read it, close)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port():
    return free_ports(1)[0]


def port_accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def binary_sanitizer():
    """"thread", "address" or None: the sanitizer BINARY was built with (its runtime's
    entry point is among its dynamic symbols)."""
    require_binary()
    symbols = subprocess.run(["nm", "-D", "--defined-only", BINARY], capture_output=True,
                             text=True, timeout=30).stdout
    if "__tsan_init" in symbols:
        return "thread"
    if "__asan_init" in symbols:
        return "address"
    return None


def run_cli(*args, timeout=10):
    """Runs the binary to completion (for flags that exit immediately)."""
    require_binary()
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout)


class Broker:
    """One running peregrine process. Created by the `broker` fixture factory."""

    def __init__(self, workdir, backend, *, config=None, args=(), shards=2, listeners=1,
                 log_level="debug", default_args=True, wait_ports=None, env=None,
                 expect_exit=0, nofile=None, soft_nofile=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.backend = backend
        self.expect_exit = expect_exit
        self.ports = free_ports(listeners) if default_args else []
        self.port = self.ports[0] if self.ports else None
        self.log_path = self.workdir / "peregrine.log"
        self.config_path = None

        cmd = [BINARY]
        if config is not None:
            self.config_path = self.workdir / "peregrine.toml"
            self.config_path.write_text(config)
            cmd += ["--config", str(self.config_path)]
        if default_args:
            for p in self.ports:
                cmd += ["--listen", f"mqtt://127.0.0.1:{p}"]
            cmd += ["--shards", str(shards), "--io", backend, "--log-level", log_level]
        cmd += list(args)
        # Each broker keeps its state (admin token, revocations) in its own directory,
        # never the repository's ./peregrine-state.
        if "--state-dir" not in cmd and "state_dir" not in (config or ""):
            cmd += ["--state-dir", str(self.workdir / "state")]
        self.cmd = cmd

        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self._log_file = open(self.log_path, "wb")
        def limit_files():
            # nofile: soft and hard; soft_nofile: (soft, hard), the broker may raise soft.
            if nofile is not None or soft_nofile is not None:
                import resource
                resource.setrlimit(resource.RLIMIT_NOFILE,
                                   (nofile, nofile) if nofile is not None else soft_nofile)

        self.proc = subprocess.Popen(cmd, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=full_env,
                                     preexec_fn=limit_files)
        self.returncode = None

        to_wait = self.ports if wait_ports is None else list(wait_ports)
        if to_wait and not self._wait_ready(to_wait):
            self.kill()
            raise AssertionError(
                f"broker did not start listening on {to_wait}: {' '.join(cmd)}\n"
                f"--- log ---\n{self.log_text()}")

    def _wait_ready(self, ports, timeout=20.0):
        deadline = time.monotonic() + timeout
        pending = list(ports)
        while pending and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if port_accepts(pending[0]):
                pending.pop(0)
            else:
                time.sleep(0.02)
        return not pending

    # -- logs --------------------------------------------------------------------------

    def log_text(self):
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_pos(self):
        """Current log length; pass as `since` to only see later lines."""
        return len(self.log_text())

    def wait_for_log(self, regex, timeout=10.0, since=0):
        """Polls the log for `regex` (re.MULTILINE), returns the match."""
        pattern = re.compile(regex, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            m = pattern.search(self.log_text(), since)
            if m:
                return m
            if time.monotonic() > deadline:
                tail = self.log_text()[-3000:]
                raise AssertionError(f"log line /{regex}/ not seen within {timeout}s; "
                                     f"log tail:\n{tail}")
            if self.proc.poll() is not None:
                # The process is gone: one last look, then give up.
                m = pattern.search(self.log_text(), since)
                if m:
                    return m
                raise AssertionError(f"broker exited ({self.proc.returncode}) before "
                                     f"/{regex}/ was logged:\n{self.log_text()[-3000:]}")
            time.sleep(0.02)

    def wait_input_read(self, timeout=10.0):
        """Waits until the broker has read every byte sent to its listening port (each of
        its accepted sockets shows an empty receive queue in `ss`)."""
        deadline = time.monotonic() + timeout
        while True:
            out = subprocess.run(["ss", "-Htn", "state", "established", f"sport = :{self.port}"],
                                 capture_output=True, text=True, check=True).stdout
            queued = [int(line.split()[0]) for line in out.splitlines() if line.strip()]
            if not any(queued):
                return
            assert time.monotonic() < deadline, f"unread input after {timeout}s: {out}"
            time.sleep(0.02)

    def shard_of(self, client_id, since=0, timeout=10.0):
        """The home shard logged for `client_id`'s CONNECT (first one after `since`)."""
        m = self.wait_for_log(CONNECTED_RE.format(id=re.escape(client_id)) + r"\b",
                              timeout, since)
        return int(m.group(1))

    def counters(self):
        """Stops the broker (SIGTERM) and returns its `counters:` line as {name: int}."""
        self.stop()
        found = re.findall(COUNTERS_RE, self.log_text(), re.MULTILINE)
        assert found, f"no counters: line in the log:\n{self.log_text()[-3000:]}"
        return {k: int(v) for k, v in (kv.split("=") for kv in found[-1].split())}

    def client_on_shard(self, prefix, version, want=None, exclude=None, **connect_kw):
        """Connects raw clients `prefix0`, `prefix1`, ... until one's home shard is
        `want` (or any but `exclude`); returns (client, client_id, shard). The others
        are disconnected."""
        import mqtt_raw
        for i in range(64):
            cid = f"{prefix}{i}"
            pos = self.log_pos()
            c = mqtt_raw.connected(self.port, cid, version, **connect_kw)
            shard = self.shard_of(cid, since=pos)
            if (want is None or shard == want) and (exclude is None or shard != exclude):
                return c, cid, shard
            c.disconnect()
        raise AssertionError(f"no client id {prefix}N has home shard {want} "
                             f"(not {exclude}) in 64 tries")

    # -- process -----------------------------------------------------------------------

    def alive(self):
        return self.proc.poll() is None

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signals the broker and waits for it; returns the exit code (None if it had to
        be killed). Idempotent."""
        if self.returncode is None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.returncode = "hung"
                return None
        if self.returncode is None:
            self.returncode = self.proc.returncode
        self._log_file.close()
        return self.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log_file.close()

    def problems(self):
        """Teardown checks: exit code and sanitizer reports."""
        out = []
        code = self.stop()
        if self.returncode == "hung":
            out.append("broker did not exit within 10 s of SIGTERM (killed)")
        elif self.expect_exit is not None and code != self.expect_exit:
            out.append(f"broker exit code {code}, expected {self.expect_exit}")
        log = self.log_text()
        for marker in SANITIZER_MARKERS:
            if marker in log:
                out.append(f"sanitizer report in log ({marker!r})")
        return out


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(scope="module", params=BACKENDS)
def io_backend(request):
    return request.param


def require_binary():
    if not os.access(BINARY, os.X_OK):
        pytest.fail(f"no broker binary at {BINARY} (build it, or set PEREGRINE_BIN)",
                    pytrace=False)


class _Factory:
    def __init__(self, base, backend):
        require_binary()
        self.base = Path(base)
        self.backend = backend
        self.started = []

    def __call__(self, config=None, args=(), **kw):
        b = Broker(self.base / f"broker{len(self.started)}", self.backend,
                   config=config, args=args, **kw)
        self.started.append(b)
        return b

    def finish(self, failed):
        problems = []
        for b in self.started:
            for p in b.problems():
                problems.append(f"{p}: {' '.join(b.cmd)}")
        if problems or failed:
            for b in self.started:
                print(f"\n--- {' '.join(b.cmd)} (exit {b.returncode}) ---")
                text = b.log_text()
                print(text if len(text) < 20000 else "[...]\n" + text[-20000:])
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def broker(request, io_backend, tmp_path):
    """Factory: broker(config=None, args=(), shards=2, listeners=1, log_level="debug",
    default_args=True, wait_ports=None, env=None, expect_exit=0) -> Broker.

    Each broker is stopped with SIGTERM at teardown; a non-zero exit (or other than
    expect_exit) or a sanitizer report in its log fails the test."""
    factory = _Factory(tmp_path, io_backend)
    yield factory
    rep = getattr(request.node, "rep_call", None)
    factory.finish(failed=rep is not None and rep.failed)


@pytest.fixture(scope="module")
def module_broker_factory(io_backend, tmp_path_factory):
    """Like `broker`, but shared by every test of a module (per backend)."""
    factory = _Factory(tmp_path_factory.mktemp(f"mod-{io_backend}"), io_backend)
    yield factory
    factory.finish(failed=False)


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """A throw-away CA, server and client certificates from tools/make-certs."""
    out = tmp_path_factory.mktemp("certs")
    subprocess.run([str(REPO / "tools" / "make-certs"), str(out)], check=True,
                   capture_output=True, timeout=60)
    return out


def tls_library_line():
    """What the binary says of its wolfSSL (`peregrine --version`'s "tls:" line)."""
    out = subprocess.run([BINARY, "--version"], capture_output=True, text=True,
                         timeout=10).stdout
    for line in out.splitlines():
        if line.startswith("tls: "):
            return line[len("tls: "):]
    raise AssertionError(f"no tls: line in --version output: {out!r}")


def tls_aes_first():
    """Whether the server's cipher order puts AES-GCM first (fast wolfSSL, AES-NI CPU)."""
    return "AES-GCM first" in tls_library_line()


def launch_chromium(url, profile_dir):
    """Headless Chromium (Debian's, from tools/bootstrap) on `url`; the caller kills it."""
    import shutil
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium missing: run tools/bootstrap", pytrace=False)
    return subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-dev-shm-usage", f"--user-data-dir={profile_dir}", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def start_transport_broker(broker, certs, schemes, *, shards=2, extra_args=(), config=None,
                           log_level="debug"):
    """A broker listening on one free port per scheme in `schemes` (e.g. ["mqtts", "wss"],
    paths allowed: "ws:/custom"), with the test certificates. Returns (broker, {scheme: port})."""
    ports = free_ports(len(schemes))
    args = []
    by_scheme = {}
    for scheme, port in zip(schemes, ports):
        name, _, path = scheme.partition(":")
        args += ["--listen", f"{name}://127.0.0.1:{port}{path}"]
        by_scheme[scheme] = port
    if certs is not None:
        args += ["--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key")]
    b = broker(config=config, default_args=False, wait_ports=ports,
               args=args + ["--shards", str(shards), "--io", broker.backend,
                            "--log-level", log_level, *extra_args])
    b.port = None
    return b, by_scheme
