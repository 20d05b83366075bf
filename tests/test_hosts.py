"""run_per_host: one item per host at a time, delay between a host's starts, hosts in parallel."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable

import pytest

from monitor.hosts import Handover, run_per_host

Item = tuple[str, int]          # (host, number)


def host_of(item: Item) -> str:
    return item[0]


class Recorder:
    """Work that sleeps, recording when each item ran and how many ran at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.spans: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def __call__(self, item: Item) -> str:
        start = time.monotonic()
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        time.sleep(self.seconds)
        with self.lock:
            self.active -= 1
            self.spans[item[0]].append((item[1], start, time.monotonic()))
        return f"{item[0]}#{item[1]}"


def test_one_item_per_host_at_a_time_and_delay_between_starts() -> None:
    items = [(host, n) for n in range(3) for host in ("a.test", "b.test", "c.test")]
    work = Recorder(0.03)
    results = list(run_per_host(items, host_of, work, concurrency=8, delay=0.1))

    assert sorted(item for item, _, _ in results) == sorted(items)
    assert all(error is None and result == f"{item[0]}#{item[1]}" for item, result, error in results)
    for host, spans in work.spans.items():
        spans.sort(key=lambda span: span[1])
        assert [n for n, _, _ in spans] == [0, 1, 2], f"{host} ran out of order"
        for (_, start, end), (_, next_start, _) in zip(spans, spans[1:], strict=False):
            assert next_start >= end, f"{host}: two items overlapped"
            assert next_start - start >= 0.1 - 0.005, f"{host}: started {next_start - start:.3f} s apart"


def test_hosts_run_in_parallel() -> None:
    work = Recorder(0.3)
    began = time.monotonic()
    results = list(run_per_host([("a.test", 0), ("b.test", 0)], host_of, work, concurrency=4, delay=2))
    elapsed = time.monotonic() - began
    assert len(results) == 2
    assert elapsed < 0.5, f"two hosts took {elapsed:.2f} s: they did not run in parallel"


def test_concurrency_caps_threads_in_use() -> None:
    work = Recorder(0.05)
    items = [(f"host{n}.test", 0) for n in range(8)]
    assert len(list(run_per_host(items, host_of, work, concurrency=3, delay=0))) == 8
    assert work.max_active <= 3


def test_exceptions_are_yielded_not_raised() -> None:
    def work(item: Item) -> int:
        if item[1] == 1:
            raise ValueError(f"bad item {item}")
        return item[1] * 10

    def host(item: Item) -> str:
        if item[0] == "":
            raise KeyError("no host")
        return item[0]

    items = [("a.test", 0), ("a.test", 1), ("b.test", 2), ("", 3)]
    outcomes = {item: (result, error) for item, result, error in
                run_per_host(items, host, work, concurrency=2, delay=0)}
    assert outcomes[("a.test", 0)] == (0, None)
    assert outcomes[("b.test", 2)] == (20, None)
    result, error = outcomes[("a.test", 1)]
    assert result is None and isinstance(error, ValueError)
    result, error = outcomes[("", 3)]
    assert result is None and isinstance(error, KeyError)


def test_results_stream_out_while_other_work_runs() -> None:
    fast_seen = threading.Event()

    def work(item: Item) -> bool:
        if item[0] == "slow.test":
            # Finishes only once the consumer has received the fast result, or gives up after 5 s.
            return fast_seen.wait(5)
        return True

    results = run_per_host([("slow.test", 0), ("fast.test", 0)], host_of, work, concurrency=2, delay=0)
    first = next(results)
    assert first[0] == ("fast.test", 0)
    fast_seen.set()
    second = next(results)
    assert second == (("slow.test", 0), True, None)
    assert list(results) == []


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_waits_for_the_delay_with_the_given_sleep_and_clock() -> None:
    fake = FakeTime()
    ran: list[tuple[Item, float]] = []

    def work(item: Item) -> None:
        ran.append((item, fake.now))

    began = time.monotonic()
    items = [("a.test", 0), ("a.test", 1), ("a.test", 2)]
    list(run_per_host(items, host_of, work, concurrency=2, delay=30, sleep=fake.sleep, clock=fake.clock))
    assert time.monotonic() - began < 1
    assert fake.sleeps == [30, 30]
    assert [when for _, when in ran] == [1000, 1030, 1060]


def test_stopping_early_does_not_wait_for_running_work() -> None:
    release = threading.Event()

    def work(item: Item) -> int:
        if item[1]:
            release.wait(5)
        return item[1]

    results = run_per_host([("a.test", 0), ("b.test", 1)], host_of, work, concurrency=2, delay=0)
    assert next(results)[0] == ("a.test", 0)
    began = time.monotonic()
    results.close()
    assert time.monotonic() - began < 1
    release.set()


