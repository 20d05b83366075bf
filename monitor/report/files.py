"""Writing report files so that a reader (a browser, a feed reader, a web server) never sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically", "write_if_changed"]


def write_atomically(path: Path, text: str) -> None:
    # A reader (or a crash) never sees half a report: write a temporary file, then rename it.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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
