"""A fetcher a site's operators are glad to see: robots.txt, pacing, retries and host backoff in one place.

``PoliteFetcher`` has the ``fetch(url, validators) -> FetchResult`` of ``monitor.fetch.Fetcher``, so the
check pipeline and discovery use it unchanged. For each fetch, in order:

1. the URL's guard runs (``guard_of``: discovered URLs must not point into private networks unless their
   source allows it; URLs from the configuration are trusted and have none);
2. a host that is backing off (``HostHealth``) is refused with ``HostDeferred``, without a request;
3. robots.txt is asked (``RobotsCache``; fetched at most once per origin per 24 h): a disallowed URL
   raises ``RobotsDisallowed``, an unreachable robots.txt ``HostDeferred``;
4. the request goes out through ``fetch_with_retries``; every request to a host, robots.txt, redirect
   hops and retries included, first waits its turn at the ``HostGate``: one request at a time per host,
   ``max(per_host_delay, Crawl-delay)`` after the previous one ended;
5. a transient failure counts against the host (``HostHealth.record_failure`` with the Retry-After);
   any answer counts for it.

How every hop is covered: ``GuardedFetcher.check_url`` runs before every request ``Fetcher`` and
``RobotsFetcher`` send, on the thread that sends it; ``PoliteFetcher`` puts the URL's guard and pacing
in a thread-local context there, so redirects and robots.txt are guarded and paced like the first hop.
The first hop of an article is paced before ``Fetcher.fetch`` starts its clock, so time spent waiting
for the host's turn never eats into the request's total deadline. A turn ends when the next hop begins
(the previous response has been read by then) or when the fetch returns; never during a retry's backoff.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from monitor.errors import FetchCancelled, FetchError, HostDeferred, NotFetched, RobotsDisallowed
from monitor.fetch import Fetcher, FetchSettings
from monitor.models import FetchResult, Validators
from monitor.politeness import HostHealth, fetch_with_retries, is_transient, retry_after_seconds
from monitor.robots import RobotsCache, RobotsFetcher, fetcher_robots
from monitor.urls import AddressPolicy
from monitor.wire import WirePool

__all__ = ["CANCELLED", "Guard", "GuardedFetcher", "HostGate", "PoliteFetcher", "host_key", "pacing_margin"]

log = logging.getLogger(__name__)

Guard = Callable[[str], None]     # raises FetchError for a URL that must not be requested
CANCELLED = "not fetched: newsmon is shutting down"    # the reason of every FetchCancelled


def host_key(url: str) -> str:
    """The unit of politeness: the host name without the port.

    Two ports of one machine are one server to its operator, so they share a pace; being stricter than
    ``host:port`` costs a little speed and never a burst. The names of this machine's loopback
    (``localhost``, ``127.0.0.1``, ``::1``) are one host too: a feed read as ``localhost`` may list
    articles on ``127.0.0.1``, and both reach the same server.
    """
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return "loopback"
    except ValueError:
        pass
    return host


def pacing_margin(delay: float) -> float:
    """A hair on top of ``delay`` for clock granularity; the spacing itself is guaranteed by ``HostGate``."""
    return min(0.02, 0.1 * delay)


class HostLocks:
    """A lock per host, taken with a wait that a stop request cuts short: one request at a time per host
    within a process (HostGate here, SharedHostGate across processes)."""

    def __init__(self, stopping: threading.Event) -> None:
        self._stopping = stopping
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def take(self, host: str) -> bool:
        """Wait for ``host``'s lock and take it; False (holding nothing) once stopping is set."""
        with self._guard:
            lock = self._locks.setdefault(host, threading.Lock())
        while not lock.acquire(timeout=0.1):
            if self._stopping.is_set():
                return False
        return True

    def release(self, host: str) -> None:
        self._locks[host].release()


class HostGate:
    """One request at a time per host, each sent at least ``delay`` seconds after the previous one *ended*.

    Why not pacing start to start: a server sees a request when it arrives, and the time between
    our "go" and the arrival varies (a cold connection, a first request's lazy set-up, a busy machine).
    Measured under a loaded test run with a 0.5 s delay paced start to start: 0.43 s between two arrivals.
    Counted from the end of the previous response, the spacing holds at the server whatever the
    latencies: it received the previous request before it answered it, and the next one leaves after
    that. It costs one response time per request, a few percent at the usual delays. A lock per host
    also keeps one request at a time across jobs (a feed read and an article check of one site).
    """

    def __init__(self, stopping: threading.Event, clock: Callable[[], float] = time.monotonic) -> None:
        self._stopping = stopping
        self._clock = clock
        self._locks = HostLocks(stopping)
        self._ended: dict[str, float] = {}

    def enter(self, host: str, delay: float) -> bool:
        """Wait for ``host``'s turn and take it; False (holding nothing) when the daemon stops meanwhile."""
        if not self._locks.take(host):
            return False
        wait = self._ended.get(host, float("-inf")) + delay - self._clock()
        if wait > 0:
            self._stopping.wait(wait)
        if self._stopping.is_set():
            self._locks.release(host)
            return False
        return True

    def leave(self, host: str) -> None:
        """The request to ``host`` is over (answered or failed): the next one may be sent ``delay`` from now."""
        self._ended[host] = self._clock()
        self._locks.release(host)


