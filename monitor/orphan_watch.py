"""Helper processes that exit when the process that started them is gone, however it went.

``monitor.extract_pool`` starts a forkserver and worker processes. A checker killed with SIGKILL cannot
stop them, and a worker blocked on its task queue would wait forever: each of them runs
``exit_with_parent`` (the forkserver through ``monitor.forkserver_preload``; a worker in its
initializer), a thread that ends the process once its parent has changed (the parent died and the
process was handed to init).
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["exit_with_parent"]

POLL = 0.5       # seconds between two looks at the parent


def exit_with_parent() -> None:
    """Watch the parent from a daemon thread; ``os._exit`` once it is no longer the parent."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()

