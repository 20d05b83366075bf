"""``newsmon run``: the daemon. Two kinds of job; the database holds all the state.

- **tick** (every second, a thread waiting on the monotonic clock): takes the articles that are due
  (``articles.next_check_at``) from the database in batches and checks them with the same
  ``ArticleChecker`` as ``newsmon check``, through a ``PoliteFetcher``; after each check it plans the next
  one (``monitor.schedule``) and stores the plans of a batch together.
- **discover:<source>** (per source with feeds or sitemaps, on APScheduler 3): reads them (conditional
  GET, validators in ``feed_state``) and adds the articles they list, due at once, tracked until the
  source's ``max_age``.

Jobs are rebuilt from the configuration at every start, never persisted: a restart resumes from the due
times in the database, so nothing is lost and nothing is caught up in a storm (coalesce, one instance per
job, a misfire grace). SIGTERM or SIGINT stops new work, lets checks in flight finish (at most
``GRACE`` seconds) and ends with status 0.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.check import fetch_settings, utc_now
from monitor.config import ArticleTarget, Config, SourceConfig
from monitor.config_schema import url_key
from monitor.daemon_checker import DaemonChecker
from monitor.errors import HostDeferred, RobotsDisallowed
from monitor.lock import StorageLock, acquire
from monitor.models import CHANGE_EVENTS, CheckEvent, Validators
from monitor.notify import Notifier, report_link
from monitor.polite import CANCELLED, Guard, GuardedFetcher, PoliteFetcher, host_key
from monitor.robots import DEFAULT_TTL
from monitor.schedule import SteadyClock, next_check
from monitor.store import Store
from monitor.store import scheduling as sched

__all__ = ["GRACE", "Daemon", "configure_logging", "run"]

log = logging.getLogger("monitor.daemon")

GRACE = 30.0                 # seconds checks in flight may take to finish after SIGTERM
TICK = 1.0                   # seconds between looks for due articles
DISCOVERY_DEFAULT = 600.0    # how often feeds are read when the source sets no interval
DISCOVERY_MIN = 10.0         # ... and at most this often, even with "interval: 2s"
PER_HOST_PER_BATCH = 5       # one slow host must not hold a whole batch
CHANGES = CHANGE_EVENTS | {"new"}           # an event that resets the unchanged streak
NOTIFY_RETRY = 60.0          # seconds between two looks for notifications to retry while nothing is checked
SITE_REFRESH = 60.0          # the report site is brought up to date at most this often, when something changed
STORIES_REFRESH = 600.0      # stories and the figure ledger: at most this often, when versions were stored
VERSION_EVENTS = CHANGES - {"removed"}      # the events that may store a version


class Daemon:
    """The jobs' bodies, testable without a scheduler: ``sync()``, ``tick()``, ``discover(name)``."""

    def __init__(self, config: Config, store: Store, polite: PoliteFetcher, *,
                 clock: Callable[[], datetime] = utc_now, rng: Callable[[], float] = random.random,
                 batch_size: int | None = None, extract_workers: int | None = None) -> None:
        self.config = config
        self.store = store
        self.polite = polite
        # Never backwards: after the system clock is set back, plans keep their distance from now instead of
        # every check waiting for the clock to catch up (tests/test_time_skew.py).
        self.clock = SteadyClock(clock)
        self.rng = rng
        self.stopping = polite.stopping
        self.batch_size = batch_size or max(4 * config.concurrency, 16)
        # PoliteFetcher spaces every request to a host; run_per_host need only keep one check per host at
        # a time. Its own delay would hold unstarted work in a sleep a shutdown cannot cut short.
        paced = replace(config, per_host_delay=0.0)
        # extract_workers: see monitor.extract_pool (None: a pool of one process per core when a batch has
        # many pages to extract; 1: in this process, as a distributed worker wants).
        self.checker = DaemonChecker(paced, store, polite, clock=self.clock, extract_workers=extract_workers)
        self.sources = {s.name: s for s in config.sources}
        self._trusted = {url_key(u) for s in config.sources for u in (*s.urls, *s.feeds, *s.sitemaps)}
        self._source_of: dict[str, str] = {}      # discovered URL -> its source, for its guard
        self._discovering = threading.local()
        self._strict: Guard = _strict_guard()
        polite.guard_of = self.guard_of
        # --- notifications (monitor.notify): after each batch of checks; None without `notify:` targets ---
        self.notifier = Notifier(config, store, clock=self.clock) if config.notify else None
        self._next_flush = 0.0
        # --- the report site (monitor.report.site): whether changes wait to be drawn, and when to draw them.
        # True at start: changes stored while no daemon ran (by `newsmon check`, or before a crash) count too.
        self._site_pending = True
        self._next_site = 0.0
        # --- stories (monitor.stories): grouping costs milliseconds per new version against every article, too
        # much for each batch; new versions wait and are grouped together.
        self._stories_pending = True
        self._next_stories = 0.0

    # -- which URLs are trusted ----------------------------------------------------------------------

    def guard_of(self, url: str) -> Guard | None:
        """None for URLs written in the configuration; the source's address guard for discovered ones."""
        if url_key(url) in self._trusted:
            return None
        name = self._source_of.get(url) or getattr(self._discovering, "source", None)
        source = self.sources.get(name) if name else None
        if source is not None and source.allow_private:
            return None
        return self._strict                        # unknown origin: the strictest rule

    # -- jobs ----------------------------------------------------------------------------------------

    def sync(self) -> None:
        """Track every URL of the configuration (known ones keep their schedule)."""
        now = self.clock()
        added = sched.add_articles(self.store, [(t.url, t.source, None) for t in self.config.articles()],
                                   now=now, discovered=False)
        if added:
            log.info("tracking %d new configured article(s)", added)

    def tick(self) -> int:
        """Check due articles in batches until none is due or the daemon stops; returns how many."""
        done = 0
        while not self.stopping.is_set():
            batch = self._next_batch()
            if not batch:
                break
            events = self.check_batch(batch)
            done += len(events)
            self._notify(events)
            self.note_changes(events)
        if not done:
            self._notify(None)                       # nothing checked: retry failed notifications now and then
        self.refresh_site()
        self.refresh_stories()
        return done

    def check_batch(self, batch: dict[str, sched.DueArticle]) -> list[CheckEvent]:
        """Check a batch of articles (URL -> its schedule) and store their next checks; their events.

        The tick's body, and the whole of a distributed worker's task (monitor/distributed/tasks.py), so a
        check is the same check wherever it runs."""
        events: list[CheckEvent] = []
        plans: list[sched.Plan] = []
        self._source_of = {url: a.source for url, a in batch.items() if a.discovered}   # for their guard
        self.checker.discovered = set(self._source_of)
        try:
            for fetched_url, event in self.checker.checks([ArticleTarget(a.url, a.source) for a in batch.values()]):
                plan = self._after(batch[fetched_url], event)
                if plan is not None:
                    plans.append(plan)
                events.append(event)
        finally:
            # One transaction for the batch's plans. If the daemon dies first, its articles are simply
            # still due and are checked again after the restart.
            sched.save_plans(self.store, plans)
        return events

    def note_changes(self, events: Sequence[CheckEvent] | None = None) -> None:
        """Changes were stored (by these events; None: by someone else, a distributed worker): the next
        report-site and stories refreshes draw them."""
        if events is None:
            self._site_pending = self._stories_pending = True
            return
        self._site_pending = self._site_pending or any(e.event in CHANGE_EVENTS for e in events)
        self._stories_pending = self._stories_pending or any(e.event in VERSION_EVENTS for e in events)

    def refresh_stories(self) -> None:
        """Group new versions into stories and record their figures, at most every STORIES_REFRESH seconds.
        Never raises: stories are derived data, rebuilt from the store by the next refresh."""
        if not self._stories_pending or time.monotonic() < self._next_stories:
            return
        self._next_stories = time.monotonic() + STORIES_REFRESH
        self._stories_pending = False
        from monitor.stories import refresh_stories

        try:
            refresh_stories(self.store, threshold=self.config.stories.threshold)
            if self.notifier is not None:
                # A figure the sources of a story now disagree on: one message per disagreement.
                from monitor.figure_ledger import tracked_quantities
                from monitor.notify import story_report_link

                self.notifier.notify_discrepancies(tracked_quantities(self.store), story_report_link(self.config))
        except Exception:
            log.exception("stories were not brought up to date; they will be at the next refresh")

    def refresh_site(self) -> None:
        """Bring the report site up to date when changes wait, at most every SITE_REFRESH seconds.

        Only the pages of articles that changed are redrawn (monitor.report.site_cache). Never raises: a
        broken report folder must not stop the checks."""
        if not self._site_pending or time.monotonic() < self._next_site:
            return
        self._next_site = time.monotonic() + SITE_REFRESH
        self._site_pending = False
        from monitor.report.site import build_site  # jinja2 and the templates: only once there is a change

        try:
            drawn = build_site(self.store, self.config.reports_dir(), since=None, generated_at=self.clock(),
                               stop=self.stopping.is_set)
            if not drawn.complete:
                self._site_pending = True            # stopped halfway: the next start finishes it
        except Exception:
            log.exception("the report site in %s was not updated; it will be at the next change",
                          self.config.reports_dir())

    # --- notifications ------------------------------------------------------------------------------

    def _notify(self, events: list[CheckEvent] | None) -> None:
        """Send a batch's changes (None: only retry the outbox, at most every NOTIFY_RETRY seconds).

        Never raises: a broken notification channel must not stop the checks; the outbox keeps the message."""
        if self.notifier is None:
            return
        if events is None and time.monotonic() < self._next_flush:
            return
        self._next_flush = time.monotonic() + NOTIFY_RETRY
        try:
            if events is None:
                self.notifier.flush()
            else:
                self.notifier.notify([e for e in events if e.error != CANCELLED], report_link(self.config))
        except Exception:
            log.exception("notifications failed; the outbox keeps them for the next try")

    def close(self) -> None:
        self.checker.close()
        if self.notifier is not None:
            self.notifier.close()

    def _next_batch(self) -> dict[str, sched.DueArticle]:
        now = self.clock()
        due = sched.due_articles(self.store, now=now, sources_wanted=list(self.sources), limit=self.batch_size)
        batch: dict[str, sched.DueArticle] = {}
        per_host: dict[str, int] = {}
        deferred: dict[float, list[str]] = {}
        wall = time.time()
        for article in due:
            host = host_key(article.url)
            if not self.polite.health.ready(host, wall):
                # Not even handed to the checker: a host backing off gets no request and no error row.
                deferred.setdefault(self.polite.health.next_allowed(host), []).append(article.url)
            elif per_host.get(host, 0) < PER_HOST_PER_BATCH:
                per_host[host] = per_host.get(host, 0) + 1
                batch[article.url] = article
        for until, urls in deferred.items():
            sched.postpone(self.store, urls, datetime.fromtimestamp(until, UTC))
        return batch

    def _after(self, article: sched.DueArticle, event: CheckEvent) -> sched.Plan | None:
        """Log one check and plan the next (None: no new plan, the article stays due)."""
        if event.error == CANCELLED:
            return None                              # stays due: checked after the next start
        if event.url != article.url:
            log.info("tracking %s as %s, the URL its page names as canonical", article.url, event.url,
                     extra={"url": event.url, "source": event.source})
        level = logging.WARNING if event.event == "error" else logging.INFO
        log.log(level, "%s %s%s", event.event, event.url,
                f": {event.error}" if event.error else (f" v{event.version}" if event.version else ""),
                extra={"url": event.url, "source": event.source, "event": event.event, "version": event.version})
        refusal = self.polite.refusals.pop(article.url, None)
        now = self.clock()
        if isinstance(refusal, HostDeferred):
            return sched.Plan(event.url, datetime.fromtimestamp(refusal.retry_at, UTC), streak=None)
        if isinstance(refusal, RobotsDisallowed):
            # robots.txt is read again after a day at most; asking before that would get the same answer.
            return sched.Plan(event.url, now + timedelta(seconds=DEFAULT_TTL), streak=None)
        source = self.sources.get(article.source)
        plan = next_check(now=now, born=article.born, changed=event.event in CHANGES,
                          streak=article.streak, interval=source.interval if source else None,
                          stop_age=source.max_age if source else None, rng=self.rng)
        # A failed check says nothing about whether the article changes: it keeps its streak.
        streak = article.streak if event.event == "error" else plan.streak
        if plan.at is None:
            log.info("stopped tracking %s: older than the source's max_age", event.url)
        return sched.Plan(event.url, plan.at, streak)

    def discover(self, name: str) -> int:
        """Read a source's feeds and sitemaps; returns how many new articles were added."""
        from monitor.discover import discover

        source = self.sources[name]
        saved = sched.feed_validators(self.store)
        now = self.clock()
        with self._discovering_source(name):
            result = discover(source, self.polite, now=now,
                              validators_for=lambda url: saved.get(url, Validators()))
        for url, validators in result.validators.items():
            found = sum(1 for a in result.articles if a.source_feed == url)
            sched.record_feed(self.store, url, name, now=now, validators=validators,
                              found=found if url in result.fetched else None)
        for error in result.errors:
            if error.endswith(CANCELLED):
                continue                             # a shutdown, not a broken feed: nothing to remember
            failed = next((u for u in (*source.feeds, *source.sitemaps) if error.startswith(u)), None)
            if failed is not None:
                sched.record_feed(self.store, failed, name, now=now, error=error[len(failed):].lstrip(": "))
            log.warning("discovery for %s: %s", name, error, extra={"source": name})
        for url in (*source.feeds, *source.sitemaps):
            self.polite.refusals.pop(url, None)      # kept for article checks only
        items = [(a.url, name, a.date) for a in result.articles]
        added = sched.add_articles(self.store, items, now=now, discovered=True)
        log.info("%s: %d article(s) listed, %d new, %d rejected", name, len(items), added,
                 len(result.rejected), extra={"source": name})
        return added

    @contextmanager
    def _discovering_source(self, name: str) -> Iterator[None]:
        self._discovering.source = name
        try:
            yield
        finally:
            self._discovering.source = None


