"""Distributed checks (``newsmon dispatch`` + ``newsmon worker``) against the real PostgreSQL and Redis on
loopback; every test skips with a reason when either is absent.

Each test has a PostgreSQL schema of its own (``pg_schema_url``), and a Redis queue name (hence limiter
keys) and database number of its own, so tests never see each other's tasks. Pages come from a local
HTTP server. The in-process tests call the task's body (``tasks.run_check``) on tasks taken from the real
queue; the last test runs the real commands as processes and SIGKILLs a worker mid-run.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select, text
from werkzeug import Request, Response

from monitor.config import Config, parse_config
from monitor.store import open_store
from monitor.store.outbox import notify_outbox
from monitor.store.schema import articles, checks, versions

NEWSMON = [sys.executable, "-m", "monitor"]
REDIS = "redis://127.0.0.1:6379"
PAGE = ("<html><head><title>Council story {n}</title></head><body><article><h1>Council story {n}</h1>"
        "<p>The council approved a budget of {money} dollars on Tuesday after a long debate in the chamber "
        "about article number {n}.</p>"
        "<p>Residents who spoke at the meeting asked for more money for parks and for the library.</p>"
        "</article></body></html>")


# -- services --------------------------------------------------------------------------------------

def _redis_reason() -> str | None:
    try:
        import redis
    except ImportError:
        return "the redis client is not installed (pip install 'newsmon[distributed]')"
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 -- any failure means "not usable here"
        return f"Redis not reachable at {REDIS}: {exc}"
    return None


@pytest.fixture
def queue_url() -> Iterator[str]:
    """A Redis URL with a database number and a queue name of this test's own; its keys go afterwards."""
    reason = _redis_reason()
    if reason:
        pytest.skip(reason)
    import redis

    db = random.randint(1, 15)
    name = f"newsmon-test-{uuid.uuid4().hex[:10]}"
    yield f"{REDIS}/{db}?name={name}&visibility_timeout=3"
    client = redis.Redis.from_url(f"{REDIS}/{db}")
    for key in client.scan_iter(f"*{name}*"):
        client.delete(key)
    client.close()


@dataclass
class Pages:
    """Article pages on loopback (``/news/<n>``), editable, with ETags; every request logged with its time."""

    server: HTTPServer
    money: dict[int, str] = field(default_factory=dict)
    log: list[tuple[float, str]] = field(default_factory=list)
    latency: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, n: int) -> str:
        return str(self.server.url_for(f"/news/{n}")).replace("localhost", "127.0.0.1")

    def answer(self, request: Request) -> Response:
        with self.lock:
            self.log.append((time.monotonic(), request.path))
        if self.latency:
            time.sleep(self.latency)
        if request.path == "/robots.txt":
            return Response("User-agent: *\nAllow: /\n", content_type="text/plain")
        if request.path == "/hook":
            return Response("ok")
        match = re.fullmatch(r"/news/(\d+)", request.path)
        if not match:
            return Response("not found", status=404)
        n = int(match[1])
        body = PAGE.format(n=n, money=self.money.get(n, "4,000"))
        etag = f'"{abs(hash(body)) % 10**10}"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, content_type="text/html; charset=utf-8", headers={"ETag": etag})

    def fetched(self, prefix: str = "/news/") -> list[tuple[float, str]]:
        with self.lock:
            return [(t, p) for t, p in self.log if p.startswith(prefix)]


@pytest.fixture
def pages(httpserver: HTTPServer) -> Pages:
    found = Pages(httpserver)
    httpserver.expect_request(re.compile(r"^/.*$")).respond_with_handler(found.answer)
    return found


def write_config(tmp_path: Path, storage: str, queue: str, pages: Pages, count: int, *, delay: float = 0,
                 notify: bool = False) -> tuple[Path, Config]:
    urls = "\n".join(f"      - {pages.url(n)}" for n in range(count))
    hook = f"notify:\n  - url: {pages.server.url_for('/hook')}\n    min_significance: low\n" if notify else ""
    path = tmp_path / "config.yaml"
    path.write_text(f"storage: '{storage}'\nqueue: '{queue}'\nper_host_delay: {delay}\nreports: reports/\n"
                    f"{hook}sources:\n  - name: local\n    interval: 1h\n    urls:\n{urls}\n")
    return path, parse_config(path.read_text(), filename=str(path), base_dir=tmp_path)


