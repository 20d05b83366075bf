"""Imported only by the extraction forkserver (``monitor.extract_pool``'s preload list), its one hook.

It loads the extractor once, so that every worker forked from the server starts with it, and makes the
server exit when the checker that started it is gone (``monitor.orphan_watch``).
"""

import monitor.extract  # noqa: F401  (loaded here so that the workers inherit it)
from monitor.orphan_watch import exit_with_parent

exit_with_parent()
