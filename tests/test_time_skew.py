"""The daemon when its clock steps (issue #6, part 6): back an hour, forward a year, and checks that overrun.

The daemon's jobs run in-process on a loopback site with a fake clock (``Daemon(..., clock=...)``, as in
tests/test_daemon.py); the site counts the requests, which is what a storm would be made of. The last
tests run the real APScheduler loop (``monitor.daemon._serve``) with a slow ``tick`` and with a shifted
wall clock.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from sites import Site
from werkzeug import Request, Response

from monitor import daemon as daemon_module
from monitor.config import MAX_DURATION, parse_config
from monitor.daemon import Daemon
from monitor.fetch import FetchSettings
from monitor.polite import GuardedFetcher, PoliteFetcher
from monitor.schedule import CADENCE, DEFAULT_STOP_AGE, JITTER, SteadyClock, next_check
from monitor.store import Store, open_store
from monitor.store import scheduling as sched

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PAGE = ("<html><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
        "<p>The council approved a budget of {n},000 dollars on Tuesday after a long debate in the chamber.</p>"
        "<p>Residents who spoke at the meeting asked for more money for parks and for the library.</p>"
        "</article></body></html>")


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _base(httpserver: HTTPServer) -> str:
    return str(httpserver.url_for("/")).replace("localhost", "127.0.0.1").rstrip("/")


@pytest.fixture
def parts(site: Site, httpserver: HTTPServer, tmp_path: Path
          ) -> Iterator[Callable[..., tuple[Daemon, FakeClock, Store]]]:
    """Build a daemon for a configuration (``{base}`` is the loopback site) on a fake clock."""
    for n in range(1, 5):
        site.publish(f"/news/{n}", PAGE.format(n=n))
    opened: list[Any] = []

    def build(config_text: str, *, steady: bool = False) -> tuple[Daemon, FakeClock, Store]:
        config = parse_config(config_text.replace("{base}", _base(httpserver)), base_dir=tmp_path)
        store = open_store(config.storage_url())
        polite = PoliteFetcher(GuardedFetcher(FetchSettings(user_agent="newsmon/0.1 (+x)")), per_host_delay=0)
        opened.extend([polite, store])
        clock = FakeClock()
        daemon = Daemon(config, store, polite, clock=SteadyClock(clock) if steady else clock, rng=lambda: 0.5)
        daemon.sync()
        return daemon, clock, store

    yield build
    for thing in reversed(opened):
        thing.close()


THREE = """
per_host_delay: 0
sources:
  - name: local
    urls: ["{base}/news/1", "{base}/news/2", "{base}/news/3"]
