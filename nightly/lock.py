"""One nightly run per run root at a time: an OS lock (flock) on `<root>/.freshcast-run.lock`.

The kernel releases the lock when its process dies, however it dies, so a lock left by a
killed run is simply taken over; the file's text names the holder (pid, host, start time)."""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import FreshcastError, RunLocked
from .manifest import now

LOCK_FILE = ".freshcast-run.lock"


@contextmanager
def run_lock(root: Path) -> Iterator[dict | None]:
    """Hold the run root's lock; yields what the file said of an earlier holder that died
    (None if there was none). RunLocked naming the holder if another live run holds it."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise FreshcastError(f"{path}: cannot take the run lock: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _locked(root, fd) from None
        earlier = _holder(fd)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": now()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        try:
            yield earlier
        finally:
            os.ftruncate(fd, 0)  # free: the file stays (removing it would race a run taking it)
    finally:
        os.close(fd)


def check_lock_free(root: Path) -> None:
    """RunLocked naming the holder if a live run holds `root`'s lock now: a look before slow
    work (loading a history) that creates nothing; `run_lock` takes the lock after it."""
    try:
        fd = os.open(root / LOCK_FILE, os.O_RDONLY)
    except OSError:  # no lock file, so no run yet (or one run_lock will report)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # released as the file is closed
    except BlockingIOError:
        raise _locked(root, fd) from None
    finally:
        os.close(fd)


def _locked(root: Path, fd: int) -> RunLocked:
    return RunLocked(f"{root}: another freshcast run holds it ({_describe(_holder(fd))}); wait for it or stop it")


def _holder(fd: int) -> dict | None:
    text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"pid": "?", "host": "?", "started": "?"}


def _describe(holder: dict | None) -> str:
    if holder is None:
        return "it is just starting"
    return f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"
