"""The daemon: its jobs in-process with a fake clock, its database state, and ``newsmon run`` as a subprocess.

The last test is the acceptance check of the issue: a news site on loopback (an RSS feed, a robots.txt
that disallows one article, ETags everywhere), ``newsmon run`` with ``interval: 2s`` and
``allow_private: true``; the server's log must show the feed read, every allowed article fetched and
fetched again with If-None-Match, the disallowed one never, no two requests closer than per_host_delay;
a second daemon refused at once; SIGTERM ending the first with status 0 within 5 s.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sites import Site
from werkzeug import Request, Response

from monitor.config import parse_config
from monitor.daemon import Daemon, discovery_interval
from monitor.fetch import FetchSettings
from monitor.models import Validators
from monitor.polite import GuardedFetcher, PoliteFetcher
from monitor.store import Store, open_store
from monitor.store import scheduling as sched

NEWSMON = [sys.executable, "-m", "monitor"]
ARTICLE = ("<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
           "<p>The council approved a budget of {n},000 dollars on Tuesday after a long debate in the chamber.</p>"
           "<p>Residents who spoke at the meeting asked for more money for parks and for the library.</p>"
           "</article></body></html>")


@dataclass
class NewsSite:
    """A small news site: /feed.xml lists /news/1..4, robots.txt disallows /news/4; ETags on every page."""

    httpserver: HTTPServer
    log: list[tuple[float, str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return str(self.httpserver.url_for(path)).replace("localhost", "127.0.0.1")

    def body(self, path: str) -> tuple[str, str] | None:
        if path == "/robots.txt":
            return "User-agent: *\nDisallow: /news/4\n", "text/plain"
        if path == "/feed.xml":
            items = "".join(f"<item><title>Story {i}</title><link>{self.url(f'/news/{i}')}?utm_source=rss</link>"
                            f"<pubDate>{datetime.now(UTC):%a, %d %b %Y %H:%M:%S +0000}</pubDate></item>"
                            for i in range(1, 5))
            return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>Local</title>"
                    f"<link>{self.url('/')}</link>{items}</channel></rss>"), "application/rss+xml"
        if match := re.fullmatch(r"/news/(\d)", path):
            return ARTICLE.format(title=f"Story {match[1]}", n=match[1]), "text/html; charset=utf-8"
        return None

    def answer(self, request: Request) -> Response:
        with self.lock:
            self.log.append((time.monotonic(), request.path, request.headers.get("If-None-Match")))
        found = self.body(request.path)
        if found is None:
            return Response("not found", status=404, content_type="text/html")
        text, content_type = found
        etag = f'"{abs(hash(text)) % 10**8}"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(text, content_type=content_type, headers={"ETag": etag})

    def requests(self, path: str) -> list[str | None]:
        with self.lock:
            return [inm for _, p, inm in self.log if p == path]

    def gaps(self) -> list[float]:
        with self.lock:
            times = [t for t, _, _ in self.log]
        return [b - a for a, b in zip(times, times[1:], strict=False)]


@pytest.fixture
def news(httpserver: HTTPServer) -> NewsSite:
    site = NewsSite(httpserver)
    httpserver.expect_request(re.compile(r"^/.*$")).respond_with_handler(site.answer)
    return site


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def daemon_parts(news: NewsSite, tmp_path: Path) -> Iterator[tuple[Daemon, FakeClock, Store]]:
    config = parse_config(f"""
per_host_delay: 0.1
sources:
  - name: local
    feeds: ["{news.url('/feed.xml')}"]
    interval: 2s
    allow_private: true
