"""Run work for many hosts in parallel while keeping each host to one request at a time.

Politeness is per host: one item in flight per host, and consecutive items of a host start at least
``delay`` seconds apart. The calling thread does the scheduling: it only hands an item to the pool when
a thread is free and the item's host may start now, so no pool thread ever sleeps waiting for a
host's turn, and a slow host never holds up the others.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Handover", "run_per_host"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Running(Generic[T]):
    item: T
    host: str
    started: list[float] = field(default_factory=list)   # set by the worker when work begins


class Handover(Generic[T]):
    """Another process's claim on part of a run's waiting items.

    ``request(divisor)`` may come from any thread. The run then gives away about ``1/divisor`` of the items
    still waiting, whole hosts at a time and only hosts with nothing in flight (a host whose item is running
    is given once that item is done), through one call of ``give`` from the thread iterating the run: an
    empty list when there is nothing worth giving. Requests made before the run takes one up are one
    request; one made while the run gathers a gift waits until that is given. A request that comes after
    the run is over (``close``) is answered at once with an empty list, from the thread that closes or
    requests, so ``give`` must be safe to call from either.
    """

    def __init__(self, give: Callable[[list[T]], None]) -> None:
        self._give = give
        self._lock = threading.Lock()
        self._divisor = 0           # a request the run has not taken up yet (0: none)
        self._closed = False

    def request(self, divisor: int) -> None:
        with self._lock:
            if not self._closed:
                self._divisor = max(2, divisor)
                return
        self._give([])

    def take(self) -> int:
        """The divisor of a request waiting to be served (0 if none), which the caller now serves."""
        with self._lock:
            divisor, self._divisor = self._divisor, 0
            return divisor

    def give(self, items: list[T]) -> None:
        self._give(items)

    def close(self) -> None:
        """The run is over: a request not taken up, and any later one, gets nothing."""
        with self._lock:
            self._closed = True
            waiting, self._divisor = self._divisor, 0
        if waiting:
            self._give([])


def run_per_host(
    items: Iterable[T],
    host_of: Callable[[T], str],
    work: Callable[[T], R],
    *,
    concurrency: int,
    delay: float,
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    handover: Handover[T] | None = None,
) -> Generator[tuple[T, R | None, BaseException | None], None, None]:
    """Run ``work(item)`` for every item in ``concurrency`` threads; yield results as they complete.

    Yields ``(item, result, None)`` or ``(item, None, exception)``: exceptions from ``work`` (or from
    ``host_of``) are yielded, never raised. Items of one host run one at a time, in their given order,
    each starting at least ``delay`` seconds after the previous one started.

    ``clock`` times the delays. When nothing is running, the wait for the next host's turn is a call to
    ``sleep``; while work runs, the wait for a result or the next turn (whichever comes first) is a
    timed wait on the running work.

    ``handover``: where requests for part of the waiting items come from, and where they go (see
    ``Handover``); the items given away are neither run nor yielded. Only for runs without a ``delay``:
    the process taking a host over does not know when its last item started.
    """
    # Checked here rather than in the generator, so a bad call fails where it is made.
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if delay < 0:
        raise ValueError(f"delay must not be negative, got {delay}")
    if handover is not None and delay > 0:
        raise ValueError("a run with a delay between a host's items cannot hand hosts over")
    return _run(items, host_of, work, concurrency, delay, sleep, clock, handover)


def _run(
    items: Iterable[T],
    host_of: Callable[[T], str],
    work: Callable[[T], R],
    concurrency: int,
    delay: float,
    sleep: Callable[[float], object],
    clock: Callable[[], float],
    handover: Handover[T] | None,
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
    gift = _Gift[T]()

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

    def hand_over_idle_hosts() -> None:
        # One request at a time: a later one waits until the gift being gathered is given.
        divisor = handover.take() if handover is not None and not gift.is_open else 0
        if divisor:
            gift.open(sum(len(queue) for queue in queues.values()) // divisor)
            for _, _, host in sorted(ready):
                if not gift.wanted():
                    break
                gift.add(queues.pop(host))
            ready[:] = [entry for entry in ready if entry[2] in queues]
            heapq.heapify(ready)

    def settle_gift() -> None:
        # Given as soon as it is large enough, or when no host in flight has items left to give.
        if handover is not None and gift.is_open and (
                not gift.wanted() or not any(queues.get(entry.host) for entry in running.values())):
            handover.give(gift.close())

    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="newsmon-host")
    try:
        while ready or running:
            hand_over_idle_hosts()
            settle_gift()
            start_ready()
            if running:
                # Wake for the first result, or when the next host's turn comes if a thread is free.
                timeout = None
                if ready and len(running) < concurrency:
                    timeout = max(0.0, ready[0][0] - clock())
                done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                finished = [(future, running.pop(future)) for future in done]
                for _, entry in finished:
                    if queues.get(entry.host):
                        if gift.wanted():
                            gift.add(queues.pop(entry.host))
                            continue
                        started = entry.started[0] if entry.started else clock()
                        heapq.heappush(ready, (started + delay, order[entry.host], entry.host))
                settle_gift()
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
        if handover is not None and gift.is_open:
            handover.give(gift.close())
    finally:
        # Reached early only if the consumer stops iterating: work already running is left to finish
        # in the background rather than making the consumer wait for it.
        executor.shutdown(wait=False, cancel_futures=True)


class _Gift(Generic[T]):
    """The items gathered for one handover request: at least ``owed`` of them, whole hosts."""

    def __init__(self) -> None:
        self.is_open = False
        self._items: list[T] = []
        self._owed = 0

    def open(self, owed: int) -> None:
        self.is_open, self._items, self._owed = True, [], owed

    def wanted(self) -> bool:
        return self.is_open and self._owed > 0

    def add(self, host_items: Iterable[T]) -> None:
        before = len(self._items)
        self._items.extend(host_items)
        self._owed -= len(self._items) - before

    def close(self) -> list[T]:
        items, self._items, self.is_open, self._owed = self._items, [], False, 0
        return items
