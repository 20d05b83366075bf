"""One daemon per storage: the lock in-process, and a second ``newsmon run`` as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.lock import LockHeld, acquire, holder, lock_path

NEWSMON = [sys.executable, "-m", "monitor"]


def test_sqlite_lock_names_the_holder_and_is_released(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/newsmon.db"
    assert holder(url) is None
    with acquire(url):
        assert lock_path(f"{tmp_path}/newsmon.db").read_text().strip() == str(os.getpid())
        assert holder(url) == f"PID {os.getpid()}"
        with pytest.raises(LockHeld, match=f"PID {os.getpid()}"):
            acquire(url)
    with acquire(url):              # released: taken again
        pass


def test_a_stale_lock_file_from_a_dead_process_does_not_block(tmp_path: Path) -> None:
    lock_path(f"{tmp_path}/newsmon.db").write_text("999999999\n")
    assert holder(f"sqlite:///{tmp_path}/newsmon.db") is None
    with acquire(f"sqlite:///{tmp_path}/newsmon.db"):
        pass


def test_postgresql_lock_names_the_holder_and_is_released(pg_schema_url: str) -> None:
    with acquire(pg_schema_url):
        assert (holder(pg_schema_url) or "").startswith(f"PID {os.getpid()} host=")
        with pytest.raises(LockHeld, match=f"PID {os.getpid()}"):
            acquire(pg_schema_url)
    assert holder(pg_schema_url) is None
    with acquire(pg_schema_url):
        pass


def _config(folder: Path) -> Path:
    path = folder / "config.yaml"
    path.write_text("storage: store/\nsources: []\n")
    return path


def test_a_second_daemon_exits_at_once_naming_the_first(tmp_path: Path) -> None:
    config = _config(tmp_path)
    first = subprocess.Popen([*NEWSMON, "run", "-c", str(config)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        lock = tmp_path / "store" / "newsmon.db.lock"
        deadline = time.monotonic() + 10
        while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        second = subprocess.run([*NEWSMON, "run", "-c", str(config)], capture_output=True, text=True, timeout=20)
        took = time.monotonic() - started
        assert second.returncode != 0, second.stderr
        assert f"PID {first.pid}" in second.stderr, second.stderr
        # "At once": the interpreter's start-up (about 1 s here, more on a loaded machine), no waiting.
        assert took < 8, took
        assert first.poll() is None               # the first one is not disturbed
    finally:
        first.terminate()
        first.wait(10)
    assert first.returncode == 0
