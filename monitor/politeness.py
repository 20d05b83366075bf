"""Being a guest a site is glad to have: Retry-After, per-host backoff, and bounded retries.

Three layers, from the quickest to the slowest:

- ``fetch_with_retries`` retries one fetch in-line after a transient failure (network error, timeout,
  429/500/502/503/504), twice, with exponential backoff and full jitter; a Retry-After it can honour
  within ``max_delay`` replaces the backoff.
- A Retry-After longer than that is not slept on a worker thread: the error is raised at once, and the
  caller hands it to ``HostHealth.record_failure``, which keeps the whole host away until then.
- ``HostHealth`` also backs a host off exponentially after 5 failed checks in a row (60 s, 120 s, ...,
  at most 1 h), so a site that is down is not asked every few seconds for the length of its outage.

Spacing the requests to one host, whoever makes them, is ``monitor.polite.HostGate``'s job: one item of
``run_per_host`` may send several requests (robots.txt then the article; a retry), and a server counts
requests, not items.

None of this is a change of an article; callers report these failures as errors, never as versions.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from monitor.errors import FetchError, FetchTimeout, HTTPStatusError, NetworkError

__all__ = ["MAX_RETRY_AFTER", "RETRY_STATUSES", "HostHealth", "fetch_with_retries",
           "is_transient", "parse_retry_after", "retry_after_seconds"]

log = logging.getLogger(__name__)

R = TypeVar("R")

MAX_RETRY_AFTER = 3600.0         # a longer Retry-After is taken as 1 h: no host parks us for a day
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110 10.2.3): delay-seconds or an HTTP-date.

    Capped at ``MAX_RETRY_AFTER``; a negative delay or a date in the past is 0. None for a missing or
    unparsable value, so the caller falls back to its own backoff.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)             # the RFC says digits only; "1.5" and "-3" are read leniently
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:            # "-0000" zones parse as naive: HTTP dates are always GMT
            when = when.replace(tzinfo=UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def retry_after_seconds(exc: BaseException, now: datetime | None = None) -> float | None:
    """The Retry-After an error carries, in seconds, or None.

    Reads ``exc.retry_after`` when present: the raw header value (str), or seconds already parsed.
    """
    value = getattr(exc, "retry_after", None)
    if value is None:
        return None
    if isinstance(value, int | float):
        return None if not math.isfinite(value) else min(max(float(value), 0.0), MAX_RETRY_AFTER)
    return parse_retry_after(str(value), now or datetime.now(UTC))


def is_transient(exc: BaseException) -> bool:
    """Whether trying the same request again soon may succeed."""
    if isinstance(exc, HTTPStatusError):
        return exc.status in RETRY_STATUSES
    return isinstance(exc, NetworkError | FetchTimeout)


def fetch_with_retries(
    fetch: Callable[[], R],
    *,
    attempts: int = 3,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
    sleep: Callable[[float], object] = time.sleep,
    rng: Callable[[], float] = random.random,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> R:
    """Call ``fetch`` up to ``attempts`` times while it fails transiently; return its first result.

    Between attempts it sleeps ``rng() * min(max_delay, base_delay * 2**(n-1))`` (full jitter), or the
    error's Retry-After when there is one. That can be shorter than the host's delay: let ``fetch``
    wait for the host's turn (``monitor.polite.HostGate``) so that a retry is never a burst. The last error is raised
    unchanged; so is any non-transient error (4xx but 429, NotHTML, BodyTooLarge, ...) and a transient
    one whose Retry-After exceeds ``max_delay`` (the host should be deferred, not waited for here).

    A plain loop rather than tenacity: the Retry-After rule (sleep exactly that long, or give up at once
    when it is too long) would need a custom wait, stop and retry predicate reading the same exception,
    which is harder to follow than these few lines.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    attempt = 1
    while True:
        try:
            return fetch()
        except FetchError as exc:
            if attempt >= attempts or not is_transient(exc):
                raise
            retry_after = retry_after_seconds(exc, now())
            if retry_after is not None and retry_after > max_delay:
                log.info("%s: Retry-After %.0f s is longer than %.0f s; not retrying now", exc.url,
                         retry_after, max_delay)
                raise
            # The server's own figure beats our guess; full jitter spreads out clients that failed together.
            backoff = rng() * min(max_delay, base_delay * 2 ** (attempt - 1))
            delay = backoff if retry_after is None else retry_after
            log.info("%s; retry %d of %d in %.1f s", exc, attempt, attempts - 1, delay)
            sleep(delay)
            attempt += 1


@dataclass
class _Health:
    failures: int = 0
    next_allowed: float = 0.0


class HostHealth:
    """Consecutive failures per host, and the earliest time each host may be asked again.

    Times are seconds on whatever clock the caller passes as ``now`` (``time.time`` or a fake). After
    ``threshold`` failures in a row a host waits ``base * 2**(failures - threshold)`` seconds, at most
    ``cap``; a Retry-After pushes its next attempt out at least that far. A success forgets it all.
    Thread-safe, so workers may record outcomes while the scheduler asks ``ready``.
    """

    def __init__(self, *, threshold: int = 5, base: float = 60.0, cap: float = 3600.0) -> None:
        self.threshold = threshold
        self.base = base
        self.cap = cap
        self._hosts: dict[str, _Health] = {}       # only hosts whose last outcome was a failure
        self._lock = threading.Lock()

    def ready(self, host: str, now: float) -> bool:
        return now >= self.next_allowed(host)

    def next_allowed(self, host: str) -> float:
        """The earliest time ``host`` may be asked again; 0.0 when nothing holds it back."""
        with self._lock:
            health = self._hosts.get(host)
            return 0.0 if health is None else health.next_allowed

    def failures(self, host: str) -> int:
        with self._lock:
            health = self._hosts.get(host)
            return 0 if health is None else health.failures

    def record_success(self, host: str) -> None:
        with self._lock:
            self._hosts.pop(host, None)

    def record_failure(self, host: str, now: float, retry_after: float | None = None) -> float:
        """Count a failed check of ``host`` at ``now``; returns its new ``next_allowed``."""
        with self._lock:
            health = self._hosts.setdefault(host, _Health())
            health.failures += 1
            wait = 0.0
            if health.failures >= self.threshold:
                # 2**n overflows float long before it matters: cap the exponent too.
                wait = min(self.cap, self.base * 2.0 ** min(health.failures - self.threshold, 64))
            if retry_after is not None:
                wait = max(wait, min(max(retry_after, 0.0), self.cap))
            # Never earlier than an earlier Retry-After already promised the host.
            health.next_allowed = max(health.next_allowed, now + wait)
            return health.next_allowed