""", base_dir=tmp_path)
    clock = FakeClock()
    with open_store(config.storage_url()) as store, \
            PoliteFetcher(GuardedFetcher(FetchSettings(user_agent="newsmon/0.1 (+x)")), per_host_delay=0.1) as polite:
        yield Daemon(config, store, polite, clock=clock, rng=lambda: 0.0), clock, store


def test_discover_then_check_then_recheck_conditionally(daemon_parts: tuple[Daemon, FakeClock, Store],
                                                        news: NewsSite) -> None:
    daemon, clock, store = daemon_parts
    assert daemon.discover("local") == 4                 # canonical URLs: utm_source dropped
    assert daemon.discover("local") == 0                 # nothing new; the feed answered 304
    assert news.requests("/feed.xml")[-1] is not None
    assert daemon.tick() == 4                            # 3 fetched, 1 refused by robots.txt
    assert news.requests("/news/4") == []
    assert daemon.tick() == 0                            # nothing due yet
    clock.now += timedelta(seconds=3)
    assert daemon.tick() == 3                            # the disallowed one is postponed a day
    for i in (1, 2, 3):
        first, again = news.requests(f"/news/{i}")
        assert first is None and again is not None
    status = {s.name: s for s in sched.source_status(store, ["local", "absent"])}
    assert status["local"].articles == 4 and status["local"].versions == 3
    assert status["local"].failing == 1 and "disallowed" in status["local"].recent_errors[0][2]
    assert status["absent"].articles == 0


def test_new_versions_are_grouped_into_stories_once_per_refresh(daemon_parts: tuple[Daemon, FakeClock, Store]) -> None:
    from sqlalchemy import func, select

    from monitor.stories.tables import figure_occurrences, story_members

    daemon, clock, store = daemon_parts
    daemon.discover("local")
    assert daemon.tick() == 4                        # 3 stored, 1 refused by robots.txt
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(story_members)).scalar() == 3
        recorded = conn.execute(select(func.count()).select_from(figure_occurrences)).scalar()
    assert recorded >= 3                             # "a budget of 1,000 dollars" and its like, one per page
    # The next refresh waits STORIES_REFRESH seconds even when versions were stored meanwhile.
    assert daemon._next_stories > time.monotonic() + 60


def test_a_discovered_private_url_is_refused_unless_the_source_allows_it(news: NewsSite, tmp_path: Path) -> None:
    config = parse_config(f"""
per_host_delay: 0
sources:
  - name: strict
    urls: ["{news.url('/news/1')}"]
""", base_dir=tmp_path)
    with open_store(config.storage_url()) as store, \
            PoliteFetcher(GuardedFetcher(FetchSettings(user_agent="newsmon/0.1 (+x)")), per_host_delay=0) as polite:
        daemon = Daemon(config, store, polite, rng=lambda: 0.0)
        daemon.sync()
        sched.add_articles(store, [(news.url("/news/2"), "strict", None)], now=datetime.now(UTC), discovered=True)
        assert daemon.tick() == 2
        assert news.requests("/news/1") == [None]        # written in the config: trusted
        assert news.requests("/news/2") == []            # discovered on loopback: refused
        errors = sched.source_status(store, ["strict"])[0].recent_errors
        assert "allow_private" in errors[0][2]


def test_scheduling_state_round_trip(store: Store) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    items = [("https://a.example/1", "s", now - timedelta(hours=1)), ("https://a.example/2", "s", None)]
    assert sched.add_articles(store, items, now=now, discovered=True) == 2
    assert sched.add_articles(store, items, now=now, discovered=True) == 0
    due = sched.due_articles(store, now=now, sources_wanted=["s"], limit=10)
    assert [d.url for d in due] == ["https://a.example/1", "https://a.example/2"]
    assert due[0].born == now - timedelta(hours=1) and due[1].born == now and due[0].discovered
    sched.save_plan(store, "https://a.example/1", at=now + timedelta(minutes=15), streak=2)
    sched.save_plan(store, "https://a.example/2", at=None, streak=0)          # stopped: too old
    assert sched.due_articles(store, now=now, sources_wanted=["s"], limit=10) == []
    later = sched.due_articles(store, now=now + timedelta(minutes=15), sources_wanted=["s"], limit=10)
    assert [(d.url, d.streak) for d in later] == [("https://a.example/1", 2)]
    assert sched.due_articles(store, now=now + timedelta(days=1), sources_wanted=["other"], limit=10) == []
    sched.postpone(store, ["https://a.example/1"], now + timedelta(hours=2))
    assert sched.due_articles(store, now=now + timedelta(hours=1), sources_wanted=["s"], limit=10) == []
    status = sched.source_status(store, ["s"])[0]
    assert (status.articles, status.tracked, status.versions) == (2, 1, 0)
    assert status.next_check == now + timedelta(hours=2)
    sched.record_feed(store, "https://a.example/feed", "s", now=now, validators=Validators(etag='"x"'), found=2)
    sched.record_feed(store, "https://a.example/feed", "s", now=now, error="HTTP 500")
    assert sched.feed_validators(store)["https://a.example/feed"].etag == '"x"'
    assert sched.source_status(store, ["s"])[0].feed_errors == (("https://a.example/feed", "HTTP 500"),)


def test_discovery_interval() -> None:
    config = parse_config("sources: [{name: a, interval: 2s}, {name: b}, {name: c, interval: 1h}]")
    assert [discovery_interval(s) for s in config.sources] == [10.0, 600.0, 3600.0]


# -- the daemon as a subprocess --------------------------------------------------------------------

def _start(config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*NEWSMON, "run", "-c", str(config), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _stop(process: subprocess.Popen[str]) -> tuple[int, float, str]:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return process.returncode, time.monotonic() - started, err


def test_newsmon_run_against_a_local_news_site(news: NewsSite, tmp_path: Path) -> None:
    delay = 0.5
    config = tmp_path / "config.yaml"
    config.write_text(f"""
