"""Which wolfSSL the broker runs and what follows from it: `--version` and the start-up
log name the build (Debian's source with AES-NI/assembly, or Debian's binary package);
the server's cipher order follows the hardware; and the fast build still runs on a CPU
without AES-NI or AVX2 (the broker and wolfCrypt's own tests under qemu's "qemu64" CPU,
which has neither), choosing ChaCha20 there.

PEREGRINE_EXPECT_WOLFSSL=fast|system (set by tools/test) says which build this binary
must be; PEREGRINE_QEMU_CPU_CHECK=1 runs the emulated checks (slow: once per suite)."""

import os
import shutil
import subprocess
import time

import pytest

from conftest import BINARY, REPO, free_port, port_accepts, start_transport_broker, \
    tls_library_line

EXPECT = os.environ.get("PEREGRINE_EXPECT_WOLFSSL", "")


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def test_version_names_the_wolfssl_build_and_the_order_follows_the_cpu():
    line = tls_library_line()
    assert line.startswith("wolfSSL "), line
    fast = "with AES-NI/assembly" in line
    if EXPECT:
        assert fast == (EXPECT == "fast"), f"expected the {EXPECT} build: {line}"
    if not fast:
        assert line.endswith("without AES-NI/assembly"), line
        return
    flags = cpu_flags()
    aes = "aes" in flags and "pclmulqdq" in flags
    assert ("AES-GCM first" in line) == aes, (line, sorted(flags & {"aes", "pclmulqdq"}))
    assert ("AVX2" in line) == ("avx2" in flags), line


def test_the_start_up_log_names_the_build_and_a_client_gets_the_first_cipher(broker, certs):
    b, ports = start_transport_broker(broker, certs, ["mqtts"])
    b.wait_for_log(r"tls: wolfSSL \S+ (with AES-NI/assembly|without AES-NI/assembly)")
    aes = "AES-GCM first" in tls_library_line()
    # Python's client offers AES-GCM and ChaCha20 in its own order; the server's wins.
    r = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{ports['mqtts']}", "-tls1_3",
         "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"],
        input=b"", capture_output=True, timeout=15)
    out = r.stdout.decode()
    want = "TLS_AES_128_GCM_SHA256" if aes else "TLS_CHACHA20_POLY1305_SHA256"
    assert f"Cipher is {want}" in out, out


def fast_prefix():
    r = subprocess.run([str(REPO / "subprojects" / "wolfssl" / "build-fast"), "--locate"],
                       capture_output=True, text=True, timeout=30)
    return r.stdout.strip() if r.returncode == 0 else None


def needs_fast_and_qemu():
    if not os.environ.get("PEREGRINE_QEMU_CPU_CHECK"):
        pytest.skip("emulated CPU checks run once, in tools/test's release stage")
    if "with AES-NI/assembly" not in tls_library_line():
        pytest.skip("Debian's wolfSSL: no assembly to check on an older CPU")
    if shutil.which("qemu-x86_64") is None:
        pytest.skip("qemu-user is not installed")


def test_wolfcrypt_passes_its_own_tests_on_a_cpu_without_aesni_or_avx2():
    needs_fast_and_qemu()
    prefix = fast_prefix()
    assert prefix, "the binary has the fast build but build-fast --locate finds none"
    # qemu64: SSE2/SSE3 only. An AES-NI or AVX instruction run unguarded is SIGILL.
    r = subprocess.run(["qemu-x86_64", "-cpu", "qemu64", "./testwolfcrypt"],
                       capture_output=True, text=True, timeout=600,
                       cwd=f"{prefix}/wolfcrypt-test")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "AES-GCM  test passed!" in r.stdout, r.stdout[-2000:]


def test_the_broker_serves_tls_on_a_cpu_without_aesni_or_avx2(certs, tmp_path):
    needs_fast_and_qemu()
    port = free_port()
    log = open(tmp_path / "peregrine.log", "wb")
    proc = subprocess.Popen(
        ["qemu-x86_64", "-cpu", "qemu64", BINARY, "--listen", f"mqtts://127.0.0.1:{port}",
         "--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
         "--shards", "1", "--io", "epoll", "--log-level", "info"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120  # emulated: start-up is slow
        while not port_accepts(port):
            assert proc.poll() is None, (tmp_path / "peregrine.log").read_text()
            assert time.monotonic() < deadline, "the emulated broker did not start"
            time.sleep(0.2)
        version = subprocess.run(["qemu-x86_64", "-cpu", "qemu64", BINARY, "--version"],
                                 capture_output=True, text=True, timeout=60).stdout
        assert "(CPU: neither AES-NI nor AVX2; ChaCha20 first)" in version, version
        r = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3",
             "-CAfile", str(certs / "ca.pem"), "-servername", "localhost"],
            input=b"", capture_output=True, timeout=120)
        out = r.stdout.decode()
        assert "Cipher is TLS_CHACHA20_POLY1305_SHA256" in out, out + r.stderr.decode()
        assert "Verify return code: 0 (ok)" in out, out
        # A client that offers only AES-GCM still gets it, from the C code.
        r = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3",
             "-ciphersuites", "TLS_AES_128_GCM_SHA256"],
            input=b"", capture_output=True, timeout=120)
        assert "Cipher is TLS_AES_128_GCM_SHA256" in r.stdout.decode(), r.stdout.decode()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