def _strict_guard() -> Guard:
    from monitor.urls import guard_for

    return guard_for(False)


def discovery_interval(source: SourceConfig) -> float:
    return max(source.interval, DISCOVERY_MIN) if source.interval else DISCOVERY_DEFAULT


# -- logging ---------------------------------------------------------------------------------------

class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the fields passed as ``extra``."""

    FIELDS = ("url", "source", "event", "version")

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(),
                                "level": record.levelname.lower(), "logger": record.name,
                                "message": record.getMessage()}
        data.update({k: getattr(record, k) for k in self.FIELDS if getattr(record, k, None) is not None})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


class _Quiet(logging.Filter):
    """Drop APScheduler's note that a job is still running: with one tick a second it is routine."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in record.getMessage()


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                                               "%Y-%m-%d %H:%M:%S"))
    handler.addFilter(_Quiet())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)          # one line per request is too much
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


# -- the process -----------------------------------------------------------------------------------

class _Jobs:
    """Counts running jobs, so a shutdown can wait for them; logs a job's crash instead of losing it."""

    def __init__(self, stopping: threading.Event) -> None:
        self.stopping = stopping
        self.running = 0
        self._cond = threading.Condition()

    def wrap(self, name: str, body: Callable[[], object]) -> Callable[[], None]:
        def job() -> None:
            if self.stopping.is_set():
                return
            with self._cond:
                self.running += 1
            try:
                body()
            except Exception:
                log.exception("job %s failed; it runs again at its next time", name)
            finally:
                with self._cond:
                    self.running -= 1
                    self._cond.notify_all()
        return job

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.running == 0, timeout)


