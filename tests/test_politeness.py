"""Retry-After parsing, per-host backoff, request pacing and in-line retries; all clocks are fakes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from monitor.errors import (
    BodyTooLarge,
    ContentDecodingError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    NetworkError,
    NotHTML,
    TooManyRedirects,
    UnsupportedScheme,
)
from monitor.politeness import (
    MAX_RETRY_AFTER,
    HostHealth,
    fetch_with_retries,
    is_transient,
    parse_retry_after,
    retry_after_seconds,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
URL = "https://news.example/story"


def http_date(when: datetime) -> str:
    return format_datetime(when, usegmt=True)


def status_error(status: int, retry_after: str | float | None = None) -> HTTPStatusError:
    exc = HTTPStatusError(URL, status)
    if retry_after is not None:
        # What fetch.py is proposed to set from the response's Retry-After header.
        exc.retry_after = retry_after  # type: ignore[attr-defined]
    return exc


# --- parse_retry_after ---

@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), (" 5 ", 5.0), ("0", 0.0), ("-5", 0.0), ("7200", MAX_RETRY_AFTER), ("1.5", 1.5),
])
def test_retry_after_seconds_form(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_retry_after_date_form() -> None:
    assert parse_retry_after(http_date(NOW + timedelta(seconds=90)), NOW) == 90.0
    assert parse_retry_after(http_date(NOW - timedelta(hours=1)), NOW) == 0.0
    assert parse_retry_after(http_date(NOW + timedelta(days=2)), NOW) == MAX_RETRY_AFTER
    # Obsolete formats that RFC 9110 still requires recipients to read.
    assert parse_retry_after("Wednesday, 01-May-24 12:01:00 GMT", NOW) == 60.0
    assert parse_retry_after("Wed May  1 12:02:00 2024", NOW) == 120.0


def test_retry_after_date_with_a_naive_now() -> None:
    assert parse_retry_after(http_date(NOW + timedelta(seconds=30)), NOW.replace(tzinfo=None)) == 30.0


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "nan", "inf", "12 seconds", "Mon, 99 Foo 2024"])
def test_retry_after_garbage(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


def test_retry_after_from_an_exception() -> None:
    assert retry_after_seconds(status_error(503, "42"), NOW) == 42.0
    assert retry_after_seconds(status_error(503, 99999.0), NOW) == MAX_RETRY_AFTER
    assert retry_after_seconds(status_error(503, http_date(NOW + timedelta(seconds=10))), NOW) == 10.0
    assert retry_after_seconds(status_error(503), NOW) is None
    assert retry_after_seconds(NetworkError(URL, "reset"), NOW) is None


# --- is_transient ---

@pytest.mark.parametrize(("exc", "transient"), [
    (NetworkError(URL, "reset"), True),
    (FetchTimeout(URL, "idle"), True),
    *[(status_error(s), True) for s in (429, 500, 502, 503, 504)],
    *[(status_error(s), False) for s in (400, 401, 403, 405, 451, 501, 505)],
    (NotHTML(URL, "application/pdf"), False),
    (BodyTooLarge(URL, 10), False),
    (UnsupportedScheme(URL, "ftp"), False),
    (TooManyRedirects(URL, "loop"), False),
    (ContentDecodingError(URL, "corrupt gzip"), False),
    (FetchError(URL, "invalid URL"), False),
])
def test_is_transient(exc: FetchError, transient: bool) -> None:
    assert is_transient(exc) is transient


# --- HostHealth ---

def test_backoff_starts_after_five_failures_doubles_and_caps() -> None:
    health = HostHealth()
    now = 1000.0
    for _ in range(4):
        assert health.record_failure("a.example", now) == now
        assert health.ready("a.example", now)
    waits = []
    for _ in range(8):
        waits.append(health.record_failure("a.example", now) - now)
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert health.failures("a.example") == 12
    assert not health.ready("a.example", now + 3599)
    assert health.ready("a.example", now + 3600)


def test_success_resets() -> None:
    health = HostHealth()
    for _ in range(6):
        health.record_failure("a.example", 0.0)
    assert health.next_allowed("a.example") == 120.0
    health.record_success("a.example")
    assert health.failures("a.example") == 0
    assert health.next_allowed("a.example") == 0.0 and health.ready("a.example", 1.0)
    health.record_failure("a.example", 200.0)      # the count starts again from one
    assert health.ready("a.example", 200.0)


def test_hosts_are_independent() -> None:
    health = HostHealth()
    for _ in range(5):
        health.record_failure("a.example", 0.0)
    assert not health.ready("a.example", 1.0)
    assert health.ready("b.example", 1.0) and health.next_allowed("b.example") == 0.0


def test_retry_after_sets_the_next_attempt_directly() -> None:
    health = HostHealth()
    assert health.record_failure("a.example", 100.0, retry_after=300.0) == 400.0
    assert not health.ready("a.example", 399.0) and health.ready("a.example", 400.0)
    # A longer backoff wins over a shorter Retry-After, and Retry-After is capped at 1 h.
    for _ in range(5):
        health.record_failure("b.example", 0.0, retry_after=10.0)
    assert health.next_allowed("b.example") == 60.0
    assert health.record_failure("c.example", 0.0, retry_after=86400.0) == 3600.0
    # A later failure never pulls an earlier promise in.
    assert health.record_failure("a.example", 101.0) == 400.0


def test_custom_thresholds() -> None:
    health = HostHealth(threshold=2, base=10.0, cap=25.0)
    assert [health.record_failure("h", 0.0) for _ in range(4)] == [0.0, 10.0, 20.0, 25.0]


def test_many_failures_do_not_overflow() -> None:
    health = HostHealth()
    for _ in range(2000):
        health.record_failure("h", 0.0)
    assert health.next_allowed("h") == 3600.0


# --- fetch_with_retries ---

class Flaky:
    """Raises the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def run(fetch: Callable[[], str], rng: float = 0.5, **kwargs: float) -> tuple[str, list[float]]:
    slept: list[float] = []
    result = fetch_with_retries(fetch, sleep=slept.append, rng=lambda: rng, now=lambda: NOW,
                                **kwargs)  # type: ignore[arg-type]
    return result, slept