"""


def article_requests(site: Site) -> Counter[str]:
    return Counter(r.path for r in site.requests if r.path.startswith("/news/"))


def step_through(daemon: Daemon, clock: FakeClock, until: datetime, step: timedelta) -> list[int]:
    """Advance the clock to ``until`` in steps, ticking at each; how many checks each tick made."""
    done = []
    while clock.now + step <= until:
        clock.now += step
        done.append(daemon.tick())
    return done


# -- a clock stepped back an hour ------------------------------------------------------------------------

def test_a_clock_stepped_back_an_hour_loses_no_check_and_starts_no_storm(
        parts: Callable[..., tuple[Daemon, FakeClock, Store]], site: Site) -> None:
    """What the daemon guarantees whichever clock it plans on: no check is lost (each article is checked
    again by the time the wall clock is back at the planned time) and none is repeated early (no two
    checks of an article less than 15 minutes of elapsed time apart, however the wall clock moves)."""
    daemon, clock, _ = parts(THREE)
    assert daemon.tick() == 3                                  # new: next check in 15 minutes
    clock.now += timedelta(minutes=5)
    assert daemon.tick() == 0
    clock.now -= timedelta(hours=1)                            # 5 minutes on, the clock steps back an hour
    assert daemon.tick() == 0                                  # no storm
    checked_at: dict[str, list[int]] = {f"/news/{n}": [0] for n in (1, 2, 3)}   # minutes elapsed
    for minute in range(6, 76):                                # until the wall clock is at T0 + 15 min
        clock.now += timedelta(minutes=1)
        before = article_requests(site)
        daemon.tick()
        for path, count in (article_requests(site) - before).items():
            checked_at[path] += [minute] * count
    assert clock.now == T0 + timedelta(minutes=15)
    for times in checked_at.values():
        assert len(times) >= 2                                 # not lost
        assert all(b - a >= 15 for a, b in zip(times, times[1:], strict=False)), times   # never early


def test_on_a_steady_clock_a_step_back_strands_no_check(
        parts: Callable[..., tuple[Daemon, FakeClock, Store]], site: Site) -> None:
    """What is right: a check planned 15 minutes after the last one happens 15 minutes after it, in
    elapsed time, whatever the wall clock did meanwhile (SteadyClock); and still no storm."""
    daemon, clock, _ = parts(THREE, steady=True)
    assert daemon.tick() == 3
    clock.now = T0 + timedelta(minutes=5)
    assert daemon.tick() == 0                                  # the daemon reads its clock every second
    clock.now -= timedelta(hours=1)                            # 5 minutes on, the clock steps back
    assert daemon.tick() == 0
    assert step_through(daemon, clock, T0 + timedelta(minutes=14) - timedelta(hours=1),
                        timedelta(minutes=1)) == [0] * 9
    clock.now = T0 + timedelta(minutes=15) - timedelta(hours=1)    # 15 minutes elapsed since the checks
    assert daemon.tick() == 3
    assert daemon.tick() == 0
    assert article_requests(site) == {f"/news/{n}": 2 for n in (1, 2, 3)}


def test_the_daemon_itself_is_not_stranded_by_a_step_back(
        parts: Callable[..., tuple[Daemon, FakeClock, Store]]) -> None:
    daemon, clock, _ = parts(THREE)
    assert daemon.tick() == 3
    clock.now += timedelta(minutes=5)
    assert daemon.tick() == 0
    clock.now -= timedelta(hours=1)
    assert daemon.tick() == 0
    clock.now += timedelta(minutes=10)                         # 15 minutes elapsed since the checks
    assert daemon.tick() == 3


def test_steady_clock_absorbs_backward_steps_only() -> None:
    wall = FakeClock()
    steady = SteadyClock(wall)
    assert steady() == T0
    wall.now = T0 - timedelta(hours=1)                         # back an hour: time stands still ...
    assert steady() == T0
    wall.now += timedelta(seconds=30)                          # ... then runs on at the wall's pace
    assert steady() == T0 + timedelta(seconds=30)
    assert steady.offset == timedelta(hours=1)
    wall.now += timedelta(days=365)                            # forward steps pass through
    assert steady() == T0 + timedelta(days=365, seconds=30)
    readings = [steady() for _ in range(3)]
    assert readings == sorted(readings)


# -- a clock stepped forward a year ----------------------------------------------------------------------

MIXED = """
per_host_delay: 0
sources:
  - name: short
    urls: ["{base}/news/1", "{base}/news/2", "{base}/news/3"]
  - name: long
    max_age: 730d
    urls: ["{base}/news/4"]
"""


@pytest.mark.parametrize("steady", [False, True])
def test_a_clock_stepped_forward_a_year_checks_each_article_once_and_stops_the_old_ones(
        parts: Callable[..., tuple[Daemon, FakeClock, Store]], site: Site, steady: bool) -> None:
    daemon, clock, store = parts(MIXED, steady=steady)
    assert daemon.tick() == 4
    clock.now = T0 + timedelta(days=366)
    assert daemon.tick() == 4                                  # one check per due article, no catch-up
    assert article_requests(site) == {f"/news/{n}": 2 for n in (1, 2, 3, 4)}
    assert daemon.tick() == 0
    status = {s.name: s for s in sched.source_status(store, ["short", "long"])}
    assert (status["short"].tracked, status["long"].tracked) == (0, 1)    # past max_age: stopped
    # A month on (the slowest band), only the article whose max_age is two years is checked again.
    assert step_through(daemon, clock, T0 + timedelta(days=366 + 31), timedelta(days=1)).count(1) == 1
    assert article_requests(site) == {"/news/1": 2, "/news/2": 2, "/news/3": 2, "/news/4": 3}


# -- a check slower than the interval --------------------------------------------------------------------

FAST = """
per_host_delay: 0
sources:
  - name: local
    interval: 2s
    urls: ["{base}/news/1", "{base}/news/2", "{base}/news/3"]