@dataclass
class _Hop:
    """What ``check_url`` applies on this thread while a polite fetch is in progress."""

    guard: Guard | None
    pace: Callable[[str], None]
    robots: Callable[[str], None] | None = None    # raises for a redirect target robots.txt forbids
    skip_next_pace: bool = False
    held: str | None = None                        # the host whose turn this thread holds


class GuardedFetcher(Fetcher):
    """A ``Fetcher`` whose per-hop check also runs the current polite fetch's guard and pacing."""

    def __init__(self, settings: FetchSettings, pool: WirePool | None = None) -> None:
        super().__init__(settings, pool)
        self._local = threading.local()

    @contextmanager
    def hops(self, hop: _Hop) -> Iterator[_Hop]:
        previous = getattr(self._local, "hop", None)
        self._local.hop = hop
        try:
            yield hop
        finally:
            self._local.hop = previous

    def peer_check(self, url: str) -> Callable[[str], None] | None:
        """The current fetch's address policy, applied to the address each connection reached: the name
        may resolve to a private address when connecting although it resolved to a public one when the
        guard looked (DNS rebinding)."""
        hop: _Hop | None = getattr(self._local, "hop", None)
        guard = hop.guard if hop is not None else None
        if isinstance(guard, AddressPolicy):
            return functools.partial(guard.check_peer, url)
        return None

    def check_url(self, url: str) -> None:
        super().check_url(url)
        hop: _Hop | None = getattr(self._local, "hop", None)
        if hop is None:
            return
        if hop.guard is not None:
            hop.guard(url)
        if hop.skip_next_pace:
            hop.skip_next_pace = False       # the first hop was asked of robots.txt and paced already
            return
        # A redirect target is a URL of its own: its site's robots.txt decides (RFC 9309 applies per URL).
        # robots.txt requests themselves are exempt, which also keeps the cache from re-entering itself.
        if hop.robots is not None and urlsplit(url).path != "/robots.txt":
            hop.robots(url)
        hop.pace(url)         # ends the previous hop's turn (its response is read) and takes this one


