"""The worker's task: check a few leased articles through the daemon's own pipeline.

``newsmon.check`` takes ``[[url, lease], ...]`` (``lease``: the ISO time the dispatcher leased the article
until, its fencing token, see ``leases``). It claims the articles whose lease still stands and hands them
to ``Daemon.check_batch``, the daemon's tick body: the same ``DaemonChecker`` (canonical URLs of
discovered articles, shutdowns), the same ``PoliteFetcher`` (robots.txt, retries, host backoff, address
guards), the same schedule. Only two things differ from ``newsmon run``:

- the per-host turn is shared by every process (``limiter.SharedHostGate`` replaces the fetcher's gate);
- notifications are only written to the outbox here; the active dispatcher, of which there is exactly
  one, delivers them, so two workers never send one message twice.

State kept between tasks: the store (one engine per process, opened after a prefork pool forks) and the
shared turns; per thread, a ``Daemon`` and its ``PoliteFetcher`` (the daemon's guard and canonical-URL
bookkeeping are per batch, so threads must not share one).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor.config import Config
from monitor.models import CheckEvent
from monitor.notify import Notifier, report_link

if TYPE_CHECKING:
    from celery import Celery

    from monitor.daemon import Daemon
    from monitor.distributed.limiter import SharedHostGate
    from monitor.polite import PoliteFetcher
    from monitor.store import Store

__all__ = ["WorkerState", "register", "run_check"]

log = logging.getLogger("monitor.distributed.worker")


class OutboxOnly(Notifier):
    """A ``Notifier`` that writes messages to the outbox and delivers none: the dispatcher delivers."""

    def _deliver(self) -> tuple[int, int]:
        return 0, 0


@dataclass
class _Thread:
    daemon: Daemon
    polite: PoliteFetcher
    notifier: OutboxOnly | None


class WorkerState:
    """What a worker process keeps between tasks; built at the first task, after any fork."""

    def __init__(self, config: Config) -> None:
        from monitor.check import fetch_settings
        from monitor.distributed.app import queue_settings
        from monitor.polite import GuardedFetcher
        from monitor.politeness import HostHealth
        from monitor.robots import RobotsCache, fetcher_robots
        from monitor.store import open_store

        self.config = config
        self.pid = os.getpid()
        self.stopping = threading.Event()
        self.store: Store = open_store(config.storage_url())
        self.gate: SharedHostGate = shared_gate(config, self.store, self.stopping)
        self._settings = fetch_settings(config)
        # One fetcher (its connections; each thread's hops are its own), one robots.txt cache and one
        # record of failing hosts for the whole process: per thread, every site's robots.txt was read
        # once by each thread, and a failing host was backed off by each thread on its own.
        self._fetcher = GuardedFetcher(self._settings)
        self._robots_fetcher = fetcher_robots(self._fetcher)
        self.robots = RobotsCache(self._robots_fetcher, self._settings.user_agent)
        self.health = HostHealth()
        self._local = threading.local()
        self._threads: list[_Thread] = []
        self._lock = threading.Lock()
        self.queue = queue_settings(config)

    def thread(self) -> _Thread:
        found: _Thread | None = getattr(self._local, "state", None)
        if found is None:
            from monitor.daemon import Daemon
            from monitor.polite import PoliteFetcher

            polite = PoliteFetcher(self._fetcher, per_host_delay=self.config.per_host_delay,
                                   concurrency=self.config.concurrency, stopping=self.stopping,
                                   robots=self.robots, health=self.health)
            polite.gate = self.gate            # type: ignore[assignment]  # HostGate's interface, shared
            notifier = OutboxOnly(self.config, self.store) if self.config.notify else None
            # Extraction stays in the task's own process: a deployment scales by worker processes (one per
            # core, or --pool prefork), and a pool of extraction processes per worker thread would
            # oversubscribe the cores (and a prefork pool's daemonic processes may not start one at all).
            daemon = Daemon(self.config, self.store, polite, extract_workers=1)
            found = _Thread(daemon, polite, notifier)
            self._local.state = found
            with self._lock:
                self._threads.append(found)
        return found

    def close(self) -> None:
        self.stopping.set()
        for state in self._threads:
            state.daemon.close()        # not state.polite.close(): its fetcher is the process's, closed once
        self._robots_fetcher.close()
        self._fetcher.close()
        self.store.close()


def shared_gate(config: Config, store: Store, stopping: threading.Event) -> SharedHostGate:
    """The limiter of this deployment: Redis keys when the broker is Redis, else rows in the store."""
    from monitor.distributed.app import queue_settings
    from monitor.distributed.limiter import PostgresTurns, RedisTurns, SharedHostGate, Turns

    queue = queue_settings(config)
    turns: Turns = RedisTurns(queue.broker_url, queue.name) if queue.is_redis else PostgresTurns(store.engine)
    return SharedHostGate(turns, stopping)


_state: WorkerState | None = None
_state_lock = threading.Lock()


def worker_state(config: Config) -> WorkerState:
    global _state
    with _state_lock:
        if _state is None or _state.pid != os.getpid():    # a forked pool process builds its own
            _state = WorkerState(config)
        return _state


def run_check(state: WorkerState, items: Sequence[Sequence[str]]) -> dict[str, int]:
    """The task's body: claim the still-leased articles, check them, queue their notifications."""
    from monitor.distributed.leases import claim

    pairs = [(str(url), datetime.fromisoformat(str(token))) for url, token in items]
    batch, skipped = claim(state.store, pairs)
    if skipped:
        log.info("%d article(s) already checked or leased again since this task was queued: skipped",
                 len(skipped))
    if not batch:
        return {"checked": 0, "skipped": len(skipped)}
    mine = state.thread()
    events = mine.daemon.check_batch(batch)
    _queue_notifications(mine, events)
    return {"checked": len(events), "skipped": len(skipped)}


def _queue_notifications(mine: _Thread, events: list[CheckEvent]) -> None:
    if mine.notifier is None:
        return
    from monitor.polite import CANCELLED

    try:
        mine.notifier.notify([e for e in events if e.error != CANCELLED], report_link(mine.daemon.config))
    except Exception:
        # The versions are stored; only their messages are missing. Said loudly, never a failed task
        # (a retry would find the versions stored and queue nothing either).
        log.exception("the notifications of %d check(s) could not be queued", len(events))


def register(app: Celery, config: Config) -> None:
    """Define ``newsmon.check`` on ``app`` for this configuration."""
    from monitor.distributed.app import TASK

    @app.task(name=TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
    def check(items: list[list[str]]) -> dict[str, Any]:
        return run_check(worker_state(config), items)
