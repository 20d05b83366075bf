"""Article extraction in worker processes, so that parsing uses every core while the network threads wait.

Extraction is pure Python (lxml, trafilatura) and holds the GIL: in the fetch threads of a check it would
use one core however many pages are waiting. ``Extractor`` extracts the first few pages of a run in the
calling thread (a run with one changed article must not pay for starting processes) and hands the rest to
a pool of one process per core.

The workers are forked from a *forkserver* that has imported ``monitor.extract`` once: a worker starts in
milliseconds with trafilatura loaded, and is never forked from the checker's own process, whose threads
may hold locks at the moment of a fork. A pool that breaks (a worker killed, say by the kernel for memory)
is not fatal: the pages extract in the calling thread from then on.

Nothing outlives the checker, even when it is killed with SIGKILL and cannot shut the pool down: the
forkserver (``monitor.forkserver_preload``) and each worker watch their parent (``monitor.orphan_watch``)
and exit once it is gone.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Executor

from monitor.errors import ExtractionError
from monitor.models import Document

# multiprocessing and the process pool are imported when a pool starts: most runs never start one, and
# every run pays for what is imported at the top.

__all__ = ["INLINE", "Extractor"]

log = logging.getLogger(__name__)

# Pages of a run extracted in the calling thread before the pool starts. Starting the forkserver and its
# workers costs about as much CPU as extracting a hundred pages (each imports the extractor), so a cycle in
# which a tenth of 1,000 articles changed stays in-process; a first cycle of many new articles, which the
# pool halves in wall time on two cores, does not.
INLINE = 150


def _start_worker() -> None:
    from monitor.orphan_watch import exit_with_parent

    exit_with_parent()


def _extract(html: bytes, url: str | None, charset: str | None, selector: str | None,
             exclude: Sequence[str]) -> Document | str:
    """In a worker: the document, or the reason there is none (a string pickles, any exception may not)."""
    from monitor.extract import extract

    try:
        return extract(html, url=url, charset=charset, selector=selector, exclude=exclude)
    except ExtractionError as exc:
        return str(exc)


class Extractor:
    """``extract`` that moves to worker processes once a run has more than ``inline`` pages; thread-safe."""

    def __init__(self, *, workers: int | None = None, inline: int = INLINE) -> None:
        self.workers = workers if workers is not None else max(1, os.cpu_count() or 1)
        self.inline = inline
        self._count = 0
        self._pool: Executor | None = None
        self._broken = False
        self._lock = threading.Lock()

    def __call__(self, html: bytes, *, url: str | None, charset: str | None, selector: str | None,
                 exclude: Sequence[str]) -> Document:
        """The article of one page; raises ExtractionError when there is none."""
        pool = self._pool_for_next()
        if pool is not None:
            from concurrent.futures.process import BrokenProcessPool

            try:
                found = pool.submit(_extract, html, url, charset, selector, tuple(exclude)).result()
            except BrokenProcessPool:
                self._give_up_pool()
                found = _extract(html, url, charset, selector, exclude)
            except RuntimeError:       # the pool was shut down (the daemon stopping): finish here
                found = _extract(html, url, charset, selector, exclude)
        else:
            found = _extract(html, url, charset, selector, exclude)
        if isinstance(found, str):
            raise ExtractionError(found)
        return found

    def _pool_for_next(self) -> Executor | None:
        with self._lock:
            self._count += 1
            if self._broken or self.workers < 2 or self._count <= self.inline:
                return None
            if self._pool is None:
                from monitor.orphan_watch import CHECKER_PID

                os.environ[CHECKER_PID] = str(os.getpid())      # inherited by the forkserver it starts
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(["monitor.forkserver_preload"])
                self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                                 initializer=_start_worker)
            return self._pool

    def _give_up_pool(self) -> None:
        with self._lock:
            if not self._broken:
                log.warning("the extraction workers stopped; extracting in the checker's own process")
            self._broken = True

    @property
    def started(self) -> bool:
        """Whether worker processes were started (for tests and benchmarks)."""
        return self._pool is not None

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
            _stop_forkserver()


def _stop_forkserver() -> None:
    """Stop the forkserver and wait for it, so that nothing is left running and the CPU time of the workers
    (whom the forkserver reaped) counts in this process's children, where ``time`` and ``getrusage`` look.
    ``_stop`` is private to multiprocessing (it is how its own tests stop the server): without it the server
    would linger until this process ends, and its CPU time would be lost to any measurement."""
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        stop()
