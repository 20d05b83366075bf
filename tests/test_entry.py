"""The program's entry point: a command's output and exit status as before, without Python's shutdown when
nothing needs it, and with it when something does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from monitor.entry import YOUNG_OBJECTS

SEED = Path(__file__).parent / "fixtures" / "article.txt"

# Runs the entry point with an atexit handler of its own: it prints only if Python's shutdown ran.
PROGRAM = """
import atexit, sys, threading, time
atexit.register(lambda: print("python shutdown ran", file=sys.stderr))
late = sys.argv[1] == "--late-thread"
if late:
    sys.argv.pop(1)
import monitor.cli

command = monitor.cli.main
def main():
    try:
        command()
    finally:
        print("young objects collected every", __import__("gc").get_threshold()[0], file=sys.stderr)
        if late:            # started as the command ends: still running when the exit is decided
            def work():
                time.sleep(0.3)
                print("late thread done", file=sys.stderr)
            threading.Thread(target=work).start()
monitor.cli.main = main
from monitor.entry import run
sys.argv[0] = "newsmon"
run()
"""


def program(*args: str, extra: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PROGRAM, *(extra or []), *args],
                          capture_output=True, text=True, timeout=120)


def test_a_command_ends_without_python_shutdown_and_its_whole_output(tmp_path: Path) -> None:
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    text = SEED.read_text(encoding="utf-8")
    old.write_text(text, encoding="utf-8")
    new.write_text(text.replace("1,000", "1,500", 1) * 40, encoding="utf-8")
    done = program("diff", str(old), str(new), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("}")          # the whole JSON document, flushed before the exit
    assert '"1,500"' in done.stdout
    assert "python shutdown ran" not in done.stderr
    assert f"young objects collected every {YOUNG_OBJECTS}" in done.stderr


def test_the_exit_status_is_the_commands(tmp_path: Path) -> None:
    usage = program("check", "-c", str(tmp_path / "missing.yaml"))
    assert usage.returncode == 2
    assert "missing.yaml" in usage.stderr
    assert "python shutdown ran" not in usage.stderr
    failed = program("extract", str(tmp_path / "no-such-page.html"))
    assert failed.returncode == 3
    assert "no-such-page.html: cannot read" in failed.stderr


def test_a_running_thread_keeps_python_shutdown(tmp_path: Path) -> None:
    """A thread that is not a daemon is waited for, as Python does: its work is never cut short."""
    old = tmp_path / "a.txt"
    old.write_text("Title\n\nSame text.", encoding="utf-8")
    done = program("diff", str(old), str(old), "--format", "json", extra=["--late-thread"])
    assert done.returncode == 0, done.stderr
    assert "late thread done" in done.stderr
    assert "python shutdown ran" in done.stderr


def test_python_m_monitor_is_the_same_program(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "monitor", "check", "-c", str(tmp_path / "missing.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "missing.yaml" in done.stderr


def test_a_closed_standard_output_is_no_error(tmp_path: Path) -> None:
    """Started with descriptor 1 closed, Python has no sys.stdout: the command runs and exits as before."""
    page = tmp_path / "a.txt"
    page.write_text("Title\n\nSame text.", encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", PROGRAM, "diff", str(page), str(page)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=120, preexec_fn=lambda: os.close(1))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "python shutdown ran" not in done.stderr
