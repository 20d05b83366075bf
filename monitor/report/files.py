"""Writing report files so that a reader (a browser, a feed reader, a web server) never sees half of one.

Each file is written to a temporary file beside it, then renamed over it. A refresh after a check writes
hundreds of files, so this is done with the fewest system calls: the temporary file is created with the
final mode (``os.open`` applies the umask, as to any file the process creates; ``tempfile.mkstemp`` made it
0600 and it took an ``fchmod`` and a read of the umask to undo that), the text is encoded once and written
with ``os.write``, and the comparison with the file on disk is of bytes, not of decoded text.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

__all__ = ["write_atomically", "write_if_changed"]

# Temporary names: the process id and a counter, so no two writers (the processes of a run, the threads
# of one) ever choose the same name. O_EXCL refuses any file already there, such as the leftover of a
# killed process that had this id, and never follows a symbolic link: the next name is tried instead.
_serial = itertools.count()


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) at once: a reader sees the old file or the new one."""
    _replace(path, text.encode("utf-8"))


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``path`` unless it already holds ``text``; True if written. The site is rebuilt after every
    check, and most pages (old versions above all) do not change: untouched files keep their mtime, so
    rsync and HTTP caches see only what changed."""
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    _replace(path, data)
    return True


def _replace(path: Path, data: bytes) -> None:
    # A reader (or a crash) never sees half a report: write a temporary file, then rename it.
    while True:
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{next(_serial)}.tmp")
        try:
            # 0o666: less the umask, the mode any file the process creates gets (a report is for a web
            # server or other users too, not only for its owner).
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        try:
            view = memoryview(data)
            while view:                    # os.write may write less than it was given
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