def take_tasks(config: Config, limit: int = 1000, wait: float = 1.0) -> list[list[list[str]]]:
    """The tasks waiting in the queue (their article lists), taken off it and acknowledged."""
    from monitor.distributed.app import make_app, queue_settings

    app = make_app(config)
    found = []
    with app.connection_for_read() as conn, conn.SimpleQueue(queue_settings(config).name, no_ack=True) as queue:
        while len(found) < limit:
            try:
                message = queue.get(block=True, timeout=wait)
            except queue.Empty:
                break
            args, _, _ = message.decode() if isinstance(message.payload, str | bytes) else message.payload
            found.append(args[0])
    return found


def dispatch_once(config: Config, **options: Any) -> int:
    from monitor.distributed.dispatch import DispatchOptions, run

    return run(config, DispatchOptions(once=True, **options))


def count(url: str, query: Any) -> int:
    with open_store(url) as store, store.engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def duplicates(url: str) -> tuple[int, int]:
    """Versions sharing (article, number), and consecutive versions of an article with one fingerprint."""
    with open_store(url) as store, store.engine.connect() as conn:
        numbers = conn.execute(text("SELECT count(*) FROM (SELECT article_id, number FROM versions "
                                    "GROUP BY article_id, number HAVING count(*) > 1) d")).scalar()
        prints = conn.execute(text("SELECT count(*) FROM (SELECT article_id, fingerprint FROM versions "
                                   "GROUP BY article_id, fingerprint HAVING count(*) > 1) d")).scalar()
    return int(numbers or 0), int(prints or 0)


# -- configuration and command line ----------------------------------------------------------------

def test_the_queue_key_is_validated_with_file_line_and_field() -> None:
    from monitor.errors import ConfigError

    assert parse_config("queue: redis://127.0.0.1:6379/0").queue == "redis://127.0.0.1:6379/0"
    for value, words in (("http://127.0.0.1:6379", "expected a broker URL"),
                         ("redis://127.0.0.1:6379/zero", "database number"),
                         ("amqp://h//?visibility_timeout=5", "Redis broker only"),
                         ("redis://h/0?visibility_timeout=soon", "visibility_timeout")):
        with pytest.raises(ConfigError) as caught:
            parse_config(f"sources: []\nqueue: '{value}'\n", filename="site.yaml")
        assert str(caught.value).startswith("site.yaml:2: queue: ") and words in str(caught.value)


def test_queue_settings_split_off_newsmons_parameters() -> None:
    from monitor.distributed.settings import parse_queue_url

    found = parse_queue_url("redis://:secret@h:6380/2?name=eu&visibility_timeout=2m&health_check_interval=5")
    assert (found.broker_url, found.name, found.visibility_timeout) == (
        "redis://:secret@h:6380/2?health_check_interval=5", "eu", 120.0)
    assert "secret" not in found.shown and found.is_redis
    assert not parse_queue_url("amqp://guest:guest@127.0.0.1:5672//").is_redis
    assert parse_queue_url("redis://h").visibility_timeout == 60.0       # not Celery's hour


def test_a_tasks_articles_are_of_different_hosts_where_possible() -> None:
    from monitor.distributed.dispatch import interleave_hosts

    urls = ["http://a.example/1", "http://a.example/2", "http://b.example/1", "http://a.example/3",
            "http://c.example/1", "http://127.0.0.1:8000/x", "http://localhost/y"]
    assert interleave_hosts(urls) == ["http://a.example/1", "http://b.example/1", "http://c.example/1",
                                      "http://127.0.0.1:8000/x", "http://a.example/2", "http://localhost/y",
                                      "http://a.example/3"]