class PoliteFetcher:
    """``fetch(url, validators)`` with robots.txt, per-host pacing, retries and host backoff.

    ``stopping`` (an Event) makes every fetch not yet sending a request raise ``FetchCancelled``, and
    cuts short waits for a host's turn or a retry. ``guard_of(url)`` gives the guard for a URL (None:
    trusted). ``robots`` defaults to a cache reading robots.txt with ``fetcher``'s settings.
    """

    def __init__(self, fetcher: GuardedFetcher, *, per_host_delay: float, concurrency: int = 16,
                 guard_of: Callable[[str], Guard | None] = lambda url: None,
                 robots: RobotsCache | None = None, health: HostHealth | None = None,
                 stopping: threading.Event | None = None,
                 clock: Callable[[], float] = time.time, attempts: int = 3, retry_base: float = 1.0,
                 robots_transport: httpx.BaseTransport | None = None) -> None:
        self.fetcher = fetcher
        self.settings = fetcher.settings          # discovery reads max_bytes from here
        self.per_host_delay = per_host_delay
        self.guard_of = guard_of
        self.stopping = stopping or threading.Event()
        self.health = health or HostHealth()
        self.gate = HostGate(self.stopping)
        self._robots_fetcher: RobotsFetcher | None = None
        if robots is None:
            self._robots_fetcher = fetcher_robots(fetcher, transport=robots_transport)
            robots = RobotsCache(self._robots_fetcher, fetcher.settings.user_agent, clock=clock)
        self.robots = robots
        self.clock = clock
        self.attempts = attempts
        self.retry_base = retry_base
        self._crawl_delays: dict[str, float] = {}
        self.requests = 0                          # requests sent (for logs and tests)
        # The last refusal per URL (robots.txt, a host backing off), for the scheduler to plan around.
        self.refusals: dict[str, NotFetched] = {}
        # The global limit across every job (checks and discovery), not only within one batch.
        self._slots = threading.BoundedSemaphore(concurrency)
        self._count = threading.Lock()

    def __enter__(self) -> PoliteFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._robots_fetcher is not None:
            self._robots_fetcher.close()
        self.fetcher.close()

    # -- waiting ---------------------------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        # A stop request ends a wait at once; the caller then sees stopping set and sends nothing.
        self.stopping.wait(max(seconds, 0.0))

    def delay_for(self, host: str) -> float:
        return max(self.per_host_delay, self._crawl_delays.get(host, 0.0))

    def _pace(self, url: str, hop: _Hop) -> None:
        """End this thread's current turn, if any, then wait for ``url``'s host and take its turn."""
        self._release(hop)
        host = host_key(url)
        delay = self.delay_for(host)
        self._cancel_if_stopping(url)
        if not self.gate.enter(host, delay + pacing_margin(delay)):
            self._cancel_if_stopping(url)
        hop.held = host
        with self._count:
            self.requests += 1

    def _release(self, hop: _Hop) -> None:
        if hop.held is not None:
            host, hop.held = hop.held, None
            self.gate.leave(host)

    def _robots_gate(self, url: str, hop: _Hop) -> None:
        """Raise unless robots.txt lets us fetch ``url`` now; remembers the host's Crawl-delay."""
        try:
            decision = self.robots.check(url)
        finally:
            self._release(hop)           # a robots.txt request, if one was sent, is over
        if decision.crawl_delay is not None:
            self._crawl_delays[host_key(url)] = decision.crawl_delay
        if not decision.allowed:
            if decision.retry_at is not None:
                raise HostDeferred(url, decision.reason, decision.retry_at)
            raise RobotsDisallowed(url, decision.reason)

    def _cancel_if_stopping(self, url: str) -> None:
        if self.stopping.is_set():
            raise FetchCancelled(url, CANCELLED)

    # -- fetching --------------------------------------------------------------------------------

    def fetch(self, url: str, validators: Validators = Validators(), **options: Any) -> FetchResult:  # noqa: B008
        """Fetch ``url`` politely; raises ``NotFetched`` subclasses when politeness forbids asking.

        ``options`` (``kind``, ``check_url``: what discovery passes) go to ``Fetcher.fetch`` unchanged.
        """
        try:
            # Taken before the host's turn is reserved, never after: a turn claimed and then spent
            # waiting for a slot would let the next request to the host start too soon after it.
            with self._slots:
                return self._fetch(url, validators, {k: v for k, v in options.items() if v is not None})
        except (RobotsDisallowed, HostDeferred) as exc:
            self.refusals[url] = exc
            raise

    def _fetch(self, url: str, validators: Validators, options: dict[str, Any]) -> FetchResult:
        self._cancel_if_stopping(url)
        host = host_key(url)
        hop = _Hop(guard=self.guard_of(url), pace=lambda u: self._pace(u, hop),
                   robots=lambda u: self._robots_gate(u, hop))
        with self.fetcher.hops(hop):
            try:
                return self._fetch_in(url, host, validators, options, hop)
            finally:
                self._release(hop)

    def _fetch_in(self, url: str, host: str, validators: Validators, options: dict[str, Any],
                  hop: _Hop) -> FetchResult:
        # The guard first: not even robots.txt is asked of a host a discovered URL may not reach.
        if hop.guard is not None:
            hop.guard(url)
        now = self.clock()
        if not self.health.ready(host, now):
            retry_at = self.health.next_allowed(host)
            raise HostDeferred(url, f"host {host} is backing off after failures; next try in "
                                    f"{retry_at - now:.0f} s", retry_at)
        self._robots_gate(url, hop)

        def attempt() -> FetchResult:
            self._pace(url, hop)
            hop.skip_next_pace = True
            try:
                return self.fetcher.fetch(url, validators, **options)
            finally:
                # Over, answered or not: a retry's backoff must not hold the host's turn.
                self._release(hop)

        try:
            result = fetch_with_retries(attempt, attempts=self.attempts, base_delay=self.retry_base,
                                        sleep=self._sleep, now=lambda: datetime.fromtimestamp(self.clock(), UTC))
        except FetchCancelled:
            raise
        except FetchError as exc:
            if is_transient(exc):
                now = self.clock()
                until = self.health.record_failure(host, now, retry_after_seconds(exc))
                if until > now:
                    log.info("%s: host backs off for %.0f s", host, until - now)
            raise
        self.health.record_success(host)
        return result