storage: store/
per_host_delay: {delay}
sources:
  - name: local
    feeds: ["{news.url('/feed.xml')}"]
    interval: 2s
    allow_private: true
""")
    daemon = _start(config, "--log-format", "json")
    try:
        deadline = time.monotonic() + 25
        allowed = [f"/news/{i}" for i in (1, 2, 3)]
        while time.monotonic() < deadline and daemon.poll() is None:
            if all(any(inm for inm in news.requests(p)) for p in allowed):
                break
            time.sleep(0.2)
        assert daemon.poll() is None, daemon.communicate()
        second_started = time.monotonic()
        second = subprocess.run([*NEWSMON, "run", "-c", str(config)], capture_output=True, text=True, timeout=20)
        second_took = time.monotonic() - second_started
    finally:
        code, took, err = _stop(daemon)
    assert news.requests("/feed.xml"), "the feed was never read"
    for path in allowed:
        seen = news.requests(path)
        assert seen and seen[0] is None, f"{path}: {seen}"
        assert any(seen[1:]), f"{path} was never fetched again with If-None-Match: {seen}"
    assert news.requests("/news/4") == []
    assert min(news.gaps()) >= delay, news.gaps()
    assert second.returncode != 0 and f"PID {daemon.pid}" in second.stderr
    # Refused without waiting for the first daemon (which runs until stopped below): the time is the second
    # process's own start-up, seconds on a loaded machine, far from the 20 s it would wait otherwise.
    assert second_took < 15
    assert code == 0 and took < 5, err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(line.get("event") == "unchanged" for line in lines)
    assert {"time", "level", "logger", "message"} <= set(lines[0])


def test_sigint_stops_an_idle_daemon_with_status_0(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("storage: store/\nsources: []\n")
    daemon = _start(config)
    assert daemon.stderr is not None
    line = daemon.stderr.readline()                     # "... newsmon daemon started ..."
    assert "started" in line
    daemon.send_signal(signal.SIGINT)
    assert daemon.wait(5) == 0


def test_newsmon_status_table_and_json(daemon_parts: tuple[Daemon, FakeClock, Store], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from monitor.cli import app

    daemon, _, _ = daemon_parts
    daemon.discover("local")
    daemon.tick()
    config = tmp_path / "config.yaml"
    config.write_text(f"sources:\n  - name: local\n    feeds: [\"{daemon.config.sources[0].feeds[0]}\"]\n")
    runner = CliRunner()
    result = runner.invoke(app, ["status", "-c", str(config), "--format", "json"])
    assert result.exit_code == 0, result.output
    [local] = json.loads(result.stdout)
    assert (local["source"], local["articles"], local["versions"], local["failing"]) == ("local", 4, 3, 1)
    assert local["next_check"] is not None and "disallowed" in local["recent_errors"][0]["error"]
    table = runner.invoke(app, ["status", "-c", str(config)])
    assert table.exit_code == 0 and "local" in table.stdout and "disallowed" in table.stdout
    assert "daemon: not running" in table.stdout


def test_a_restart_resumes_from_the_database_without_catching_up(daemon_parts: tuple[Daemon, FakeClock, Store],
                                                                   news: NewsSite) -> None:
    daemon, clock, store = daemon_parts
    daemon.discover("local")
    assert daemon.tick() == 4
    fetched = len(news.log)
    with PoliteFetcher(GuardedFetcher(FetchSettings(user_agent="newsmon/0.1 (+x)")), per_host_delay=0.1) as polite:
        again = Daemon(daemon.config, store, polite, clock=clock, rng=lambda: 0.0)
        again.sync()
        assert again.tick() == 0                      # nothing is due yet: no burst after a restart
        assert len(news.log) == fetched
        clock.now += timedelta(seconds=3)
        assert again.tick() == 3


def test_a_host_backing_off_gets_no_request_and_no_error_row(daemon_parts: tuple[Daemon, FakeClock, Store],
                                                              news: NewsSite) -> None:
    daemon, clock, store = daemon_parts
    daemon.discover("local")
    host = "loopback"
    for _ in range(5):
        daemon.polite.health.record_failure(host, time.time())
    before = len(news.log)
    assert daemon.tick() == 0
    assert len(news.log) == before
    status = sched.source_status(store, ["local"])[0]
    assert status.failing == 0 and status.next_check is not None and status.next_check > clock.now


def test_sitemap_discovery_on_a_local_server(httpserver: HTTPServer, tmp_path: Path) -> None:
    base = str(httpserver.url_for("/")).replace("localhost", "127.0.0.1").rstrip("/")
    sitemap = ("<?xml version='1.0' encoding='UTF-8'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
               + "".join(f"<url><loc>{base}/story/{i}</loc></url>" for i in range(3)) + "</urlset>")
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow:\n", content_type="text/plain")
    httpserver.expect_request("/sitemap.xml").respond_with_data(sitemap, content_type="application/xml")
    config = parse_config(f"""