def test_dispatch_and_worker_refuse_a_configuration_without_queue_or_postgresql(tmp_path: Path) -> None:
    from sites import cli

    path = tmp_path / "config.yaml"
    path.write_text("storage: store/\nsources: []\n")
    for command in ("dispatch", "worker"):
        out = subprocess.run([*NEWSMON, command, "-c", str(path)], capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and f"{path}: queue: newsmon {command} needs a broker" in out.stderr
    path.write_text("storage: store/\nqueue: redis://127.0.0.1:6379/0\nsources: []\n")
    out = subprocess.run([*NEWSMON, "dispatch", "-c", str(path)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and f"{path}: storage: newsmon dispatch needs PostgreSQL" in out.stderr
    assert "dispatch" in cli("--help")


def test_celery_is_not_imported_by_other_commands() -> None:
    out = subprocess.run([*NEWSMON, "--help"], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    assert out.returncode == 0
    assert not [line for line in out.stderr.splitlines() if re.search(r"\|\s+celery(\.|$)", line)]


# -- dispatch and check, in process ----------------------------------------------------------------

def test_dispatch_once_leases_due_articles_and_a_worker_checks_them(pg_schema_url: str, queue_url: str,
                                                                  pages: Pages, tmp_path: Path) -> None:
    from monitor.distributed.tasks import WorkerState, run_check

    _, config = write_config(tmp_path, pg_schema_url, queue_url, pages, 7)
    assert dispatch_once(config, task_size=3) == 0
    with open_store(pg_schema_url) as store, store.engine.connect() as conn:
        leases = {r.next_check_at for r in conn.execute(select(articles.c.next_check_at))}
    [until] = leases                                      # all seven leased together, ten minutes ahead
    assert 590 < (until - datetime.now(UTC)).total_seconds() <= 600
    assert dispatch_once(config) == 0                     # leased: nothing is queued twice
    tasks = take_tasks(config)
    assert sorted(len(t) for t in tasks) == [1, 3, 3]
    assert {url for task in tasks for url, _ in task} == {pages.url(n) for n in range(7)}
    assert {token for task in tasks for _, token in task} == {until.isoformat()}

    state = WorkerState(config)
    try:
        results = [run_check(state, task) for task in tasks]
    finally:
        state.close()
    assert sum(r["checked"] for r in results) == 7
    with open_store(pg_schema_url) as store, store.engine.connect() as conn:
        rows = conn.execute(select(articles.c.latest_version, articles.c.next_check_at)).all()
    assert all(version == 1 for version, _ in rows)
    # The real plan replaced the lease: the hourly interval of the source.
    assert all(3500 < (at - datetime.now(UTC)).total_seconds() < 4000 for _, at in rows)
    assert count(pg_schema_url, select(func.count()).select_from(versions)) == 7


def test_a_workers_threads_share_one_robots_txt_read_per_site(pg_schema_url: str, queue_url: str, pages: Pages,
                                                              tmp_path: Path) -> None:
    """Each thread of a worker has its own checker, but robots.txt is read once per site for the process."""
    from monitor.distributed.tasks import WorkerState, run_check

    _, config = write_config(tmp_path, pg_schema_url, queue_url, pages, 8)
    assert dispatch_once(config, task_size=2) == 0
    tasks = take_tasks(config)
    assert len(tasks) == 4
    state = WorkerState(config)
    try:
        threads = [threading.Thread(target=run_check, args=(state, task)) for task in tasks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(state._threads) == 4                       # four threads, four checkers
    finally:
        state.close()
    assert count(pg_schema_url, select(func.count()).select_from(versions)) == 8
    assert len(pages.fetched("/robots.txt")) == 1


def test_a_task_delivered_twice_and_a_real_race_store_one_version_and_one_message(
        pg_schema_url: str, queue_url: str, pages: Pages, tmp_path: Path) -> None:
    """Two workers check the same changed article at the same moment (both fetched it; a barrier lets their
    store writes start together on PostgreSQL), then the task is delivered once more."""
    from monitor.distributed.tasks import WorkerState, run_check

    _, config = write_config(tmp_path, pg_schema_url, queue_url, pages, 1, notify=True)
    dispatch_once(config)
    first = WorkerState(config)
    second = WorkerState(config)
    try:
        assert run_check(first, take_tasks(config)[0])["checked"] == 1          # version 1
        with open_store(pg_schema_url) as store, store.engine.begin() as conn:
            conn.execute(articles.update().values(next_check_at=None))          # due again
        pages.money[0] = "9,000"                                                 # and edited
        dispatch_once(config)
        [task] = take_tasks(config)
        barrier = threading.Barrier(2, timeout=20)
        for state in (first, second):
            plain = state.store.record_many

            def together(items: Any, plain: Any = plain) -> Any:
                if any(item.new_version is not None for item in items):
                    barrier.wait()
                return plain(items)

            state.store.record_many = together                                   # type: ignore[method-assign]
        results: list[dict[str, int]] = []
        threads = [threading.Thread(target=lambda s=s: results.append(run_check(s, task))) for s in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert [r["checked"] for r in results] == [1, 1]        # both really checked it
        again = run_check(first, task)                           # a redelivery after the plan was saved
        assert again == {"checked": 0, "skipped": 1}
    finally:
        first.close()
        second.close()
    assert count(pg_schema_url, select(func.count()).select_from(versions)) == 2
    assert duplicates(pg_schema_url) == (0, 0)
    assert count(pg_schema_url, select(func.max(articles.c.latest_version))) == 2
    with open_store(pg_schema_url) as store, store.engine.connect() as conn:
        rows = conn.execute(select(notify_outbox.c.payload)).all()
    assert [json.loads(r.payload)["version"] for r in rows] == [2]          # one message, never delivered here
    assert count(pg_schema_url, select(func.count()).select_from(notify_outbox)
                 .where(notify_outbox.c.sent_at.is_not(None))) == 0


def test_the_shared_limiter_spaces_two_workers_requests_to_one_host(pg_schema_url: str, queue_url: str,
                                                                     pages: Pages, tmp_path: Path) -> None:
    from monitor.distributed.tasks import WorkerState, run_check

    delay = 0.3
    _, config = write_config(tmp_path, pg_schema_url, queue_url, pages, 8, delay=delay)
    dispatch_once(config, task_size=4)
    tasks = take_tasks(config)
    states = [WorkerState(config), WorkerState(config)]      # two processes' worth: nothing local shared
    try:
        threads = [threading.Thread(target=run_check, args=(s, t)) for s, t in zip(states, tasks, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        for state in states:
            state.close()
    times = [t for t, _ in pages.fetched("/")]                # robots.txt included: it is paced too
    assert len(pages.fetched()) == 8
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= delay, gaps


def test_the_postgresql_limiter_keeps_one_turn_at_a_time_and_the_gap(pg_schema_url: str) -> None:
    """The turn store used when the broker is RabbitMQ: two gates (two processes' worth) on one host."""
    from monitor.distributed.limiter import PostgresTurns, SharedHostGate

    stopping = threading.Event()
    with open_store(pg_schema_url) as store:
        gates = [SharedHostGate(PostgresTurns(store.engine), stopping, hold=30) for _ in range(2)]
        spans: list[tuple[float, float]] = []
        lock = threading.Lock()

        def requests(gate: SharedHostGate) -> None:
            for _ in range(3):
                assert gate.enter("example.org", 0.2)
                started = time.monotonic()
                time.sleep(0.05)                                    # the request
                with lock:
                    spans.append((started, time.monotonic()))
                gate.leave("example.org")

        threads = [threading.Thread(target=requests, args=(g,)) for g in gates]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    spans.sort()
    assert len(spans) == 6
    assert all(nxt[0] - prev[1] >= 0.2 for prev, nxt in zip(spans, spans[1:], strict=False)), spans


def test_rabbitmq_as_the_broker_with_the_postgresql_limiter(pg_schema_url: str, pages: Pages, tmp_path: Path) -> None:
    """The same dispatch and check with RabbitMQ (guest/guest on loopback) instead of Redis."""
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"RabbitMQ not reachable at 127.0.0.1:5672: {exc}")
    from monitor.distributed.limiter import PostgresTurns
    from monitor.distributed.tasks import WorkerState, run_check

    name = f"newsmon-test-{uuid.uuid4().hex[:10]}"
    _, config = write_config(tmp_path, pg_schema_url, f"amqp://guest:guest@127.0.0.1:5672//?name={name}", pages, 3)
    assert dispatch_once(config) == 0
    tasks = take_tasks(config)
    state = WorkerState(config)
    try:
        assert isinstance(state.gate.turns, PostgresTurns)
        assert sum(run_check(state, task)["checked"] for task in tasks) == 3
    finally:
        state.close()
        from monitor.distributed.app import make_app

        with make_app(config).connection_for_write() as conn:
            conn.default_channel.queue_delete(name)
    assert count(pg_schema_url, select(func.count()).select_from(versions)) == 3


def test_one_dispatcher_is_active_and_a_standby_takes_over(pg_schema_url: str, queue_url: str, pages: Pages,
                                                           tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from monitor.distributed.dispatch import DispatchOptions, run

    caplog.set_level(logging.INFO, logger="monitor.distributed.dispatch")
    _, config = write_config(tmp_path, pg_schema_url, queue_url, pages, 2)
    open_store(pg_schema_url).close()
    options = DispatchOptions(interval=0.1, standby_retry=0.1)
    first_stop, second_stop, waiting = threading.Event(), threading.Event(), threading.Event()
    first = threading.Thread(target=run, args=(config, options), kwargs={"stopping": first_stop})
    first.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any("queued 2 article" in r.message for r in caplog.records):
        time.sleep(0.05)
    second = threading.Thread(target=run, args=(config, options),
                              kwargs={"stopping": second_stop, "on_standby": lambda _: waiting.set()})
    second.start()
    try:
        assert waiting.wait(20), "the second dispatcher never stood by"
        assert sum("active:" in r.message for r in caplog.records) == 1
        assert any("standby: another dispatcher is active" in r.message for r in caplog.records)
        assert dispatch_once(config) == 3                       # --once while another is active
        first_stop.set()
        first.join(20)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sum("active:" in r.message for r in caplog.records) < 2:
            time.sleep(0.05)
        assert sum("active:" in r.message for r in caplog.records) == 2
        time.sleep(0.5)                                         # a few rounds of the new active one
    finally:
        first_stop.set()
        second_stop.set()
        first.join(20)
        second.join(20)
    # Queued once, by the first: the leases keep the second from queueing them again.
    assert sorted(url for task in take_tasks(config) for url, _ in task) == sorted(pages.url(n) for n in range(2))


# -- the commands as processes: a worker SIGKILLed mid-run ------------------------------------------

def test_a_worker_killed_mid_run_loses_no_article_and_duplicates_nothing(pg_schema_url: str, queue_url: str,
                                                                          pages: Pages, tmp_path: Path) -> None:
    total = 60
    pages.latency = 0.03
    path, _ = write_config(tmp_path, pg_schema_url, queue_url, pages, total)
    open_store(pg_schema_url).close()
    logs = [tmp_path / f"{name}.log" for name in ("dispatch", "worker-1", "worker-2")]
    commands = [[*NEWSMON, "dispatch", "-c", str(path), "--interval", "0.5", "--lease", "20s", "--task-size", "3"],
                [*NEWSMON, "worker", "-c", str(path), "--concurrency", "2"],
                [*NEWSMON, "worker", "-c", str(path), "--concurrency", "2"]]
    processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log.open("w"))
                 for command, log in zip(commands, logs, strict=True)]
    checked = select(func.count()).select_from(articles).where(articles.c.latest_version.is_not(None))
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and len(pages.fetched()) < total // 3:
            time.sleep(0.05)
        assert len(pages.fetched()) >= total // 3, [log.read_text() for log in logs]
        processes[1].send_signal(signal.SIGKILL)                 # mid-run: its tasks are unacknowledged
        processes[1].wait(10)
        while time.monotonic() < deadline and count(pg_schema_url, checked) < total:
            time.sleep(0.2)
        done = count(pg_schema_url, checked)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
    assert done == total, [log.read_text()[-3000:] for log in logs]
    assert count(pg_schema_url, select(func.count()).select_from(versions)) == total
    assert duplicates(pg_schema_url) == (0, 0)
    assert count(pg_schema_url, select(func.count()).select_from(checks).where(checks.c.outcome == "error")) == 0
    assert processes[0].returncode == 0 and processes[2].returncode == 0