def run(config: Config, *, stopping: threading.Event | None = None, install_signals: bool = True,
        lock: StorageLock | None = None) -> int:
    """Run the daemon until SIGTERM/SIGINT (or ``stopping`` is set). Returns the exit status.

    Takes the storage's lock unless given it (the CLI takes it before importing the check pipeline, so
    a second daemon is refused in a fraction of the start-up time); released on return. Raises
    ``LockHeld`` when another daemon holds the storage, and ``StoreError`` for unusable storage.
    """
    from monitor.store import open_store

    stopping = stopping or threading.Event()
    lock = lock or acquire(config.storage_url())
    try:
        store = open_store(config.storage_url())
        polite = PoliteFetcher(GuardedFetcher(fetch_settings(config)), per_host_delay=config.per_host_delay,
                               concurrency=config.concurrency, stopping=stopping)
        try:
            daemon = Daemon(config, store, polite)
            try:
                daemon.sync()
                return _serve(daemon, stopping, install_signals)
            finally:
                daemon.close()
        finally:
            polite.close()
            store.close()
    finally:
        lock.release()


def _serve(daemon: Daemon, stopping: threading.Event, install_signals: bool) -> int:
    def on_signal(signum: int, _frame: object) -> None:
        if not stopping.is_set():
            log.info("%s received: finishing the checks in flight (at most %.0f s)",
                     signal.Signals(signum).name, GRACE)
        stopping.set()

    if install_signals:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    config = daemon.config
    jobs = _Jobs(stopping)
    discovering = [s for s in config.sources if s.feeds or s.sitemaps]
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=max(1, min(len(discovering), 8)))},
        # coalesce + one instance: a job that fell behind (a long batch, a suspended laptop) runs once,
        # not once per missed time; the grace lets a run that is a little late still happen.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        timezone=UTC)
    now = datetime.now(UTC)
    tick = jobs.wrap("tick", daemon.tick)

    def tick_loop() -> None:
        # Not an APScheduler job: its triggers plan on the wall clock, so a clock set back an hour would stop
        # every check for an hour. Event.wait counts on the monotonic clock; one tick at a time, as ever.
        while not stopping.is_set():
            tick()
            stopping.wait(TICK)

    ticker = threading.Thread(target=tick_loop, name="newsmon-tick", daemon=True)
    ticker.start()
    for source in discovering:
        scheduler.add_job(jobs.wrap(f"discover:{source.name}", functools.partial(daemon.discover, source.name)),
                          IntervalTrigger(seconds=discovery_interval(source), timezone=UTC),
                          id=f"discover:{source.name}", name=f"discover:{source.name}", next_run_time=now)
    scheduler.start()
    log.info("newsmon daemon started: %d source(s), %d with feeds or sitemaps, storage %s",
             len(config.sources), len(discovering), config.storage_url().split("@")[-1])
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        stopping.set()
        scheduler.shutdown(wait=False)
        if not jobs.wait_idle(GRACE):
            log.warning("checks still running after %.0f s; exiting anyway (they stay due)", GRACE)
    log.info("newsmon daemon stopped")
    return 0
