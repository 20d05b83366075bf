"""Run work for many hosts in parallel while keeping each host to one request at a time.

Politeness is per host: one item in flight per host, and consecutive items of a host start at least
``delay`` seconds apart. The calling thread does the scheduling: it only hands an item to the pool when
a thread is free and the item's host may start now, so no pool thread ever sleeps waiting for a
host's turn, and a slow host never holds up the others.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["run_per_host"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Running(Generic[T]):
    item: T
    host: str
    started: list[float] = field(default_factory=list)   # set by the worker when work begins


def run_per_host(
    items: Iterable[T],
    host_of: Callable[[T], str],
    work: Callable[[T], R],
    *,
    concurrency: int,
    delay: float,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Generator[tuple[T, R | None, BaseException | None], None, None]:
    """Run ``work(item)`` for every item in ``concurrency`` threads; yield results as they complete.

    Yields ``(item, result, None)`` or ``(item, None, exception)``: exceptions from ``work`` (or from
    ``host_of``) are yielded, never raised. Items of one host run one at a time, in their given order,
    each starting at least ``delay`` seconds after the previous one started.

    ``clock`` times the delays. When nothing is running, the wait for the next host's turn is a call to
    ``sleep``; while work runs, the wait for a result or the next turn (whichever comes first) is a
    timed wait on the running work.
    """
    # Checked here rather than in the generator, so a bad call fails where it is made.
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if delay < 0:
        raise ValueError(f"delay must not be negative, got {delay}")
    return _run(items, host_of, work, concurrency, delay, sleep, clock)


def _run(
    items: Iterable[T],
    host_of: Callable[[T], str],
    work: Callable[[T], R],
    concurrency: int,
    delay: float,
    sleep: Callable[[float], object],
    clock: Callable[[], float],
) -> Generator[tuple[T, R | None, BaseException | None], None, None]:
    queues: dict[str, deque[T]] = {}
    failed: list[tuple[T, BaseException]] = []
    for item in items:
        try:
            host = host_of(item)
        except Exception as exc:  # an unparsable URL fails that item, not the run
            failed.append((item, exc))
            continue
        queues.setdefault(host, deque()).append(item)

    # Hosts with items waiting and nothing running, by the time they may start next; the counter
    # keeps first-seen order among hosts that are ready at the same time.
    ready: list[tuple[float, int, str]] = [(float("-inf"), n, host) for n, host in enumerate(queues)]
    order = {host: n for n, host in enumerate(queues)}
    running: dict[Future[R], _Running[T]] = {}

    def call(item: T, started: list[float]) -> R:
        started.append(clock())
        return work(item)

    def start_ready() -> None:
        now = clock()
        while ready and len(running) < concurrency and ready[0][0] <= now:
            _, _, host = heapq.heappop(ready)
            item = queues[host].popleft()
            entry = _Running(item, host)
            running[executor.submit(call, item, entry.started)] = entry

    yield from ((item, None, exc) for item, exc in failed)

    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="newsmon-host")
    try:
        while ready or running:
            start_ready()
            if running:
                # Wake for the first result, or when the next host's turn comes if a thread is free.
                timeout = None
                if ready and len(running) < concurrency:
                    timeout = max(0.0, ready[0][0] - clock())
                done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                finished = [(future, running.pop(future)) for future in done]
                for _, entry in finished:
                    if queues[entry.host]:
                        started = entry.started[0] if entry.started else clock()
                        heapq.heappush(ready, (started + delay, order[entry.host], entry.host))
                # Keep the pool busy while the consumer handles these results.
                start_ready()
                for future, entry in finished:
                    error = future.exception()
                    if error is None:
                        yield entry.item, future.result(), None
                    else:
                        yield entry.item, None, error
            elif ready:
                sleep(max(0.0, ready[0][0] - clock()))
    finally:
        # Reached early only if the consumer stops iterating: work already running is left to finish
        # in the background rather than making the consumer wait for it.
        executor.shutdown(wait=False, cancel_futures=True)