def test_retries_then_succeeds() -> None:
    flaky = Flaky(NetworkError(URL, "reset"), status_error(503))
    result, slept = run(flaky)
    assert result == "ok" and flaky.calls == 3
    assert slept == [0.5, 1.0]                       # rng 0.5 of 1 s, then of 2 s


def test_gives_up_after_three_attempts_with_the_last_error() -> None:
    last = FetchTimeout(URL, "idle")
    flaky = Flaky(NetworkError(URL, "reset"), status_error(502), last, NetworkError(URL, "never reached"))
    slept: list[float] = []
    with pytest.raises(FetchTimeout) as info:
        fetch_with_retries(flaky, sleep=slept.append, rng=lambda: 0.0)
    assert info.value is last and flaky.calls == 3 and len(slept) == 2


@pytest.mark.parametrize("exc", [
    status_error(404), status_error(403), status_error(400), NotHTML(URL, "application/pdf"),
    BodyTooLarge(URL, 10), UnsupportedScheme(URL, "ftp"), TooManyRedirects(URL, "loop"),
    ContentDecodingError(URL, "corrupt"),
])
def test_no_retry_for_permanent_failures(exc: FetchError) -> None:
    flaky = Flaky(exc)
    slept: list[float] = []
    with pytest.raises(type(exc)):
        fetch_with_retries(flaky, sleep=slept.append)
    assert flaky.calls == 1 and slept == []


def test_other_exceptions_are_not_retried() -> None:
    flaky = Flaky(RuntimeError("bug"))
    with pytest.raises(RuntimeError):
        fetch_with_retries(flaky, sleep=lambda s: None)
    assert flaky.calls == 1


def test_honours_retry_after() -> None:
    flaky = Flaky(status_error(429, "7"), status_error(503, http_date(NOW + timedelta(seconds=12))))
    result, slept = run(flaky)
    assert result == "ok" and slept == [7.0, 12.0]


def test_garbage_retry_after_falls_back_to_backoff() -> None:
    result, slept = run(Flaky(status_error(503, "later")), rng=1.0)
    assert result == "ok" and slept == [1.0]


def test_long_retry_after_raises_at_once_for_host_deferral() -> None:
    exc = status_error(503, "600")
    flaky = Flaky(exc)
    slept: list[float] = []
    with pytest.raises(HTTPStatusError) as info:
        fetch_with_retries(flaky, sleep=slept.append, now=lambda: NOW)
    assert info.value is exc and flaky.calls == 1 and slept == []
    # ... which the caller turns into a deferral of the host.
    health = HostHealth()
    assert health.record_failure("news.example", 0.0, retry_after_seconds(info.value, NOW)) == 600.0


@pytest.mark.parametrize("rng", [0.0, 0.25, 0.999999])
def test_jitter_is_bounded(rng: float) -> None:
    errors = [NetworkError(URL, "reset")] * 6
    result, slept = run(Flaky(*errors), rng=rng, attempts=7, base_delay=1.0, max_delay=10.0)
    assert result == "ok"
    caps = [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert len(slept) == 6
    for delay, cap in zip(slept, caps, strict=True):
        assert 0.0 <= delay <= cap
        assert delay == pytest.approx(rng * cap)


def test_jitter_uses_the_real_rng_within_bounds() -> None:
    slept: list[float] = []
    fetch_with_retries(Flaky(NetworkError(URL, "x"), NetworkError(URL, "y")), sleep=slept.append)
    assert 0.0 <= slept[0] <= 1.0 and 0.0 <= slept[1] <= 2.0


def test_single_attempt_and_bad_attempts() -> None:
    flaky = Flaky(NetworkError(URL, "reset"))
    with pytest.raises(NetworkError):
        fetch_with_retries(flaky, attempts=1, sleep=lambda s: None)
    assert flaky.calls == 1
    with pytest.raises(ValueError):
        fetch_with_retries(Flaky(), attempts=0)