per_host_delay: 0
sources:
  - name: maps
    sitemaps: ["{base}/sitemap.xml"]
    allow_private: true
""", base_dir=tmp_path)
    with open_store(config.storage_url()) as store, \
            PoliteFetcher(GuardedFetcher(FetchSettings(user_agent="newsmon/0.1 (+x)")), per_host_delay=0) as polite:
        daemon = Daemon(config, store, polite)
        assert daemon.discover("maps") == 3
        due = sched.due_articles(store, now=datetime.now(UTC), sources_wanted=["maps"], limit=10)
        assert sorted(d.url for d in due) == [f"{base}/story/{i}" for i in range(3)]


CANONICAL_PAGE = ("<html><head><title>Budget</title><link rel='canonical' href='{canonical}'></head><body><article>"
                  "<h1>Budget</h1><p>The council approved a budget of 4,000 dollars on Tuesday after a long debate.</p>"
                  "<p>Residents who spoke at the meeting asked for more money for parks and for the library.</p>"
                  "</article></body></html>")


def test_a_discovered_url_is_tracked_under_the_canonical_url_its_page_names(httpserver: HTTPServer,
                                                                             tmp_path: Path) -> None:
    base = str(httpserver.url_for("/")).replace("localhost", "127.0.0.1").rstrip("/")
    feed = ("<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
            f"<item><link>{base}/amp/budget</link></item>"          # names /news/budget as canonical
            f"<item><link>{base}/news/budget</link></item>"         # the canonical itself, in the same batch
            f"<item><link>{base}/amp/offsite</link></item>"         # names another site: not followed
            "</channel></rss>")
    httpserver.expect_request("/robots.txt").respond_with_data("", content_type="text/plain")
    httpserver.expect_request("/feed.xml").respond_with_data(feed, content_type="application/rss+xml")
    for path, canonical in (("/amp/budget", "/news/budget"), ("/news/budget", "/news/budget"),
                            ("/amp/offsite", "https://elsewhere.example/news/budget"),
                            ("/configured", "/news/budget")):
        httpserver.expect_request(path).respond_with_data(CANONICAL_PAGE.format(canonical=canonical),
                                                          content_type="text/html")
    config = parse_config(f"""
