"""``newsmon check`` on every core: a large run is split by host over forked processes.

A check holds the GIL for most of its CPU time (parsing responses, extraction, diffs, store writes), so in
one process a run uses one core however many requests are in flight. A run of at least
``MIN_PER_PROCESS`` articles per process is split into one share per core: the hosts are dealt out so that
the shares hold about as many articles each, and a host is checked by one process at a time, so per-host
politeness (one request at a time, ``per_host_delay``) holds as in a single process. The configured
``concurrency`` is the total over all processes. Once the checking process is done with its own share, it
takes over part of what the children still have waiting (``check_on_all_cores``), so that the process
that happened to get more changed articles does not finish long after the others.

The checking process keeps one share and forks a child for each of the others. It keeps one, rather than
only gathering the children's events, because what a changed article needs (the extractor and the report
templates: about 0.2 s of CPU to import) is then imported once less: the parent needs the templates anyway
to refresh the report site at the end of the run.

The children are forked from the checking process itself, after its imports (so a child starts in
milliseconds) and before any thread of the run exists (a lock held by another thread at the fork would
stay held forever in the child). The parent's open store is inherited but never touched: each child opens
its own, checks its share, sends its events back through a pipe, and ends with ``os._exit``, which
finalises nothing of the parent's. The parent checks its own share with its own store, and yields its
events and the children's as they arrive, so the caller (printing JSON lines, notifying, the run report,
the report site) sees one run. The store takes the writers in turn: SQLite's WAL with its busy timeout,
or PostgreSQL's row locks.

A child that dies (killed, out of memory) costs only its unreported articles: each gets an ``error``
event, and is checked again by the next run. Where ``fork`` is unsafe or missing (not Linux, threads
already running), or the run is small, the run stays in one process.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import signal
import struct
import sys
import threading
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, BinaryIO

from monitor.config import ArticleTarget, Config
from monitor.hosts import Handover
from monitor.models import CHANGE_EVENTS, CheckEvent
from monitor.url_parts import split_url

if TYPE_CHECKING:
    from monitor.store import Store

__all__ = ["MIN_PER_PROCESS", "check_on_all_cores", "process_count", "split_by_host"]

log = logging.getLogger(__name__)

# Below this many articles per process, forking and a second store connection cost more than they save.
MIN_PER_PROCESS = 100
# The parent's share, against each child's: besides checking it, the parent reads, prints and records
# every event of the run and refreshes the report site at the end (about a sixth of a share's CPU in a
# 1,000-article cycle where a tenth changed; measured with the parent checking an equal share, it
# finished 0.2-0.4 s after its child).
PARENT_SHARE = 0.85

# Each process draws the report pages of the articles it changed (``after_share``) every this many changes
# rather than all at the end of its share: drawing is then part of the work a handover shares out, where
# at the end it kept the process with more changes running alone.
AFTER_EVERY = 10

_FRAME = struct.Struct("!I")     # a pickled event's length, before it on the pipe

FetcherFactory = Callable[[Config], AbstractContextManager]   # config -> context giving a PageFetcher, or None
CheckFunction = Callable[..., Iterator[CheckEvent]]     # monitor.check.check_articles
AfterShare = Callable[["Store", list[CheckEvent]], None]


def process_count(targets: Sequence[ArticleTarget], concurrency: int) -> int:
    """How many processes check this run: one per usable core, as the run's size and hosts allow."""
    if sys.platform != "linux" or threading.active_count() > 1:
        return 1
    cores = len(os.sched_getaffinity(0))
    hosts = len({_host(t) for t in targets})
    return max(1, min(cores, hosts, concurrency, len(targets) // MIN_PER_PROCESS))


def split_by_host(targets: Sequence[ArticleTarget], shares: int,
                  first_share: float = 1.0) -> list[list[ArticleTarget]]:
    """``targets`` in ``shares`` lists of whole hosts, in their order, with about as many articles each; the
    first list with about ``first_share`` times as many as each other one."""
    per_host = Counter(_host(t) for t in targets)
    weights = [first_share] + [1.0] * (shares - 1)
    loads = [0] * shares
    share_of: dict[str, int] = {}
    # Largest hosts first, each to the share it leaves the least loaded for its weight (LPT scheduling:
    # with equal weights, within 4/3 of the best balance).
    for host, count in sorted(per_host.items(), key=lambda item: (-item[1], item[0])):
        chosen = min(range(shares), key=lambda i: (loads[i] + count) / weights[i])
        share_of[host] = chosen
        loads[chosen] += count
    split: list[list[ArticleTarget]] = [[] for _ in range(shares)]
    for target in targets:
        split[share_of[_host(target)]].append(target)
    return split


def _host(target: ArticleTarget) -> str:
    return split_url(target.url).netloc.lower()


@dataclass
class _Child:
    pid: int
    targets: list[ArticleTarget]
    control: int                    # the write end of the pipe its handover requests go to
    urls: set[str] = field(init=False)
    reported: set[str] = field(default_factory=set)
    asked: bool = False             # a handover request it has not answered yet
    may_give: bool = True           # False once it answered one with nothing, or ended

    def __post_init__(self) -> None:
        self.urls = {t.url for t in self.targets}

    def ask(self, divisor: int) -> None:
        """Ask for about 1/divisor of its waiting articles (``monitor.hosts.Handover``)."""
        try:
            os.write(self.control, bytes([min(divisor, 255)]))
        except OSError:                 # it has ended: the end of its event pipe says so
            self.may_give = False
            return
        self.asked = True

    def give_up(self, urls: Sequence[str]) -> list[ArticleTarget]:
        """The articles it handed over: no longer its own to report, nor to miss if it dies later."""
        given = set(urls) & self.urls
        self.urls -= given
        return [t for t in self.targets if t.url in given]


@dataclass(frozen=True)
class _Handed:
    """A child's answer to a handover request: the URLs of the articles it gives up (none: nothing left)."""

    urls: tuple[str, ...]


# What a child's pipe brings: one of its events, an answer to a handover request, or None when it closed.
_Arrival = tuple[_Child, CheckEvent | _Handed | None]


class _Children:
    """The forked children of a split run, seen from the checking process: their events passed on as they
    come, handover requests asked and answered, their ends noted."""

    def __init__(self, children: list[_Child], arrived: queue.Queue[_Arrival]) -> None:
        self.children = children
        self.arrived = arrived
        self.running = len(children)
        self._handed: list[ArticleTarget] = []

    def pass_on_waiting(self) -> Iterator[CheckEvent]:
        """The children's events that came meanwhile, without waiting for more."""
        while self.running and not self.arrived.empty():
            yield from self._take(*self.arrived.get())

    def pass_on_until_all_ended(self) -> Iterator[CheckEvent]:
        while self.running:
            yield from self._take(*self.arrived.get())

    def take_over(self) -> Generator[CheckEvent, None, list[ArticleTarget]]:
        """Ask each child that may still have articles waiting for its part of them, passing on their events
        until each has answered or ended. Returns the articles handed over: none when nothing is left."""
        asked = [child for child in self.children if child.may_give]
        for child in asked:
            child.ask(len(asked) + 1)
        while any(child.asked for child in asked):
            yield from self._take(*self.arrived.get())
        handed, self._handed = self._handed, []
        return handed

    def _take(self, child: _Child, item: CheckEvent | _Handed | None) -> Iterator[CheckEvent]:
        if item is None:                    # its pipe closed: it is done, or died
            child.asked = child.may_give = False
            self.running -= 1
            yield from _unreported(child)
        elif isinstance(item, _Handed):
            child.asked = False
            if item.urls:
                self._handed += child.give_up(item.urls)
            else:
                child.may_give = False
        else:
            child.reported.add(item.url)
            yield item


def check_on_all_cores(config: Config, store: Store, targets: Sequence[ArticleTarget], *,
                       open_store: Callable[[], Store], check: CheckFunction, fetcher: FetcherFactory | None = None,
                       after_share: AfterShare | None = None, processes: int | None = None) -> Iterator[CheckEvent]:
    """Check ``targets`` once over ``processes`` processes (``process_count`` when None), yielding events.

    ``check(config, store, targets, fetcher=..., extract_workers=..., handover=...)`` is the single-process
    check (``monitor.check.check_articles``); ``store`` is this process's, used when the run stays in it;
    ``open_store()`` opens one in a child; ``fetcher(config)`` gives a context holding the PageFetcher to
    use (None: the check's own). A split run forks one child per share but the first, a lighter one
    (``PARENT_SHARE``), which this process checks itself while passing on the children's events as they
    come. Each process keeps to a core of its own while it checks (``_pin``); extraction stays in each
    process (they already use every core), and each process calls
    ``after_share(store, events)`` with its events, every ``AFTER_EVERY`` changed articles and once at the
    end: work on its own articles that would otherwise wait for the end of the run in one process (drawing
    their report pages). A failure there is logged, never an error of the run.

    Which articles changed, and so cost an extraction, is unknown when the hosts are dealt out: one share
    often has half as many again as the other, and its process ends long after. So once this process has
    checked its share, it takes over part of what the children still have waiting (whole hosts with
    nothing in flight, ``monitor.hosts.Handover``), again and again until they have nothing left to give.
    Only in runs without ``per_host_delay`` and with the check's own fetcher: a host taken over is asked
    at once, and a polite fetcher's robots.txt and crawl delays are its own process's.
    """
    make_fetcher = fetcher or (lambda _config: nullcontext(None))
    count = process_count(targets, config.concurrency) if processes is None else processes
    if count <= 1:
        with make_fetcher(config) as used:
            yield from check(config, store, targets, fetcher=used, extract_workers=None)
        return
    own, *others = split_by_host(targets, count, first_share=PARENT_SHARE)
    share_config = replace(config, concurrency=max(1, config.concurrency // count))
    share_work = fetcher is None and config.per_host_delay == 0
    arrived: queue.Queue[_Arrival] = queue.Queue()
    forked: list[_Child] = []
    finished = False
    cores = sorted(os.sched_getaffinity(0))
    try:
        pipes = []
        for number, other in enumerate(others, 1):
            child, read_end = _fork(share_config, other, open_store, check, make_fetcher, after_share, share_work,
                                    cores[number % len(cores)])
            forked.append(child)
            pipes.append(read_end)
        _pin(cores[0])
        # Only now a thread each, to read the pipes: no child is forked while a thread of ours runs.
        for child, read_end in zip(forked, pipes, strict=True):
            threading.Thread(target=_read_events, args=(read_end, child, arrived), daemon=True,
                             name=f"newsmon-check-{child.pid}").start()
        children = _Children(forked, arrived)
        done = _Done(after_share, store)
        with make_fetcher(share_config) as used:
            share = own
            while share:
                for event in check(share_config, store, share, fetcher=used, extract_workers=1):
                    yield event
                    done.add(event)
                    yield from children.pass_on_waiting()
                share = (yield from children.take_over()) if share_work else []
        done.flush()
        yield from children.pass_on_until_all_ended()
        finished = True
    finally:
        _unpin(cores)                           # the rest of the run (the site's refresh) anywhere again
        for child in forked:
            with suppress(OSError):
                os.close(child.control)
            if not finished:
                _signal(child.pid, signal.SIGTERM)
            _reap(child.pid)


class _Done:
    """A checking process's events, handed to ``after_share`` every ``AFTER_EVERY`` changes and at the end."""

    def __init__(self, after_share: AfterShare | None, store: Store) -> None:
        self._after_share = after_share
        self._store = store
        self._events: list[CheckEvent] = []
        self._changes = 0

    def add(self, event: CheckEvent) -> None:
        self._events.append(event)
        if event.event in CHANGE_EVENTS:
            self._changes += 1
            if self._changes >= AFTER_EVERY:
                self.flush()

    def flush(self) -> None:
        events, self._events, self._changes = self._events, [], 0
        if self._after_share is None or not events:
            return
        try:
            self._after_share(self._store, events)
        except Exception as exc:                # noqa: BLE001 -- the run's own steps redo what is missing
            log.warning("after checking some of its share, a checking process failed: %s", exc)


def _unreported(child: _Child) -> Iterator[CheckEvent]:
    """Error events for the articles a child never reported (it died); none when it finished its share."""
    status = _reap(child.pid)
    missing = [t for t in child.targets if t.url in child.urls and t.url not in child.reported]
    if not missing:
        return
    reason = _describe_exit(status)
    log.warning("a checking process %s before %d of its %d articles were checked; they are checked again "
                "next run", reason, len(missing), len(child.urls))
    for target in missing:
        yield CheckEvent(url=target.url, source=target.source, event="error",
                         error=f"internal error: the process checking it {reason}")


def _describe_exit(status: int | None) -> str:
    if status is None:
        return "ended"
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with status {os.WEXITSTATUS(status)}"


def _fork(config: Config, targets: list[ArticleTarget], open_store: Callable[[], Store], check: CheckFunction,
          make_fetcher: FetcherFactory, after_share: AfterShare | None, share_work: bool,
          core: int) -> tuple[_Child, int]:
    """A child checking ``targets`` on ``core``, and the end of the pipe its events come from."""
    read_end, write_end = os.pipe()
    control_read, control_write = os.pipe()
    pid = os.fork()
    if pid == 0:                                    # the child: never returns
        _pin(core)
        os.close(read_end)
        os.close(control_write)
        _child_main(config, targets, open_store, check, make_fetcher, after_share, write_end,
                    control_read if share_work else None)
    os.close(write_end)
    os.close(control_read)
    return _Child(pid, targets, control_write), read_end


def _pin(core: int) -> None:
    """Keep this process on one core while it checks its share. Its threads take turns holding the GIL, and
    a turn handed to a thread waiting on another core costs a wake-up across cores: pinned, each process's
    threads share one core, as a split run means them to. Measured alternating on copies of one store (1,000
    articles, 2 cores, 8 pairs): unchanged cycle 0.94 -> 0.87 s of CPU and 0.73 -> 0.67 s of wall, 10%
    changed 3.87 -> 3.71 s of CPU and 2.61 -> 2.28 s of wall. Where the system refuses, the run goes on
    unpinned."""
    with suppress(OSError):
        os.sched_setaffinity(0, {core})


def _unpin(cores: list[int]) -> None:
    """Every thread of this process free to run on ``cores`` again. Affinity belongs to each thread on
    Linux, and threads started while the process was pinned (a fetcher's deadline watchdog) took the pin."""
    try:
        tasks = [int(task) for task in os.listdir("/proc/self/task")]
    except OSError:                         # no /proc: this thread at least
        tasks = [0]
    for task in tasks:
        with suppress(OSError):
            os.sched_setaffinity(task, cores)


class _Sender:
    """Frames on a child's event pipe, one whole frame at a time: events come from the checking thread,
    a late handover answer from the thread reading the requests."""

    def __init__(self, pipe: BinaryIO) -> None:
        self._pipe = pipe
        self._lock = threading.Lock()

    def __call__(self, item: CheckEvent | _Handed) -> None:
        data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._pipe.write(_FRAME.pack(len(data)) + data)


def _child_main(config: Config, targets: list[ArticleTarget], open_store: Callable[[], Store], check: CheckFunction,
                make_fetcher: FetcherFactory, after_share: AfterShare | None, write_end: int,
                control: int | None) -> None:
    status = 1
    try:
        # SIGINT goes to the whole process group; the parent decides, and stops the child with SIGTERM.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # The parent's store (its engine and connection) is inherited but never used here: this process
        # opens its own, and ends without finalising the parent's (os._exit below).
        with os.fdopen(write_end, "wb", buffering=0) as pipe, open_store() as store:
            send = _Sender(pipe)
            handover: Handover[ArticleTarget] | None = None
            if control is not None:
                handover = Handover(lambda given: send(_Handed(tuple(t.url for t in given))))
                threading.Thread(target=_read_requests, args=(control, handover), daemon=True,
                                 name="newsmon-handover").start()
            done = _Done(after_share, store)
            with make_fetcher(config) as used:
                for event in check(config, store, targets, fetcher=used, extract_workers=1, handover=handover):
                    send(event)
                    done.add(event)
            if handover is not None:
                handover.close()
            done.flush()
        status = 0
    except BaseException:                           # noqa: BLE001 -- reported, then the parent takes over
        log.exception("the checking process failed")
    finally:
        # Skip the interpreter's shutdown: it would run the parent's atexit handlers and finalise objects
        # (the parent's store connection among them) that belong to the parent.
        sys.stderr.flush()
        os._exit(status)


def _read_requests(control: int, handover: Handover[ArticleTarget]) -> None:
    """In a child: each byte from the parent is a handover request (its divisor)."""
    with os.fdopen(control, "rb", buffering=0) as pipe:
        while request := pipe.read(1):
            handover.request(request[0])


def _read_events(read_end: int, child: _Child, arrived: queue.Queue[_Arrival]) -> None:
    with os.fdopen(read_end, "rb") as pipe:
        while True:
            header = pipe.read(_FRAME.size)
            if len(header) < _FRAME.size:
                break
            data = pipe.read(_FRAME.unpack(header)[0])
            try:
                arrived.put((child, pickle.loads(data)))
            except Exception:                       # noqa: BLE001 -- a torn last frame of a killed child
                break
    arrived.put((child, None))


def _signal(pid: int, signum: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signum)


def _reap(pid: int) -> int | None:
    """Wait for a child and return its wait status (None when it was already reaped)."""
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return None
