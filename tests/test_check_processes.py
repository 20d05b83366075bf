"""A large ``newsmon check`` split by host over forked processes (monitor.check_processes).

The pages are served by ``python -m http.server`` in child processes on two loopback addresses, so that
the test process itself runs no thread when it forks (a thread's lock held at the fork could hang a child).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor import check_processes
from monitor.check import check_articles, fetch_settings
from monitor.check_processes import PARENT_SHARE, check_on_all_cores, process_count, split_by_host
from monitor.config import ArticleTarget, load_config, parse_config
from monitor.demo.site import load_seed, render_article_page
from monitor.fetch import Fetcher
from monitor.models import CheckEvent
from monitor.store import open_store

HOSTS = ("127.0.0.1", "127.0.0.2")
PER_HOST = 100


def _page(number: int, casualties: int = 1000) -> str:
    seed = load_seed()
    # Every article its own text: shared paragraphs would be learned as the site's boilerplate.
    paragraphs = [f"Report {number}: {p}" for p in seed.paragraphs]
    paragraphs[0] += f" At least {casualties:,} were killed, officials said."
    return render_article_page(replace(seed, title=f"{seed.title} ({number})", paragraphs=paragraphs))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(host: str, port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"http.server on {host}:{port} did not start")


@pytest.fixture
def two_hosts(tmp_path: Path) -> Iterator[tuple[list[str], dict[str, Path]]]:
    """``PER_HOST`` article pages on each of two loopback hosts: (their URLs, URL -> file)."""
    port = _free_port()
    urls: list[str] = []
    files: dict[str, Path] = {}
    servers = []
    try:
        for index, host in enumerate(HOSTS):
            folder = tmp_path / f"site-{index}"
            folder.mkdir()
            for number in range(PER_HOST):
                path = folder / f"article-{number}.html"
                path.write_text(_page(index * PER_HOST + number), encoding="utf-8")
                url = f"http://{host}:{port}/article-{number}.html"
                urls.append(url)
                files[url] = path
            servers.append(subprocess.Popen(
                [sys.executable, "-m", "http.server", str(port), "--bind", host, "--directory", str(folder)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            _wait_for(host, port)
        yield urls, files
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)


def _config(tmp_path: Path, urls: list[str], storage: str = "store/", delay: str = "0") -> Path:
    path = tmp_path / "config.yaml"
    lines = [f"storage: {storage}", "reports: reports/", f"per_host_delay: {delay}", "concurrency: 8", "sources:"]
    for host in HOSTS:
        lines += [f"  - name: {host}", "    urls:"]
        lines += [f"      - {url}" for url in urls if f"//{host}:" in url]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _cli_check(config: Path) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "monitor", "check", "-c", str(config), "--format", "json"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _duplicates(config_path: Path) -> int:
    """Versions stored twice: the same article and number, or the same article and text one after another."""
    config = load_config(config_path)
    with open_store(config.storage_url()) as store, store.engine.connect() as conn:
        from sqlalchemy import text
        same_number = conn.execute(text(
            "SELECT count(*) FROM (SELECT article_id, number FROM versions GROUP BY article_id, number "
            "HAVING count(*) > 1) AS d")).scalar_one()
        same_text = conn.execute(text(
            "SELECT count(*) FROM versions a JOIN versions b ON a.article_id = b.article_id "
            "AND b.number = a.number + 1 AND a.fingerprint = b.fingerprint")).scalar_one()
    return int(same_number + same_text)


def test_a_large_run_is_split_by_host_and_reports_every_article_once(tmp_path: Path, two_hosts) -> None:
    urls, files = two_hosts
    config = _config(tmp_path, urls)
    first = _cli_check(config)
    assert sorted(e["url"] for e in first) == sorted(urls)
    assert Counter(e["event"] for e in first) == {"new": len(urls)}

    edited = [urls[3], urls[PER_HOST + 7], urls[PER_HOST + 8]]
    later = time.time() + 5          # http.server's Last-Modified is the file's time, in whole seconds
    for url in edited:
        files[url].write_text(_page(urls.index(url), casualties=1500), encoding="utf-8")
        os.utime(files[url], (later, later))
    second = _cli_check(config)
    assert sorted(e["url"] for e in second) == sorted(urls)
    assert {e["url"] for e in second if e["event"] == "modified"} == set(edited)
    modified = next(e for e in second if e["url"] == edited[0])
    assert [(f["old"], f["new"]) for f in modified["diff"]["figures"]] == [("1,000", "1,500")]
    assert Counter(e["event"] for e in second) == {"unchanged": len(urls) - 3, "modified": 3}
    assert _duplicates(config) == 0

    # Each process drew the pages of the articles it changed; they are what one process drawing the
    # whole site from scratch draws.
    drawn = tmp_path / "reports" / "articles"
    assert len(list(drawn.glob("*.html"))) == 3 * 3         # three articles: a page and two version pages each
    subprocess.run([sys.executable, "-m", "monitor", "report", "-c", str(config), "--out", str(tmp_path / "again"),
                    "--rebuild"], check=True, capture_output=True, timeout=120)
    for page in drawn.glob("*.html"):
        assert page.read_bytes() == (tmp_path / "again" / "articles" / page.name).read_bytes()
    index = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    assert index.count("1,000") >= 3 and index.count("1,500") >= 3


def _fetch_log(path: Path, slow_child: float = 0.0):
    """A check function for ``check_on_all_cores`` that writes down every request (URL, process, start, end)
    to ``path`` (a child's memory is its own); the child's requests take ``slow_child`` seconds longer."""
    parent = os.getpid()

    def logging_check(config, store, targets, fetcher=None, **kwargs):
        with Fetcher(fetch_settings(config)) as inner:
            class Logged:
                def fetch(self, url, validators):
                    started = time.monotonic()
                    if os.getpid() != parent:
                        time.sleep(slow_child)
                    try:
                        return inner.fetch(url, validators)
                    finally:
                        with path.open("a") as out:
                            out.write(f"{url} {os.getpid()} {started} {time.monotonic()}\n")

            yield from check_articles(config, store, targets, fetcher=Logged(), **kwargs)

    return logging_check


def _requests(path: Path) -> list[tuple[str, int, float, float]]:
    return [(url, int(pid), float(start), float(end))
            for url, pid, start, end in (line.split() for line in path.read_text().splitlines())]


def test_the_parent_takes_over_a_slower_childs_hosts_one_request_at_a_time(tmp_path: Path, two_hosts,
                                                                           store_url: str) -> None:
    """On SQLite and PostgreSQL: the processes write to the store at the same time."""
    urls, _ = two_hosts
    config = load_config(_config(tmp_path, urls, storage=store_url))
    log = tmp_path / "requests"
    with open_store(config.storage_url()) as store:
        events = list(check_on_all_cores(config, store, config.articles(), processes=2,
                                         check=_fetch_log(log, slow_child=0.02),
                                         open_store=lambda: open_store(config.storage_url())))
    assert sorted(e.url for e in events) == sorted(urls)               # each article once
    assert {e.event for e in events} == {"new"}
    requests = _requests(log)
    assert sorted(url for url, *_ in requests) == sorted(urls)         # each asked for once
    pids = {pid for _, pid, _, _ in requests}
    assert len(pids) == 2 and os.getpid() in pids
    child = (pids - {os.getpid()}).pop()
    child_hosts = {url.split("/")[2] for url, pid, _, _ in requests if pid == child}
    assert len(child_hosts) == 1, "the child checks one host"
    taken = [url for url, pid, _, _ in requests if pid == os.getpid() and url.split("/")[2] in child_hosts]
    assert taken, "the parent, done first, took over the rest of the child's host"
    for host in {url.split("/")[2] for url in urls}:        # never two requests to a host at once
        spans = sorted((start, end) for url, _, start, end in requests if url.split("/")[2] == host)
        assert all(end <= next_start for (_, end), (next_start, _) in pairwise(spans)), host
    with open_store(config.storage_url()) as store:
        assert {url: state.latest_version for url, state in store.states(urls).items()} == dict.fromkeys(urls, 1)


def test_with_a_delay_between_requests_each_host_stays_with_one_process(tmp_path: Path, two_hosts) -> None:
    """A host taken over would be asked at once, before its delay: runs with one are not shared out."""
    urls, _ = two_hosts
    config = load_config(_config(tmp_path, urls, delay="0.001"))
    log = tmp_path / "requests"
    with open_store(config.storage_url()) as store:
        events = list(check_on_all_cores(config, store, config.articles(), processes=2,
                                         check=_fetch_log(log, slow_child=0.01),
                                         open_store=lambda: open_store(config.storage_url())))
    assert sorted(e.url for e in events) == sorted(urls)
    requests = _requests(log)
    assert len({pid for _, pid, _, _ in requests}) == 2
    for host in HOSTS:
        assert len({pid for url, pid, _, _ in requests if f"//{host}:" in url}) == 1


def test_a_killed_process_costs_only_its_unreported_articles(tmp_path: Path, two_hosts) -> None:
    urls, _ = two_hosts
    config_path = _config(tmp_path, urls)
    config = load_config(config_path)

    parent = os.getpid()

    def dying_check(config, store, targets, **kwargs):
        # The child, whichever host it checks (the parent, this test's process, checks a share itself).
        doomed = os.getpid() != parent
        for count, event in enumerate(check_articles(config, store, targets, **kwargs)):
            if doomed and count == 5:
                os.kill(os.getpid(), signal.SIGKILL)       # after storing and reporting five
            yield event

    with open_store(config.storage_url()) as store:
        events = list(check_on_all_cores(config, store, config.articles(), processes=2, check=dying_check,
                                         open_store=lambda: open_store(config.storage_url())))
    assert sorted(e.url for e in events) == sorted(urls)            # every article once, none lost
    errors = [e for e in events if e.event == "error"]
    assert len(errors) == PER_HOST - 5
    assert all("killed by signal 9" in (e.error or "") for e in errors)
    assert Counter(e.event for e in events)["new"] == PER_HOST + 5

    # The next run checks them. The one the child stored but could not report before it died is
    # "unchanged" (stored once, never twice), the others are new.
    again = {e["url"]: e["event"] for e in _cli_check(config_path)}
    assert Counter(again[e.url] for e in errors) == {"new": PER_HOST - 6, "unchanged": 1}
    assert _duplicates(config_path) == 0


def test_process_count_keeps_small_runs_and_single_hosts_in_one_process(monkeypatch) -> None:
    monkeypatch.setattr(check_processes.os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    monkeypatch.setattr(check_processes.threading, "active_count", lambda: 1)     # pytest may run threads
    many_hosts = [ArticleTarget(f"http://h{i % 4}.example/{i}", "s") for i in range(800)]
    assert process_count(many_hosts, concurrency=16) == 4
    assert process_count(many_hosts[:150], concurrency=16) == 1           # 100 articles a process at least
    assert process_count(many_hosts, concurrency=2) == 2                   # concurrency is the total
    one_host = [ArticleTarget(f"http://h.example/{i}", "s") for i in range(800)]
    assert process_count(one_host, concurrency=16) == 1


def test_process_count_is_one_when_threads_already_run(monkeypatch) -> None:
    monkeypatch.setattr(check_processes.threading, "active_count", lambda: 2)
    targets = [ArticleTarget(f"http://h{i % 4}.example/{i}", "s") for i in range(800)]
    assert process_count(targets, concurrency=16) == 1


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 50)), max_size=60), st.integers(1, 4),
       st.sampled_from([1.0, PARENT_SHARE, 0.5]))
def test_split_by_host_deals_whole_hosts_evenly(pairs, shares, first_share) -> None:
    targets = [ArticleTarget(f"http://h{host}.example/{n}-{i}", "s") for i, (host, n) in enumerate(pairs)]
    split = split_by_host(targets, shares, first_share=first_share)
    assert len(split) == shares
    assert sorted(t.url for share in split for t in share) == sorted(t.url for t in targets)
    for share in split:                         # the order of the run kept within each share
        assert share == [t for t in targets if t in share]
    hosts = [{t.url.split("/")[2] for t in share} for share in split]
    for a in range(shares):
        for b in range(a + 1, shares):
            assert not hosts[a] & hosts[b]
    if targets:
        largest_host = max(Counter(t.url.split("/")[2] for t in targets).values())
        weights = [first_share] + [1.0] * (shares - 1)
        loads = [len(share) / weight for share, weight in zip(split, weights, strict=True)]
        # Each share's load for its weight is within one host of any other's (the last host it took went
        # to the share it left the least loaded).
        assert max(loads) - min(loads) <= largest_host / min(weights) + 1e-9


def test_the_parents_share_is_lighter_by_its_weight() -> None:
    targets = [ArticleTarget(f"http://h{i % 20}.example/{i}", "s") for i in range(1000)]
    assert [len(share) for share in split_by_host(targets, 2)] == [500, 500]
    assert [len(share) for share in split_by_host(targets, 2, first_share=PARENT_SHARE)] == [450, 550]


def test_articles_handed_over_are_not_reported_missing_when_the_child_dies_later(monkeypatch) -> None:
    targets = [ArticleTarget(f"http://a.test/{i}", "s") for i in range(6)]
    read_end, write_end = os.pipe()
    child = check_processes._Child(pid=4321, targets=targets, control=write_end)
    arrived: queue.Queue = queue.Queue()
    children = check_processes._Children([child], arrived)
    monkeypatch.setattr(check_processes, "_reap", lambda pid: signal.SIGKILL)   # a wait status: killed by 9
    arrived.put((child, CheckEvent(url=targets[0].url, source="s", event="unchanged")))
    arrived.put((child, check_processes._Handed((targets[4].url, targets[5].url))))
    arrived.put((child, None))                                  # then it died
    try:
        taking = children.take_over()
        passed_on = []
        with pytest.raises(StopIteration) as done:
            while True:
                passed_on.append(next(taking))
        assert os.read(read_end, 10) == bytes([2])             # asked for half: one child, and this process
        assert done.value.value == targets[4:]
        assert [e.url for e in passed_on] == [targets[0].url]
        missing = list(children.pass_on_until_all_ended())
        assert [e.url for e in missing] == [t.url for t in targets[1:4]]
        assert all(e.event == "error" and "killed by signal 9" in (e.error or "") for e in missing)
        assert list(children.take_over()) == []                # it ended: nobody is asked again
    finally:
        os.close(read_end)
        os.close(write_end)


def test_after_share_gets_the_events_every_few_changes_and_at_the_end(caplog) -> None:
    calls: list[list[str]] = []
    done = check_processes._Done(lambda store, events: calls.append([e.url for e in events]), store=None)
    events = [CheckEvent(url=f"u{i}", source="s", event="modified" if i % 2 else "unchanged") for i in range(25)]
    for event in events:
        done.add(event)
    done.flush()
    done.flush()                                                    # nothing new: not called again
    tenth_change = 2 * check_processes.AFTER_EVERY - 1              # u1, u3, ... are the changes
    assert calls == [[e.url for e in events[:tenth_change + 1]], [e.url for e in events[tenth_change + 1:]]]

    def failing(store, events):
        raise OSError("disk full")

    done = check_processes._Done(failing, store=None)
    done.add(events[1])
    done.flush()                                                    # logged, not raised: the checks are stored
    assert "disk full" in caplog.text


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two usable cores")
def test_each_process_checks_on_a_core_of_its_own_and_the_parent_is_free_again_after() -> None:
    # Threads of one process taking turns with the GIL cost less CPU on one core (check_processes._pin).
    cores = sorted(os.sched_getaffinity(0))
    targets = [ArticleTarget(f"http://{'ab'[i % 2]}.test/{i}", "s") for i in range(4)]

    # A thread started during the run (as a fetcher's deadline watchdog is) takes the pin, and is freed too.
    stop = threading.Event()
    started: list[threading.Thread] = []

    def check(config, store, share, *, fetcher=None, extract_workers=None, handover=None) -> Iterator[CheckEvent]:
        if os.getpid() == parent:
            started.append(threading.Thread(target=stop.wait, daemon=True))
            started[0].start()
        for target in share:                   # each event says where its process may run
            yield CheckEvent(url=target.url, source="s", event="unchanged",
                             error=" ".join(str(core) for core in sorted(os.sched_getaffinity(0))))

    config = parse_config("sources: []\n")
    parent = os.getpid()
    events = list(check_on_all_cores(config, None, targets, open_store=lambda: nullcontext(None),  # type: ignore[arg-type]
                                     check=check, processes=2))
    where = {event.url.split("/")[2]: event.error for event in events}
    assert len(events) == 4 and sorted(where.values()) == [str(cores[0]), str(cores[1])]
    assert sorted(os.sched_getaffinity(0)) == cores
    assert sorted(os.sched_getaffinity(started[0].native_id)) == cores
    stop.set()
