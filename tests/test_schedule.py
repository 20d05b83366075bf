"""The schedule by article age: bands, stretch, reset, jitter, a fixed interval, the stop; a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.schedule import CADENCE, DEFAULT_STOP_AGE, STRETCH, base_interval, next_check

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MIDDLE = lambda: 0.5  # noqa: E731 -- jitter factor exactly 1


def seconds(plan_at: datetime | None, now: datetime) -> float:
    assert plan_at is not None
    return (plan_at - now).total_seconds()


@pytest.mark.parametrize(("age", "interval"), [
    (timedelta(minutes=0), 15 * 60), (timedelta(hours=2, minutes=59), 15 * 60),
    (timedelta(hours=3), 3600), (timedelta(hours=23), 3600),
    (timedelta(days=1), 3 * 3600), (timedelta(days=6), 3 * 3600),
    (timedelta(days=7), 86400), (timedelta(days=29), 86400),
    (timedelta(days=30), 30 * 86400), (timedelta(days=300), 30 * 86400),
])
def test_bands_follow_the_newsdiffs_cadence(age: timedelta, interval: float) -> None:
    now = T0 + age
    plan = next_check(now=now, born=T0, changed=True, streak=0, rng=MIDDLE)
    assert seconds(plan.at, now) == pytest.approx(interval)
    assert plan.streak == 0


def test_stops_after_a_year() -> None:
    now = T0 + timedelta(days=365)
    assert next_check(now=now, born=T0, changed=False, streak=3, rng=MIDDLE).at is None
    assert base_interval(DEFAULT_STOP_AGE) is None


def test_a_check_that_would_fall_past_the_stop_age_is_not_planned() -> None:
    now = T0 + timedelta(days=350)            # + 30 days is past the year
    assert next_check(now=now, born=T0, changed=True, streak=0, rng=MIDDLE).at is None


def test_unchanged_checks_stretch_by_1_2_and_a_change_resets() -> None:
    now, streak, gaps = T0, 0, []
    for _ in range(3):
        plan = next_check(now=now, born=T0, changed=False, streak=streak, rng=MIDDLE)
        gaps.append(seconds(plan.at, now))
        streak = plan.streak
    assert gaps == pytest.approx([900 * STRETCH, 900 * STRETCH ** 2, 900 * STRETCH ** 3])
    assert streak == 3
    reset = next_check(now=now, born=T0, changed=True, streak=streak, rng=MIDDLE)
    assert seconds(reset.at, now) == pytest.approx(900) and reset.streak == 0


def test_the_stretch_never_passes_the_next_band() -> None:
    plan = next_check(now=T0, born=T0, changed=False, streak=50, rng=MIDDLE)
    assert seconds(plan.at, T0) == pytest.approx(CADENCE[1].interval)
    last = T0 + timedelta(days=100)
    plan = next_check(now=last, born=T0, changed=False, streak=500, rng=MIDDLE)
    assert seconds(plan.at, last) == pytest.approx(30 * 86400)


@pytest.mark.parametrize(("r", "factor"), [(0.0, 0.9), (0.999999, 1.1)])
def test_jitter_is_ten_percent_either_way(r: float, factor: float) -> None:
    plan = next_check(now=T0, born=T0, changed=True, streak=0, rng=lambda: r)
    assert seconds(plan.at, T0) == pytest.approx(900 * factor, rel=1e-4)


def test_a_fixed_interval_replaces_the_cadence_and_never_runs_early() -> None:
    old = T0 + timedelta(days=100)
    for r in (0.0, 0.5, 0.99):
        plan = next_check(now=old, born=T0, changed=False, streak=7, interval=2.0, rng=lambda r=r: r)
        assert 2.0 <= seconds(plan.at, old) <= 2.2
    # ... but still stops at the age limit.
    assert next_check(now=T0 + timedelta(days=400), born=T0, changed=False, streak=0, interval=2.0).at is None


def test_max_age_moves_the_stop() -> None:
    now = T0 + timedelta(days=3)
    assert next_check(now=now, born=T0, changed=False, streak=0, stop_age=2 * 86400).at is None
    far = T0 + timedelta(days=500)
    plan = next_check(now=far, born=T0, changed=False, streak=0, stop_age=1000 * 86400, rng=MIDDLE)
    assert seconds(plan.at, far) == pytest.approx(30 * 86400)


def test_an_article_dated_in_the_future_counts_as_new() -> None:
    plan = next_check(now=T0, born=T0 + timedelta(hours=5), changed=True, streak=0, rng=MIDDLE)
    assert seconds(plan.at, T0) == pytest.approx(900)


def test_a_simulated_week_with_a_fake_clock() -> None:
    """An article that never changes: few checks, dense at first, sparse later."""
    now, streak, count = T0, 0, 0
    times = []
    while now < T0 + timedelta(days=7):
        plan = next_check(now=now, born=T0, changed=False, streak=streak, rng=MIDDLE)
        assert plan.at is not None
        now, streak = plan.at, plan.streak
        times.append(now)
        count += 1
    first_3h = sum(1 for t in times if t < T0 + timedelta(hours=3))
    assert 4 <= first_3h <= 12
    assert count < 7 * 24 / 3 + 20           # far fewer than a fixed 15-minute rhythm (672)
