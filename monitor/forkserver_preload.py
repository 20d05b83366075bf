"""Imported only by the extraction forkserver (``monitor.extract_pool``'s preload list), its one hook.

It makes the server exit when the checker that started it is gone (``monitor.orphan_watch``), before
anything slow, then loads the extractor once, so that every worker forked from the server starts with it.
"""

import os

from monitor.orphan_watch import CHECKER_PID, exit_with_parent

exit_with_parent(int(os.environ.get(CHECKER_PID, "0") or 0) or None)

import monitor.extract  # noqa: E402,F401  (loaded here so that the workers inherit it)
