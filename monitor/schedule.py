"""When to check an article next: by its age, stretched while it does not change. ``next_check`` is pure:
no I/O, no clock; ``SteadyClock`` is the clock the daemon plans with.

The default cadence is NewsDiffs': an article changes most in its first hours, so it is checked every
15 minutes while under 3 hours old, hourly under a day, every 3 hours under a week, daily under 30 days,
monthly under a year, and then no more (``None``). A source's ``max_age`` moves that last limit.

Each unchanged check stretches the interval by x1.2 (``streak`` counts them); a change resets the streak.
The stretch never goes past the next age band's interval, so a quiet 3-hour-old article is still
checked at least hourly: the bands stay the outer bound, the stretch only saves requests inside one.

Jitter (+-10% by default) keeps articles discovered together from being checked together forever, which
would send bursts to one host at every band change.

A source's ``interval`` (``interval: 30s``) replaces the cadence outright: no bands, no stretch, only a
small jitter, for testing and for live pages whose owner wants a fixed rhythm.

Wall clocks step. A plan is "``interval`` after the check that made it", so the daemon should read its
time through ``SteadyClock``: when the system clock steps back (NTP correcting a fast clock, a VM restored
from a snapshot), every planned check stays its interval after the check before it, instead of being
stranded until the clock catches up with times planned on the old clock. A step forward is taken as it
comes (it cannot be told from a suspended laptop waking up): every article overdue is due, checked once,
and planned from the new time; articles past their stop age stop.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["CADENCE", "DEFAULT_STOP_AGE", "JITTER", "STRETCH", "Band", "Plan", "SteadyClock", "base_interval",
           "next_check"]

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


@dataclass(frozen=True)
class Band:
    """Articles younger than ``max_age`` seconds are checked every ``interval`` seconds."""

    max_age: float
    interval: float


CADENCE: tuple[Band, ...] = (
    Band(3 * HOUR, 15 * MINUTE),
    Band(DAY, HOUR),
    Band(7 * DAY, 3 * HOUR),
    Band(30 * DAY, DAY),
    Band(365 * DAY, 30 * DAY),
)
DEFAULT_STOP_AGE = CADENCE[-1].max_age
STRETCH = 1.2       # per unchanged check
JITTER = 0.1        # +-10% of the interval


@dataclass(frozen=True)
class Plan:
    """The next check: when, and the unchanged streak to store with it. ``at`` is None: stop checking."""

    at: datetime | None
    streak: int
    interval: float | None = None   # seconds before jitter; None when stopped


def base_interval(age: float, cadence: Sequence[Band] = CADENCE,
                  stop_age: float = DEFAULT_STOP_AGE) -> tuple[float, float] | None:
    """``(interval, cap)`` for an article ``age`` seconds old; None once it is ``stop_age`` old.

    ``cap`` is the interval of the next band: how far unchanged checks may stretch this one.
    """
    if age >= stop_age:
        return None
    for i, band in enumerate(cadence):
        if age < band.max_age:
            cap = cadence[i + 1].interval if i + 1 < len(cadence) else band.interval
            return band.interval, max(cap, band.interval)
    # Past the last band but under a longer stop_age (a source's max_age of two years): keep the
    # slowest rhythm until then.
    last = cadence[-1].interval
    return last, last


def next_check(*, now: datetime, born: datetime, changed: bool, streak: int,
               interval: float | None = None, stop_age: float | None = None,
               rng: Callable[[], float] = random.random, cadence: Sequence[Band] = CADENCE,
               jitter: float = JITTER) -> Plan:
    """Plan the check after one that happened at ``now``.

    ``born`` is the article's publication date (or when we first saw it); ``changed`` says whether this
    check found a new version; ``streak`` is the number of unchanged checks before this one. A fixed
    ``interval`` (seconds) replaces the cadence; ``stop_age`` (seconds; default one year) ends tracking.
    ``rng`` returns floats in [0, 1) and makes the jitter reproducible in tests.
    """
    age = max((now - born).total_seconds(), 0.0)
    limit = DEFAULT_STOP_AGE if stop_age is None else stop_age
    if age >= limit:
        return Plan(None, streak)
    new_streak = 0 if changed else streak + 1
    if interval is not None:
        # A fixed rhythm: jitter only upwards, so "interval: 2s" never checks faster than asked.
        seconds = interval * (1 + jitter * rng())
        return Plan(now + timedelta(seconds=seconds), new_streak, interval)
    planned = base_interval(age, cadence, limit)
    assert planned is not None            # age < limit was checked above
    base, cap = planned
    stretched = min(base * STRETCH ** min(new_streak, 200), cap)   # the exponent bounded: no overflow
    seconds = stretched * (1 + jitter * (2 * rng() - 1))
    when = now + timedelta(seconds=seconds)
    # The last check falls due before the stop age; a check planned past it would never be wanted.
    if (when - born).total_seconds() >= limit:
        return Plan(None, new_streak)
    return Plan(when, new_streak, stretched)


class SteadyClock:
    """A clock that never goes back: ``clock()`` plus the sum of every backward step it has seen.

    When the wrapped clock steps back, this one stands still for that instant and then advances with it,
    so the time between two readings is never negative and plans made before the step keep their
    distance from now (a check due in 15 minutes is still due in 15 minutes, not in 75). Forward steps
    pass through unchanged. Thread-safe: the daemon's jobs read it from several threads.
    """

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._offset = timedelta(0)
        self._last: datetime | None = None
        self._lock = threading.Lock()

    @property
    def offset(self) -> timedelta:
        """How far this clock runs ahead of the wrapped one: the backward steps seen so far."""
        return self._offset

    def __call__(self) -> datetime:
        with self._lock:
            now = self._clock() + self._offset
            if self._last is not None and now < self._last:
                self._offset += self._last - now
                now = self._last
            self._last = now
            return now
