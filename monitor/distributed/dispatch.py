"""``newsmon dispatch``: the one scheduler of a distributed deployment.

Exactly one dispatcher is active per storage (``leader``: a PostgreSQL advisory lock); the others wait as
hot standbys, trying every ``standby_retry`` seconds, and take over when the active one's session ends.
The active one, every ``interval`` seconds:

1. reads each source's feeds and sitemaps when due (the daemon's ``Daemon.discover``, in a few threads, so
   a slow feed does not hold the queue back) and, once at start, adds the configured URLs (``sync``);
2. queues due articles: ``scheduling.due_articles`` in batches, each leased (``leases.lease``) and then sent
   as tasks of ``task_size`` articles, while the queue holds fewer than ``backlog`` tasks (backpressure:
   with slow workers the queue stays short, and leases do not expire in it);
3. brings the report site and stories up to date when workers stored changes, and delivers the
   notification outbox: the workers only write to it, so each message has one sender.

``once``: one round (discovery waited for, every due article queued whatever the backlog), then exit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select

from monitor.check import fetch_settings, utc_now
from monitor.config import Config
from monitor.daemon import CHANGES, Daemon, discovery_interval
from monitor.distributed.app import TASK, queue_settings
from monitor.distributed.leader import Leadership, try_lead
from monitor.distributed.leases import lease
from monitor.errors import MonitorError
from monitor.polite import GuardedFetcher, PoliteFetcher, host_key
from monitor.store import Store
from monitor.store import scheduling as sched
from monitor.store.schema import checks

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["DispatchOptions", "Dispatcher", "run"]

log = logging.getLogger("monitor.distributed.dispatch")


@dataclass(frozen=True)
class DispatchOptions:
    lease: float = 600.0            # seconds an article queued stays leased (not queued again)
    batch: int = 500                # due articles read and leased per transaction
    task_size: int = 10             # articles per task
    backlog: int = 200              # tasks waiting in the queue before the dispatcher waits
    interval: float = 2.0           # seconds between rounds
    standby_retry: float = 5.0      # seconds between two tries of a standby for the lock
    once: bool = False


class Dispatcher:
    """One active dispatcher's rounds (``round()``), testable without the lock."""

    def __init__(self, config: Config, store: Store, app: Celery, options: DispatchOptions, *,
                 stopping: threading.Event, clock: Callable[[], datetime] = utc_now) -> None:
        from monitor.distributed.tasks import shared_gate

        self.config = config
        self.store = store
        self.app = app
        self.options = options
        self.stopping = stopping
        self.clock = clock
        self.queue = queue_settings(config)
        self.polite = PoliteFetcher(GuardedFetcher(fetch_settings(config)), per_host_delay=config.per_host_delay,
                                    concurrency=config.concurrency, stopping=stopping)
        # Feeds and articles of one site share its turn, whichever process asks.
        self.polite.gate = shared_gate(config, store, stopping)    # type: ignore[assignment]
        self.daemon = Daemon(config, store, self.polite, clock=clock)
        self._discovering = [s for s in config.sources if s.feeds or s.sitemaps]
        self._next_discovery = {s.name: 0.0 for s in self._discovering}
        self._discovery: dict[str, Future[int]] = {}
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(len(self._discovering), 4)),
                                        thread_name_prefix="newsmon-discover")
        self._last_change = self._last_check_id()
        self.queued = 0                 # articles queued in this dispatcher's life

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.daemon.close()
        self.polite.close()

    # -- one round ------------------------------------------------------------------------------------

    def start(self) -> None:
        self.daemon.sync()

    def round(self) -> int:
        """Discovery when due, then queue what is due, then the site, stories and outbox. Articles queued."""
        self._discover()
        queued = self.enqueue()
        if self._changes_stored():
            self.daemon.note_changes()
        self.daemon.refresh_site()
        self.daemon.refresh_stories()
        self._deliver()
        return queued

    def _discover(self) -> None:
        now = time.monotonic()
        for source in self._discovering:
            running = self._discovery.get(source.name)
            if running is not None and not running.done():
                continue
            if running is not None:
                self._discovery.pop(source.name)
                try:
                    running.result()
                except Exception:
                    log.exception("discovery for %s failed; it runs again at its next time", source.name)
            if now >= self._next_discovery[source.name]:
                self._next_discovery[source.name] = now + discovery_interval(source)
                self._discovery[source.name] = self._pool.submit(self.daemon.discover, source.name)
        if self.options.once:
            for future in self._discovery.values():
                try:
                    future.result()
                except Exception:
                    log.exception("discovery failed")
            self._discovery.clear()

    def enqueue(self) -> int:
        """Lease and queue due articles, batch by batch, while the queue has room. Articles queued."""
        queued = 0
        sources = [s.name for s in self.config.sources]
        while not self.stopping.is_set():
            room = None if self.options.once else self.options.backlog - self.queue_depth()
            if room is not None and room <= 0:
                break
            limit = self.options.batch if room is None else min(self.options.batch, room * self.options.task_size)
            now = self.clock()
            due = sched.due_articles(self.store, now=now, sources_wanted=sources, limit=limit)
            if not due:
                break
            until = now + timedelta(seconds=self.options.lease)
            leased = lease(self.store, due, now=now, until=until)
            # Committed before it is published: a worker must find the lease its task names.
            self._publish(leased, until)
            queued += len(leased)
            if len(due) < limit:
                break
        if queued:
            log.info("queued %d article(s) for checking", queued)
        self.queued += queued
        return queued

    def _publish(self, urls: list[str], until: datetime) -> None:
        token = until.isoformat()
        size = self.options.task_size
        urls = interleave_hosts(urls)
        with self.app.producer_or_acquire() as producer:
            for start in range(0, len(urls), size):
                items = [[url, token] for url in urls[start:start + size]]
                self.app.send_task(TASK, args=[items], queue=self.queue.name, producer=producer)

    def queue_depth(self) -> int:
        """Tasks waiting in the queue (0 when the broker does not know the queue yet)."""
        try:
            with self.app.connection_for_read() as conn:
                return int(conn.default_channel.queue_declare(queue=self.queue.name, passive=True).message_count)
        except Exception:  # noqa: BLE001 -- a queue never declared: nothing waits in it
            return 0

    def _last_check_id(self) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.execute(select(func.max(checks.c.id))).scalar() or 0)

    def _changes_stored(self) -> bool:
        """Whether workers stored a change since the last look (a version, a take-down or a return)."""
        with self.store.engine.connect() as conn:
            found = conn.execute(select(func.max(checks.c.id)).where(checks.c.id > self._last_change).where(
                or_(checks.c.version.is_not(None), checks.c.outcome.in_(sorted(CHANGES - {"new"}))))).scalar()
        if found is None:
            return False
        self._last_change = int(found)
        return True

    def _deliver(self) -> None:
        notifier = self.daemon.notifier
        if notifier is None:
            return
        try:
            notifier.flush()
        except Exception:
            log.exception("notifications failed; the outbox keeps them for the next round")


