"""Stopping one thread of the broker while the rest runs (ptrace SEIZE + INTERRUPT, as a
debugger does): a stuck shard for the watchdog, a shard mid-recovery for readiness, the
epoll backend's disk helper for writes that do not complete. The process goes on; the
thread resumes at release()."""

import ctypes
import os
import time

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


def thread_of(pid, name, within=0.0):
    """The id of `pid`'s thread named `name` (its comm), waiting up to `within` seconds
    for it to appear."""
    deadline = time.monotonic() + within
    while True:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    if f.read().strip() == name:
                        return int(tid)
            except OSError:
                continue  # the thread ended meanwhile
        if time.monotonic() >= deadline:
            raise AssertionError(f"no thread {name} in {pid}")
        time.sleep(0.01)


def stop(tid):
    """Stops thread `tid` and returns once it is stopped."""
    assert _libc.ptrace(PTRACE_SEIZE, tid, None, None) == 0, os.strerror(ctypes.get_errno())
    assert _libc.ptrace(PTRACE_INTERRUPT, tid, None, None) == 0
    os.waitpid(tid, WALL)


def release(tid):
    assert _libc.ptrace(PTRACE_DETACH, tid, None, None) == 0
