"""Writing report files so that a reader (a browser, a feed reader, a web server) never sees half of one."""

from __future__ import annotations

import os
import tempfile
from functools import cache
from pathlib import Path

__all__ = ["write_atomically", "write_if_changed"]


def write_atomically(path: Path, text: str) -> None:
    # A reader (or a crash) never sees half a report: write a temporary file, then rename it.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file readable by its owner only; a report is for a web server or other users
        # too, so it gets the mode any file the process creates gets (0666 less the umask).
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``path`` unless it already holds ``text``; True if written. The site is rebuilt after every
    check, and most pages (old versions above all) do not change: untouched files keep their mtime, so
    rsync and HTTP caches see only what changed."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    write_atomically(path, text)
    return True


@cache
def umask() -> int:
    """The process's umask, read without changing it: ``os.umask`` can only set it (and setting it to
    read it would race with other threads creating files). Linux shows it in /proc; elsewhere 022."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022
