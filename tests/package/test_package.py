"""The Debian package from tools/package (issue 31), checked without installing it into
this machine: its metadata and contents (dpkg-deb), Debian's lintian, and what is inside
extracted into a temporary root — the broker runs from there on the packaged config and
tells a notify socket it is ready, systemd-analyze verifies the unit and rates its
sandboxing, the man pages render."""

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    made = subprocess.run([str(REPO / "tools/package"), str(out)], capture_output=True,
                          text=True, timeout=600)
    assert made.returncode == 0, made.stderr[-3000:]
    path = Path(made.stdout.strip().splitlines()[-1])
    assert path.exists() and path.suffix == ".deb"
    return path


@pytest.fixture(scope="module")
def root(deb, tmp_path_factory):
    into = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(into)], check=True)
    return into


def field(info, name):
    for line in info.splitlines():
        if line.strip().startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return None


def test_metadata_and_contents(deb):
    info = subprocess.run(["dpkg-deb", "--info", str(deb)], capture_output=True, text=True,
                          check=True).stdout
    assert field(info, "Package") == "peregrine"
    assert field(info, "Architecture") == subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    depends = field(info, "Depends")
    for library in ("libc6", "liburing2", "libsystemd0", "libtomlplusplus3"):
        assert library in depends, depends
    assert "conffiles" in info and "postinst" in info
    contents = subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True,
                              text=True, check=True).stdout
    paths = {line.split()[-1].lstrip(".") for line in contents.splitlines()}
    for path in ("/usr/bin/peregrine", "/usr/bin/peregrine-ctl",
                 "/etc/peregrine/peregrine.toml", "/lib/systemd/system/peregrine.service",
                 "/usr/lib/sysusers.d/peregrine.conf", "/usr/share/man/man8/peregrine.8.gz",
                 "/usr/share/man/man5/peregrine.toml.5.gz",
                 "/usr/share/man/man1/peregrine-ctl.1.gz",
                 "/usr/share/doc/peregrine/copyright"):
        assert path in paths, f"{path} not in the package:\n{contents}"
    assert all(line.startswith(("drwxr-xr-x root/root", "-rw-r--r-- root/root",
                                "-rwxr-xr-x root/root")) for line in contents.splitlines())


def test_lintian_finds_nothing(deb):
    checked = subprocess.run(["lintian", "--tag-display-limit", "0", str(deb)],
                             capture_output=True, text=True, timeout=300)
    tags = [line for line in (checked.stdout + checked.stderr).splitlines()
            if line[:2] in ("E:", "W:", "I:")]
    assert checked.returncode == 0 and not tags, "\n".join(tags)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_extracted_broker_runs_on_the_packaged_config(root, tmp_path):
    binary = root / "usr/bin/peregrine"
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             check=True).stdout
    assert version.startswith("peregrine ")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(20)
    mqtt, http = free_port(), free_port()
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify"),
               STATE_DIRECTORY=str(tmp_path / "state"))
    # The packaged config, with its listeners moved to free ports (flags replace them).
    proc = subprocess.Popen(
        [str(binary), "--config", str(root / "etc/peregrine/peregrine.toml"),
         "--listen", f"mqtt://127.0.0.1:{mqtt}", "--listen", f"http://127.0.0.1:{http}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert b"READY=1" in notify.recv(4096)
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/readyz", timeout=10) as r:
            assert r.status == 200
        subprocess.run(["mosquitto_pub", "-p", str(mqtt), "-t", "pkg", "-m", "x", "-r"],
                       check=True, timeout=10)
        assert (tmp_path / "state/shard-0").is_dir()  # $STATE_DIRECTORY, as under systemd
        assert oct((tmp_path / "state").stat().st_mode & 0o777) == "0o700"
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 0, out


def unit_for_checks(root, tmp_path):
    """The packaged unit, its ExecStart pointing at the extracted binary."""
    unit = (root / "lib/systemd/system/peregrine.service").read_text()
    assert "ExecStart=/usr/bin/peregrine --config /etc/peregrine/peregrine.toml" in unit
    path = tmp_path / "peregrine.service"
    path.write_text(unit.replace("ExecStart=/usr/bin/peregrine",
                                 f"ExecStart={root}/usr/bin/peregrine"))
    return path


def test_systemd_analyze_verifies_the_unit_and_rates_it_ok(root, tmp_path):
    unit = unit_for_checks(root, tmp_path)
    env = dict(os.environ, MANPATH=str(root / "usr/share/man"))  # Documentation= man pages
    verified = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                              text=True, env=env, timeout=60)
    assert verified.returncode == 0 and verified.stderr.strip() == "", verified.stderr
    # --threshold is in tenths: fails above an exposure of 2.0.
    rated = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=20",
                            str(unit)], capture_output=True, text=True, timeout=60)
    assert rated.returncode == 0, rated.stdout[-2000:]
    assert "Overall exposure level for peregrine.service" in rated.stdout
    assert " OK " in rated.stdout.splitlines()[-1] or "PERFECT" in rated.stdout


def test_the_man_pages_render_without_warnings(root):
    for page in ("man8/peregrine.8.gz", "man1/peregrine-ctl.1.gz", "man5/peregrine.toml.5.gz"):
        shown = subprocess.run(["man", "--warnings", "-l", str(root / "usr/share/man" / page)],
                               capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, MANWIDTH="80"))
        assert shown.returncode == 0 and shown.stderr.strip() == "", (page, shown.stderr)
        assert "NAME" in shown.stdout and "SEE ALSO" in shown.stdout