"""


def test_checks_slower_than_the_interval_do_not_pile_up(
        parts: Callable[..., tuple[Daemon, FakeClock, Store]], site: Site, httpserver: HTTPServer) -> None:
    """Each article page takes 10 s of (fake) time to answer, five times its interval: one check of an
    article in flight at a time, and consecutive checks of one article never closer than its interval."""
    daemon, clock, _ = parts(FAST)
    in_flight: Counter[str] = Counter()
    worst: Counter[str] = Counter()
    seen: dict[str, list[datetime]] = {}
    lock = threading.Lock()

    def slow(request: Request) -> Response:
        if not request.path.startswith("/news/"):
            return site.answer(request)
        with lock:
            in_flight[request.path] += 1
            worst[request.path] = max(worst[request.path], in_flight[request.path])
            seen.setdefault(request.path, []).append(clock.now)
            clock.now += timedelta(seconds=10)
            if sum(len(v) for v in seen.values()) >= 12:
                daemon.stopping.set()                      # the only way out: due work is never-ending
        try:
            return site.answer(request)
        finally:
            with lock:
                in_flight[request.path] -= 1

    httpserver.clear_all_handlers()
    httpserver.expect_request(re.compile(r"^/.*$")).respond_with_handler(slow)
    runner = threading.Thread(target=daemon.tick)
    runner.start()
    runner.join(30)
    assert not runner.is_alive()
    assert sum(len(v) for v in seen.values()) >= 12
    assert set(worst.values()) == {1}                       # never two checks of one article at once
    for times in seen.values():
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        assert all(gap >= 2.0 for gap in gaps), gaps        # no catch-up burst after a slow check
        assert len(times) <= 5


class _SlowTick:
    """Stands in for a Daemon in ``_serve``: a tick that takes longer than the scheduler's interval."""

    def __init__(self, duration: float, config: Any) -> None:
        self.duration = duration
        self.config = config
        self.runs: list[tuple[float, float]] = []
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def tick(self) -> int:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        started = time.monotonic()
        time.sleep(self.duration)
        with self._lock:
            self.running -= 1
            self.runs.append((started, time.monotonic()))
        return 0


def _serve_for(fake: _SlowTick, seconds: float) -> None:
    stopping = threading.Event()
    timer = threading.Timer(seconds, stopping.set)
    timer.start()
    try:
        assert daemon_module._serve(fake, stopping, install_signals=False) == 0   # type: ignore[arg-type]
    finally:
        timer.cancel()


def test_a_tick_that_overruns_its_interval_runs_once_at_a_time_without_catching_up() -> None:
    """APScheduler in ``run``: one tick instance at a time (max_instances) and the runs missed while a
    tick overran folded into one (coalesce), not replayed back to back."""
    fake = _SlowTick(1.6, parse_config("sources: []"))
    _serve_for(fake, 4.0)
    assert fake.most == 1
    assert 2 <= len(fake.runs) <= 3                          # 4 s of 1.6 s ticks, never the 4 missed seconds
    starts = sorted(start for start, _ in fake.runs)
    assert all(b - a >= 1.5 for a, b in zip(starts, starts[1:], strict=False))


class _ShiftedDatetime(datetime):
    shift = timedelta(0)

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return datetime.now(tz) + cls.shift


def test_the_scheduler_keeps_ticking_when_the_wall_clock_steps_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import apscheduler.schedulers.base as base

    monkeypatch.setattr(base, "datetime", _ShiftedDatetime)
    fake = _SlowTick(0.0, parse_config("sources: []"))
    stopping = threading.Event()

    def step_back_then_stop() -> None:
        time.sleep(1.5)
        _ShiftedDatetime.shift = -timedelta(hours=1)
        fake.runs.clear()
        time.sleep(3.0)
        stopping.set()

    stepper = threading.Thread(target=step_back_then_stop)
    stepper.start()
    try:
        daemon_module._serve(fake, stopping, install_signals=False)   # type: ignore[arg-type]
    finally:
        stepper.join()
        _ShiftedDatetime.shift = timedelta(0)
    assert len(fake.runs) >= 2                                # ticks went on after the step


# -- the plan itself, for any clock reading ---------------------------------------------------------------

_MOMENTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))


@given(now=_MOMENTS, born=_MOMENTS, changed=st.booleans(), streak=st.integers(0, 10_000),
       interval=st.one_of(st.none(), st.floats(1.0, MAX_DURATION)),
       stop_age=st.one_of(st.none(), st.floats(1.0, MAX_DURATION)), r=st.floats(0.0, 0.999999))
def test_a_plan_is_never_in_the_past_nor_further_than_one_interval(
        now: datetime, born: datetime, changed: bool, streak: int, interval: float | None,
        stop_age: float | None, r: float) -> None:
    """Whatever the clock says (an article born in the future after a step back, or centuries ago after a
    step forward): the next check is after now (no storm) and at most one longest interval away (never
    stranded), or there is none because the article is past its stop age."""
    plan = next_check(now=now, born=born, changed=changed, streak=streak, interval=interval, stop_age=stop_age,
                      rng=lambda: r)
    limit = DEFAULT_STOP_AGE if stop_age is None else stop_age
    age = (now - born).total_seconds()
    if plan.at is None:
        assert age >= limit or interval is None      # a fixed rhythm stops only at the stop age
        return
    assert age < limit
    longest = (interval if interval is not None else CADENCE[-1].interval) * (1 + JITTER)
    assert now < plan.at <= now + timedelta(seconds=longest)