per_host_delay: 0
sources:
  - name: local
    feeds: ["{base}/feed.xml"]
    urls: ["{base}/configured"]
    interval: 2s
    allow_private: true
""", base_dir=tmp_path)
    clock = FakeClock()
    with open_store(config.storage_url()) as store, \
            PoliteFetcher(GuardedFetcher(FetchSettings(user_agent="newsmon/0.1 (+x)")), per_host_delay=0) as polite:
        daemon = Daemon(config, store, polite, clock=clock, rng=lambda: 0.0)
        daemon.sync()
        assert daemon.discover("local") == 3
        assert daemon.tick() == 4
        versions = {a.url: a.latest_version for a in store.articles("local")}
        # One history for the article, under its canonical URL; the off-site claim and the configured URL
        # (the user's choice) keep their own.
        assert versions == {f"{base}/news/budget": 1, f"{base}/amp/budget": None,
                            f"{base}/amp/offsite": 1, f"{base}/configured": 1}
        clock.now += timedelta(seconds=3)
        assert daemon.discover("local") == 0                 # the feed still lists the alias: not re-added
        due = {d.url for d in sched.due_articles(store, now=clock.now, sources_wanted=["local"], limit=10)}
        assert due == {f"{base}/news/budget", f"{base}/amp/offsite", f"{base}/configured"}
        assert all(d.discovered for d in sched.due_articles(store, now=clock.now, sources_wanted=["local"], limit=10)
                   if d.url != f"{base}/configured")
        assert daemon.tick() == 3
        assert {a.url: a.latest_version for a in store.articles("local")} == versions
        assert len(store.history(f"{base}/news/budget")) == 1


def test_a_new_disagreement_between_sources_is_notified_once(site: Site, httpserver: HTTPServer,
                                                             tmp_path: Path) -> None:
    """Two outlets tell the seed story with 11,000 and 12,000 troops: after the daemon's stories refresh,
    the webhook gets one "discrepancy" message; the next refresh sends nothing more."""
    from test_stories import COURIER, courier_page

    from monitor.demo.site import load_seed, render_article_page

    site.publish("/ledger/korea", render_article_page(load_seed(), variant=0))
    site.publish("/courier/korea", courier_page(COURIER))
    site.publish("/hook", "ok")
    config = parse_config(f"""
per_host_delay: 0
sources:
  - name: ledger
    urls: ["{httpserver.url_for('/ledger/korea')}"]
  - name: courier
    urls: ["{httpserver.url_for('/courier/korea')}"]
notify:
  - url: {httpserver.url_for('/hook')}
""", base_dir=tmp_path)

    def messages() -> list[dict[str, object]]:
        return [json.loads(r.get_data()) for r in site.requests if r.path == "/hook" and r.method == "POST"]

    with open_store(config.storage_url()) as store, \
            PoliteFetcher(GuardedFetcher(FetchSettings(user_agent="newsmon/0.1 (+x)")), per_host_delay=0) as polite:
        daemon = Daemon(config, store, polite, rng=lambda: 0.0)
        daemon.sync()
        assert daemon.tick() == 2
        found = [m for m in messages() if m.get("event") == "discrepancy"]
        assert len(found) == 1 and "troops" in str(found[0]).lower()
        assert "11,000" in str(found[0]) and "12,000" in str(found[0])
        daemon._stories_pending, daemon._next_stories = True, 0.0     # another refresh, nothing new
        daemon.refresh_stories()
        assert len([m for m in messages() if m.get("event") == "discrepancy"]) == 1
        daemon.close()
