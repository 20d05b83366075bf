"""Helper processes that exit when the checker that started them is gone, however it went.

``monitor.extract_pool`` starts a forkserver and worker processes. A checker killed with SIGKILL cannot
stop them, and a worker blocked on its task queue would wait forever: each of them runs
``exit_with_parent`` (the forkserver through ``monitor.forkserver_preload``; a worker in its initializer),
a thread that ends the process once its parent has changed (the parent died and the process was handed to
init or a subreaper) or the checker, whose PID the pool leaves in ``NEWSMON_CHECKER_PID``, is gone.
The PID closes a race: a checker killed while its forkserver was still starting would otherwise leave a
server that took init for its parent from the first look.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["CHECKER_PID", "exit_with_parent"]

CHECKER_PID = "NEWSMON_CHECKER_PID"
POLL = 0.5       # seconds between two looks


def exit_with_parent(parent: int | None = None) -> None:
    """Watch from a daemon thread; ``os._exit`` once the parent (``parent``, else the current one) is no
    longer the parent, or the checker process is gone."""
    expected = parent if parent is not None else os.getppid()
    checker = int(os.environ.get(CHECKER_PID, "0") or 0)

    def gone() -> bool:
        if os.getppid() != expected:
            return True
        if checker:
            try:
                os.kill(checker, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                pass                     # it exists, under another user: still there
        return False

    def watch() -> None:
        while not gone():
            time.sleep(POLL)
        os._exit(0)

    if gone():
        os._exit(0)
    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