@pytest.mark.parametrize(("concurrency", "delay"), [(0, 1.0), (2, -1.0)])
def test_bad_arguments(concurrency: int, delay: float) -> None:
    noop: Callable[[Item], None] = lambda item: None  # noqa: E731
    with pytest.raises(ValueError):
        run_per_host([("a.test", 0)], host_of, noop, concurrency=concurrency, delay=delay)


def test_a_handover_gives_whole_hosts_with_nothing_in_flight_and_runs_the_rest() -> None:
    items = [(f"h{host}.test", n) for host in range(6) for n in range(10)]
    work = Recorder(0.01)
    given: list[tuple[float, list[Item]]] = []
    handover: Handover[Item] = Handover(lambda gift: given.append((time.monotonic(), list(gift))))
    yielded: list[Item] = []
    for item, _, error in run_per_host(items, host_of, work, concurrency=3, delay=0, handover=handover):
        assert error is None
        yielded.append(item)
        if len(yielded) == 12:
            handover.request(2)

    assert len(given) == 1, "one answer per request"
    when, gift = given[0]
    assert sorted(yielded + gift) == sorted(items), "every item either run here or given, once"
    ran = {(host, n) for host, spans in work.spans.items() for n, _, _ in spans}
    assert ran == set(yielded) and not ran & set(gift)
    # About half of what was still waiting (12 done, at most 3 in flight), in whole hosts.
    assert (60 - 15) // 2 <= len(gift) <= 60 - 12
    for host in {h for h, _ in gift}:
        numbers = sorted(n for h, n in gift if h == host)
        assert numbers == list(range(numbers[0], 10)), f"{host}: not the whole rest of the host"
        # Nothing of a given host ran at the time it was given, nor after.
        assert all(end <= when for _, _, end in work.spans.get(host, [])), f"{host} was in flight when given"


def test_a_request_when_little_or_nothing_waits_gets_nothing() -> None:
    given: list[list[Item]] = []
    handover: Handover[Item] = Handover(given.append)
    handover.request(2)                  # taken up at the start: one item waiting, half of it is none
    assert [item for item, _, _ in run_per_host([("a.test", 0)], host_of, lambda i: i, concurrency=2, delay=0,
                                                 handover=handover)] == [("a.test", 0)]
    assert given == [[]]
    handover.close()
    handover.request(2)                  # the run is over: answered at once
    assert given == [[], []]


def test_a_request_before_the_run_starts_gives_idle_hosts_at_once() -> None:
    items = [(f"h{host}.test", n) for host in range(4) for n in range(3)]
    given: list[list[Item]] = []
    handover: Handover[Item] = Handover(given.append)
    handover.request(2)
    yielded = [item for item, _, _ in run_per_host(items, host_of, lambda i: i, concurrency=2, delay=0,
                                                   handover=handover)]
    assert [sorted({h for h, _ in gift}) for gift in given] == [["h0.test", "h1.test"]]
    assert sorted(yielded) == sorted(i for i in items if i[0] in ("h2.test", "h3.test"))


def test_a_request_while_a_gift_is_gathered_waits_for_it_and_nothing_is_lost() -> None:
    # hB's first item runs until released; the gift for the first request takes hD (idle) and then waits
    # for hB, while hC ends with nothing left. A second request comes just as the first is taken up.
    items = [("hA.test", 0), *(("hB.test", n) for n in range(10)), ("hC.test", 0), ("hD.test", 0), ("hD.test", 1)]
    release = threading.Event()
    given: list[list[Item]] = []

    class Eager(Handover[Item]):
        def take(self) -> int:
            divisor = super().take()
            if divisor and not given:
                self.request(2)
            return divisor

    handover = Eager(given.append)

    def work(item: Item) -> Item:
        if item == ("hB.test", 0):
            release.wait(5)
        return item

    yielded = []
    for item, _, _ in run_per_host(items, host_of, work, concurrency=2, delay=0, handover=handover):
        yielded.append(item)
        if item == ("hA.test", 0):
            handover.request(2)
        if item == ("hC.test", 0):
            release.set()
    handover.close()                    # the second request, if the run did not take it up, gets nothing here
    assert sorted(yielded + [i for gift in given for i in gift]) == sorted(items), "every item run or given, once"
    assert len(given) == 2 and given[1] == []
    assert {host for host, _ in given[0]} == {"hD.test", "hB.test"}


def test_a_run_with_a_delay_cannot_hand_over() -> None:
    with pytest.raises(ValueError, match="cannot hand hosts over"):
        run_per_host([("a.test", 0)], host_of, lambda i: i, concurrency=2, delay=1, handover=Handover(print))


def test_no_items() -> None:
    assert list(run_per_host([], host_of, lambda item: item, concurrency=2, delay=1)) == []
