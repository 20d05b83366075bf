"""Report files are replaced at once: a reader, or a crash, never leaves half a file or a stray temporary."""

from __future__ import annotations

import errno
import itertools
import os
from pathlib import Path

import pytest

from monitor.report import files
from monitor.report.files import write_atomically, write_if_changed


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_failure_mid_write_leaves_the_old_file_and_no_temporary(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "index.html"
    write_atomically(page, "old page")
    real_write = os.write
    calls = []

    def disk_fills_up(fd: int, data: bytes) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data)[:3])      # a short write: the loop must go on
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", disk_fills_up)
    with pytest.raises(OSError, match="No space left"):
        write_if_changed(page, "new page, longer than the old one")
    assert calls == [33, 30]                             # the rest was asked for after the short write
    assert page.read_text(encoding="utf-8") == "old page"
    assert leftovers(tmp_path) == []


def test_short_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    monkeypatch.setattr(files.os, "write", lambda fd, data: real_write(fd, bytes(data)[:5]))
    text = "é, 1,500 killed — <b>" * 40
    assert write_if_changed(tmp_path / "page.html", text)
    assert (tmp_path / "page.html").read_text(encoding="utf-8") == text


def test_text_that_cannot_be_encoded_leaves_nothing_behind(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    write_atomically(page, "old")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(page, "a lone surrogate \ud800")
    assert page.read_text(encoding="utf-8") == "old"
    assert leftovers(tmp_path) == []


def test_files_get_the_mode_the_umask_gives(tmp_path: Path) -> None:
    """0666 less the umask, as any file the process creates (not a temporary file's owner-only 0600)."""
    previous = os.umask(0o027)
    try:
        write_atomically(tmp_path / "new.html", "new")
        (tmp_path / "old.html").write_text("old", encoding="utf-8")
        write_if_changed(tmp_path / "old.html", "changed")
    finally:
        os.umask(previous)
    assert (tmp_path / "new.html").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "old.html").stat().st_mode & 0o777 == 0o640


def test_a_leftover_temporary_of_the_same_name_is_left_alone(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A process killed mid-write leaves its temporary file; a later process with the same id takes the
    next name rather than writing into (or through a link at) that one."""
    monkeypatch.setattr(files, "_serial", itertools.count())
    stale = tmp_path / f".page.html.{os.getpid()}-0.tmp"
    stale.write_text("left by a killed process", encoding="utf-8")
    write_atomically(tmp_path / "page.html", "page")
    assert (tmp_path / "page.html").read_text(encoding="utf-8") == "page"
    assert stale.read_text(encoding="utf-8") == "left by a killed process"
    assert leftovers(tmp_path) == [stale.name]


def test_a_link_at_the_temporary_name_is_never_written_through(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "_serial", itertools.count())
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched", encoding="utf-8")
    (tmp_path / f".page.html.{os.getpid()}-0.tmp").symlink_to(victim)
    write_atomically(tmp_path / "page.html", "page")
    assert (tmp_path / "page.html").read_text(encoding="utf-8") == "page"
    assert victim.read_text(encoding="utf-8") == "untouched"


def test_an_unchanged_file_is_not_written_again(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    assert write_if_changed(page, "same — text")
    os.utime(page, (1, 1))
    assert not write_if_changed(page, "same — text")
    assert page.stat().st_mtime == 1
    assert write_if_changed(page, "other text")
    assert page.read_text(encoding="utf-8") == "other text"
