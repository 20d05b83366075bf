"""robots.txt: RFC 9309 outcomes, the per-origin cache, concurrency, and the HTTP fetcher on loopback."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from pytest_httpserver import HTTPServer

from monitor.errors import FetchError
from monitor.fetch import Fetcher, FetchSettings, user_agent
from monitor.robots import (
    FAILURE_TTL,
    MAX_CRAWL_DELAY,
    ROBOTS_MAX_BYTES,
    RobotsCache,
    RobotsFetcher,
    RobotsResponse,
    fetcher_robots,
    product_token,
    robots_url,
)

UA = user_agent("https://newsmon.example/contact")
KiB = 1024

ROBOTS = b"""\
User-agent: *
Disallow: /

User-agent: newsmon
Disallow: /private/
Crawl-delay: 5
"""


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeRobots:
    """A ``fetch_robots`` that answers from a table and counts calls per URL."""

    def __init__(self, answer: RobotsResponse | Callable[[str], RobotsResponse]) -> None:
        self.answer = answer
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, url: str) -> RobotsResponse:
        with self._lock:
            self.calls.append(url)
        return self.answer(url) if callable(self.answer) else self.answer


def ok(body: bytes) -> RobotsResponse:
    return RobotsResponse(200, body)


def cache_for(answer: RobotsResponse | Callable[[str], RobotsResponse], *, agent: str = UA,
              clock: FakeClock | None = None, **kwargs: float) -> tuple[RobotsCache, FakeRobots, FakeClock]:
    fake, clock = FakeRobots(answer), clock or FakeClock()
    return RobotsCache(fake, agent, clock=clock, **kwargs), fake, clock


# --- helpers ---

@pytest.mark.parametrize(("agent", "token"), [
    (UA, "newsmon"), ("NewsMon/2.0", "newsmon"), ("my_bot-2 extra", "my_bot-"), ("", "*"), ("/1.0", "*"),
])
def test_product_token(agent: str, token: str) -> None:
    assert product_token(agent) == token


@pytest.mark.parametrize(("url", "expected"), [
    ("https://Example.COM/a/b?c#d", "https://example.com/robots.txt"),
    ("http://example.com:80/x", "http://example.com/robots.txt"),
    ("https://example.com:443/x", "https://example.com/robots.txt"),
    ("http://example.com:8080/x", "http://example.com:8080/robots.txt"),
    ("http://[::1]:8000/x", "http://[::1]:8000/robots.txt"),
])
def test_robots_url(url: str, expected: str) -> None:
    assert robots_url(url) == expected


@pytest.mark.parametrize("url", ["ftp://example.com/x", "example.com/x", "http:///x"])
def test_robots_url_refuses_non_http(url: str) -> None:
    with pytest.raises(ValueError):
        robots_url(url)


# --- rules ---

def test_our_group_applies_not_the_star_group() -> None:
    cache, _, _ = cache_for(ok(ROBOTS))
    assert cache.check("https://news.example/2024/story").allowed
    decision = cache.check("https://news.example/private/draft")
    assert not decision.allowed
    assert "disallowed" in decision.reason and decision.retry_at is None


def test_another_agent_gets_the_star_group() -> None:
    cache, _, _ = cache_for(ok(ROBOTS), agent="otherbot/1.0")
    assert not cache.check("https://news.example/2024/story").allowed


def test_star_group_applies_when_we_have_none() -> None:
    cache, _, _ = cache_for(ok(b"User-agent: *\nDisallow: /drafts\nCrawl-delay: 3\n"))
    assert not cache.check("https://news.example/drafts/1").allowed
    decision = cache.check("https://news.example/news/1")
    assert decision.allowed and decision.crawl_delay == 3.0


def test_a_group_for_a_word_of_our_contact_url_does_not_apply() -> None:
    cache, _, _ = cache_for(ok(b"User-agent: contact\nDisallow: /\n"))
    assert cache.check("https://news.example/a").allowed


def test_robots_txt_itself_and_empty_file_are_allowed() -> None:
    cache, _, _ = cache_for(ok(b""))
    assert cache.check("https://news.example/anything").allowed
    cache, _, _ = cache_for(ok(b"User-agent: *\nDisallow: /\n"))
    assert cache.check("https://news.example/robots.txt").allowed


def test_crawl_delay_is_capped() -> None:
    cache, _, _ = cache_for(ok(b"User-agent: newsmon\nCrawl-delay: 120\nDisallow: /x\n"))
    assert cache.check("https://news.example/a").crawl_delay == MAX_CRAWL_DELAY


def test_crawl_delay_of_our_group_only() -> None:
    # Groups do not merge: the star group's delay is not ours when a group names us.
    cache, _, _ = cache_for(ok(b"User-agent: *\nCrawl-delay: 9\n\nUser-agent: newsmon\nDisallow: /x\n"))
    assert cache.check("https://news.example/a").crawl_delay is None
    cache, _, _ = cache_for(ok(ROBOTS))
    assert cache.check("https://news.example/a").crawl_delay == 5.0


def test_crawl_delay_garbage_is_ignored() -> None:
    cache, _, _ = cache_for(ok(b"User-agent: newsmon\nCrawl-delay: soon\nCrawl-delay: -4\n"))
    decision = cache.check("https://news.example/a")
    assert decision.allowed and decision.crawl_delay is None


def test_body_past_500_kib_is_ignored_and_a_cut_line_dropped() -> None:
    head = b"User-agent: newsmon\nDisallow: /early\n"
    filler = b"# padding\n" * ((ROBOTS_MAX_BYTES - len(head) - 10) // 10)
    straddling = b"Disallow: /cut-here-and-there\n"          # crosses the 500 KiB mark
    body = head + filler + straddling + b"Disallow: /late\n" + b"#" * (100 * KiB)
    assert len(body) > 600 * KiB
    assert len(head + filler) < ROBOTS_MAX_BYTES < len(head + filler + straddling)
    cache, _, _ = cache_for(ok(body))
    assert not cache.check("https://news.example/early/1").allowed
    assert cache.check("https://news.example/late/1").allowed
    assert cache.check("https://news.example/cut").allowed      # not a truncated "Disallow: /cut"


def test_bom_and_invalid_utf8() -> None:
    cache, _, _ = cache_for(ok(b"\xef\xbb\xbfUser-agent: newsmon\nDisallow: /\xff\xfe\nDisallow: /x\n"))
    assert not cache.check("https://news.example/x").allowed
    assert cache.check("https://news.example/y").allowed


# --- outcomes by status ---

@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 451])
def test_4xx_allows_everything(status: int) -> None:
    cache, _, _ = cache_for(RobotsResponse(status))
    decision = cache.check("https://news.example/private/x")
    assert decision.allowed and decision.retry_at is None and decision.crawl_delay is None
    assert f"HTTP {status}" in decision.reason


def test_too_many_redirects_counts_as_unavailable() -> None:
    cache, _, _ = cache_for(RobotsResponse(301, b"", "more than 5 redirects"))
    decision = cache.check("https://news.example/x")
    assert decision.allowed and "more than 5 redirects" in decision.reason


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_429_defer_the_host(status: int) -> None:
    cache, fake, clock = cache_for(RobotsResponse(status))
    decision = cache.check("https://news.example/x")
    assert not decision.allowed
    assert decision.retry_at == clock.now + FAILURE_TTL
    assert "deferred" in decision.reason and f"HTTP {status}" in decision.reason
    # The failure is cached: no second request until retry_at.
    clock.now += FAILURE_TTL - 1
    assert not cache.check("https://news.example/y").allowed
    assert len(fake.calls) == 1
    fake.answer = ok(b"")
    clock.now += 1
    assert cache.check("https://news.example/y").allowed
    assert len(fake.calls) == 2


def test_network_error_defers_the_host() -> None:
    cache, _, clock = cache_for(RobotsResponse(None, b"", "connection refused by news.example"))
    decision = cache.check("https://news.example/x")
    assert not decision.allowed and decision.retry_at == clock.now + FAILURE_TTL
    assert "connection refused" in decision.reason


def test_a_raising_fetcher_defers_the_host() -> None:
    def broken(url: str) -> RobotsResponse:
        raise RuntimeError("boom")

    cache, _, _ = cache_for(broken)
    decision = cache.check("https://news.example/x")
    assert not decision.allowed and decision.retry_at is not None and "boom" in decision.reason


def test_unreachable_refresh_keeps_the_previous_copy() -> None:
    cache, fake, clock = cache_for(ok(ROBOTS), ttl=3600)
    assert cache.check("https://news.example/a").allowed
    clock.now += 3600
    fake.answer = RobotsResponse(503)
    decision = cache.check("https://news.example/private/1")
    assert not decision.allowed and decision.retry_at is None and "now unreachable: HTTP 503" in decision.reason
    assert cache.check("https://news.example/a").crawl_delay == 5.0
    assert len(fake.calls) == 2
    # ... for at most 30 days after the last good answer; then the host is deferred.
    clock.now += 31 * 24 * 3600
    decision = cache.check("https://news.example/a")
    assert not decision.allowed and decision.retry_at == clock.now + FAILURE_TTL


# --- cache ---

def test_fetched_once_per_origin_within_ttl_and_again_after() -> None:
    cache, fake, clock = cache_for(ok(ROBOTS))
    for path in ("/a", "/b", "/private/c", "/d?x=1"):
        cache.check("https://news.example" + path)
    cache.check("https://NEWS.example:443/e")
    assert fake.calls == ["https://news.example/robots.txt"]
    # Another scheme or port is another origin.
    cache.check("http://news.example/a")
    cache.check("https://news.example:8443/a")
    assert fake.calls[1:] == ["http://news.example/robots.txt", "https://news.example:8443/robots.txt"]

    clock.now += 24 * 3600 - 1
    cache.check("https://news.example/a")
    assert len(fake.calls) == 3
    clock.now += 1
    cache.check("https://news.example/a")
    assert fake.calls[3] == "https://news.example/robots.txt"


def test_one_fetch_for_ten_threads_on_one_origin() -> None:
    def slow(url: str) -> RobotsResponse:
        time.sleep(0.1)                    # widens the window in which the threads overlap
        return ok(ROBOTS)

    cache, fake, _ = cache_for(slow)
    barrier = threading.Barrier(10)
    results: list[bool] = []

    def worker() -> None:
        barrier.wait()
        results.append(cache.check("https://news.example/private/x").allowed)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == [False] * 10
    assert len(fake.calls) == 1


def test_origins_are_fetched_in_parallel() -> None:
    # a's fetch waits for b's to start: with one global lock instead of one per origin, it never would.
    b_started = threading.Event()

    def answer(url: str) -> RobotsResponse:
        if url.startswith("https://a."):
            assert b_started.wait(timeout=5), "robots.txt of another origin was blocked"
        else:
            b_started.set()
        return ok(b"")

    cache, fake, _ = cache_for(answer)
    a_decisions: list[bool] = []
    thread = threading.Thread(target=lambda: a_decisions.append(cache.check("https://a.example/x").allowed))
    thread.start()
    while not fake.calls:
        time.sleep(0.001)
    assert cache.check("https://b.example/x").allowed
    thread.join(timeout=30)
    assert a_decisions == [True]          # a failed wait above would have deferred a.example
    assert sorted(fake.calls) == ["https://a.example/robots.txt", "https://b.example/robots.txt"]


# --- RobotsFetcher over HTTP ---

def settings() -> FetchSettings:
    return FetchSettings(user_agent=UA, connect_timeout=2, idle_timeout=2, total_timeout=5)


@pytest.fixture
def robots_fetcher() -> Iterator[RobotsFetcher]:
    with RobotsFetcher(settings()) as fetcher:
        yield fetcher


def mock(handler: Callable[[httpx.Request], httpx.Response], **kwargs: object) -> RobotsFetcher:
    return RobotsFetcher(settings(), transport=httpx.MockTransport(handler), **kwargs)  # type: ignore[arg-type]


def test_fetches_text_plain_over_loopback(httpserver: HTTPServer, robots_fetcher: RobotsFetcher) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data(ROBOTS, content_type="text/plain")
    response = robots_fetcher(httpserver.url_for("/robots.txt"))
    assert response == RobotsResponse(200, ROBOTS)
    assert httpserver.log[0][0].headers["User-Agent"] == UA


def test_gzip_body_is_decoded(httpserver: HTTPServer, robots_fetcher: RobotsFetcher) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data(
        gzip.compress(ROBOTS), headers={"Content-Encoding": "gzip"}, content_type="text/plain")
    assert robots_fetcher(httpserver.url_for("/robots.txt")).body == ROBOTS


def test_large_body_is_cut_at_500_kib(httpserver: HTTPServer, robots_fetcher: RobotsFetcher) -> None:
    body = b"User-agent: *\n" + b"# x\n" * (200 * KiB)          # 800 KiB
    httpserver.expect_request("/robots.txt").respond_with_data(body, content_type="text/plain")
    response = robots_fetcher(httpserver.url_for("/robots.txt"))
    assert response.status == 200 and response.body == body[:ROBOTS_MAX_BYTES]


def test_gzip_bomb_is_cut_at_500_kib() -> None:
    bomb = gzip.compress(b"#" * (8 * 1024 * KiB))
    fetcher = mock(lambda r: httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=iter([bomb])))
    with fetcher:
        response = fetcher("https://news.example/robots.txt")
    assert response.status == 200 and len(response.body) == ROBOTS_MAX_BYTES


@pytest.mark.parametrize("status", [403, 404, 500, 503])
def test_error_statuses_are_returned(httpserver: HTTPServer, robots_fetcher: RobotsFetcher, status: int) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data(b"<h1>no</h1>", status=status)
    assert robots_fetcher(httpserver.url_for("/robots.txt")) == RobotsResponse(status, b"")


def test_redirects_are_followed_up_to_five(httpserver: HTTPServer, robots_fetcher: RobotsFetcher) -> None:
    for n in range(5):
        httpserver.expect_request(f"/r{n}").respond_with_data(
            b"", status=301, headers={"Location": f"/r{n + 1}"})
    httpserver.expect_request("/r5").respond_with_data(ROBOTS, content_type="text/plain")
    assert robots_fetcher(httpserver.url_for("/r0")) == RobotsResponse(200, ROBOTS)
    httpserver.expect_request("/r-extra").respond_with_data(b"", status=302, headers={"Location": "/r0"})
    six = robots_fetcher(httpserver.url_for("/r-extra"))
    assert six.status == 301 and six.error == "more than 5 redirects"


def test_redirect_to_other_schemes_or_refused_targets() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        target = {"/ftp": "ftp://news.example/robots.txt", "/private": "http://10.0.0.1/robots.txt",
                  "/bad": "http://[::1/robots.txt", "/none": ""}[request.url.path]
        return httpx.Response(302, headers={"Location": target} if target else {})

    def check_url(url: str) -> None:
        if "10.0.0.1" in url:
            raise FetchError(url, "private address")

    with mock(handler, check_url=check_url) as fetcher:
        assert fetcher("https://news.example/ftp").status == 302
        private = fetcher("https://news.example/private")
        assert private.status == 302 and private.error is not None and "private address" in private.error
        assert fetcher("https://news.example/bad").status == 302
        assert fetcher("https://news.example/none") == RobotsResponse(302, b"", "redirect without a Location")


def test_network_errors_become_responses_without_status() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with mock(refuse) as fetcher:
        response = fetcher("https://news.example/robots.txt")
    assert response.status is None and response.error is not None and "refused" in response.error
    with mock(slow) as fetcher:
        response = fetcher("https://news.example/robots.txt")
    assert response.status is None and response.error is not None and "in time" in response.error


def test_corrupt_gzip_is_unreachable() -> None:
    with mock(lambda r: httpx.Response(200, headers={"Content-Encoding": "gzip"},
                                       content=iter([b"\x1f\x8bnot gzip"]))) as fetcher:
        response = fetcher("https://news.example/robots.txt")
    assert response.status is None and response.error is not None and "gzip" in response.error


def test_fetcher_robots_uses_the_fetchers_settings_and_url_checks(httpserver: HTTPServer) -> None:
    class Refusing(Fetcher):
        def check_url(self, url: str) -> None:
            super().check_url(url)
            if "/forbidden" in url:
                raise FetchError(url, "refused by policy")

    httpserver.expect_request("/robots.txt").respond_with_data(b"", status=301, headers={"Location": "/forbidden"})
    with Refusing(settings()) as fetcher, fetcher_robots(fetcher) as fetch_robots:
        response = fetch_robots(httpserver.url_for("/robots.txt"))
    assert response.status == 301 and response.error is not None and "refused by policy" in response.error
    assert [r.path for r, _ in httpserver.log] == ["/robots.txt"]


def test_end_to_end_with_a_loopback_site(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data(ROBOTS, content_type="text/plain")
    with RobotsFetcher(settings()) as fetch_robots:
        cache = RobotsCache(fetch_robots, UA)
        assert cache.check(httpserver.url_for("/news/1")).allowed
        assert not cache.check(httpserver.url_for("/private/1")).allowed
    assert len(httpserver.log) == 1