def interleave_hosts(urls: list[str]) -> list[str]:
    """``urls`` with their hosts taken in turn (a1 b1 c1 a2 b2 ...), so a task's articles are of different
    hosts where possible: one task's checks then run in parallel instead of waiting for one host's turns,
    and tasks stay short (well inside the broker's visibility timeout)."""
    by_host: dict[str, list[str]] = {}
    for url in urls:
        by_host.setdefault(host_key(url), []).append(url)
    queues = list(by_host.values())
    return [queue[i] for i in range(max(map(len, queues), default=0)) for queue in queues if i < len(queue)]


def run(config: Config, options: DispatchOptions, *, stopping: threading.Event | None = None,
        on_standby: Callable[[str], Any] | None = None) -> int:
    """Wait for the lock, then dispatch until ``stopping`` is set (or one round with ``once``). Exit status."""
    from monitor.distributed.app import make_app
    from monitor.store import open_store

    stopping = stopping or threading.Event()
    app = make_app(config)
    url = config.storage_url()
    announced = False
    while not stopping.is_set():
        got = try_lead(url)
        if isinstance(got, str):
            if options.once:
                log.error("another dispatcher is active (%s); --once does nothing", got)
                return 3
            if not announced:
                log.info("standby: another dispatcher is active (%s); retrying every %.0f s", got,
                         options.standby_retry)
                announced = True
            if on_standby is not None:
                on_standby(got)
            stopping.wait(options.standby_retry)
            continue
        announced = False
        with got, open_store(url) as store:
            log.info("active: dispatching checks to %s (queue %s)", queue_settings(config).shown,
                     queue_settings(config).name)
            code = _lead(config, store, app, options, got, stopping)
        if code is not None:
            return code
    return 0


def _lead(config: Config, store: Store, app: Celery, options: DispatchOptions, leadership: Leadership,
          stopping: threading.Event) -> int | None:
    """Rounds while the lock holds; an exit status, or None when the lock was lost (back to standby)."""
    dispatcher = Dispatcher(config, store, app, options, stopping=stopping)
    try:
        dispatcher.start()
        while not stopping.is_set():
            try:
                dispatcher.round()
            except MonitorError as exc:
                log.error("round failed: %s; trying again in %.0f s", exc, options.interval)
            if options.once:
                return 0
            stopping.wait(options.interval)
            if not leadership.alive():
                log.error("lost the dispatcher lock (the database session ended); back to standby")
                return None
        return 0
    finally:
        dispatcher.close()
