"""PoliteFetcher against a local server: robots.txt, pacing of every request, retries, backoff, guards."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.errors import FetchCancelled, FetchError, HostDeferred, HTTPStatusError, RobotsDisallowed
from monitor.fetch import FetchSettings
from monitor.models import Validators
from monitor.polite import GuardedFetcher, PoliteFetcher, host_key, pacing_margin
from monitor.urls import guard_for
from monitor.wire_mock import MockPool, MockReply, MockRequest

PAGE = "<html><body><article><p>Some article text.</p></article></body></html>"


@dataclass
class Server:
    """Answers from ``routes`` (path -> handler) and logs every request with its arrival time."""

    httpserver: HTTPServer
    routes: dict[str, Callable[[Request], Response]] = field(default_factory=dict)
    log: list[tuple[float, str, str | None]] = field(default_factory=list)

    def answer(self, request: Request) -> Response:
        self.log.append((time.monotonic(), request.path, request.headers.get("If-None-Match")))
        handler = self.routes.get(request.path)
        if handler is None:
            return Response("<h1>Not found</h1>", status=404, content_type="text/html")
        return handler(request)

    def page(self, path: str, body: str = PAGE, etag: str = '"v1"') -> None:
        def handler(request: Request) -> Response:
            if request.headers.get("If-None-Match") == etag:
                return Response(status=304, headers={"ETag": etag})
            return Response(body, content_type="text/html; charset=utf-8", headers={"ETag": etag})
        self.routes[path] = handler

    def robots(self, text: str, status: int = 200) -> None:
        self.routes["/robots.txt"] = lambda request: Response(text, status=status, content_type="text/plain")

    def url(self, path: str) -> str:
        return str(self.httpserver.url_for(path))

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.log]

    def gaps(self) -> list[float]:
        times = [t for t, _, _ in self.log]
        return [b - a for a, b in zip(times, times[1:], strict=False)]


@pytest.fixture
def server(httpserver: HTTPServer) -> Server:
    srv = Server(httpserver)
    httpserver.expect_request(re.compile(r"^/.*$")).respond_with_handler(srv.answer)
    return srv


@pytest.fixture
def polite() -> Iterator[PoliteFetcher]:
    fetcher = GuardedFetcher(FetchSettings(user_agent="newsmon/0.1 (+https://example.org)", total_timeout=10))
    with PoliteFetcher(fetcher, per_host_delay=0.3, retry_base=0.01) as p:
        yield p


def test_robots_disallowed_is_never_requested(server: Server, polite: PoliteFetcher) -> None:
    server.robots("User-agent: *\nDisallow: /private\n")
    server.page("/public")
    server.page("/private")
    assert polite.fetch(server.url("/public")).status == 200
    with pytest.raises(RobotsDisallowed, match="disallowed by"):
        polite.fetch(server.url("/private"))
    assert server.paths() == ["/robots.txt", "/public"]     # robots.txt once, /private never
    assert isinstance(polite.refusals[server.url("/private")], RobotsDisallowed)


def test_our_group_in_robots_txt_applies(server: Server, polite: PoliteFetcher) -> None:
    server.robots("User-agent: newsmon\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
    server.page("/a")
    with pytest.raises(RobotsDisallowed):
        polite.fetch(server.url("/a"))
    assert "/a" not in server.paths()


def test_every_request_to_a_host_is_paced_robots_and_threads_included(server: Server,
                                                                      polite: PoliteFetcher) -> None:
    server.robots("User-agent: *\nAllow: /\n")
    for i in range(4):
        server.page(f"/p{i}")
    threads = [threading.Thread(target=polite.fetch, args=(server.url(f"/p{i}"),)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(server.log) == 5
    assert min(server.gaps()) >= 0.3, server.gaps()
    assert polite.requests == 5


def test_crawl_delay_is_honoured(server: Server, polite: PoliteFetcher) -> None:
    server.robots("User-agent: *\nCrawl-delay: 0.8\n")
    server.page("/a")
    server.page("/b")
    polite.fetch(server.url("/a"))
    polite.fetch(server.url("/b"))
    assert server.gaps()[-1] >= 0.8


def test_redirect_hops_are_paced(server: Server, polite: PoliteFetcher) -> None:
    server.robots("")
    server.routes["/old"] = lambda request: Response(status=301, headers={"Location": "/new"})
    server.page("/new")
    result = polite.fetch(server.url("/old"))
    assert result.final_url.endswith("/new")
    assert server.paths() == ["/robots.txt", "/old", "/new"]
    assert min(server.gaps()) >= 0.3


def test_conditional_get_passes_through(server: Server, polite: PoliteFetcher) -> None:
    server.robots("")
    server.page("/a", etag='"abc"')
    first = polite.fetch(server.url("/a"))
    again = polite.fetch(server.url("/a"), first.validators)
    assert again.not_modified
    assert server.log[-1][2] == '"abc"'


def test_unreachable_robots_defers_the_host(server: Server, polite: PoliteFetcher) -> None:
    server.robots("oops", status=503)
    server.page("/a")
    with pytest.raises(HostDeferred, match="unreachable") as caught:
        polite.fetch(server.url("/a"))
    assert caught.value.retry_at > time.time()
    assert server.paths() == ["/robots.txt"]


def test_transient_errors_are_retried_and_retry_after_is_honoured(server: Server, polite: PoliteFetcher) -> None:
    server.robots("")
    answers = iter([Response("busy", status=503, headers={"Retry-After": "0"}), None])

    def flaky(request: Request) -> Response:
        return next(answers) or Response(PAGE, content_type="text/html")
    server.routes["/a"] = flaky
    assert polite.fetch(server.url("/a")).status == 200
    assert server.paths() == ["/robots.txt", "/a", "/a"]
    assert min(server.gaps()) >= 0.3                  # a retry waits for the host's turn too
    assert polite.health.failures(host_key(server.url("/a"))) == 0


def test_a_long_retry_after_defers_the_host_without_waiting(server: Server, polite: PoliteFetcher) -> None:
    server.robots("")
    server.routes["/a"] = lambda request: Response("slow down", status=429, headers={"Retry-After": "7200"})
    started = time.monotonic()
    with pytest.raises(HTTPStatusError):
        polite.fetch(server.url("/a"))
    assert time.monotonic() - started < 2
    with pytest.raises(HostDeferred, match="backing off") as caught:
        polite.fetch(server.url("/a"))
    # capped at one hour
    assert 3500 < caught.value.retry_at - time.time() <= 3600
    assert server.paths() == ["/robots.txt", "/a"]


def test_a_guard_refuses_before_any_request(server: Server, polite: PoliteFetcher) -> None:
    server.page("/a")
    polite.guard_of = lambda url: guard_for(False)
    with pytest.raises(FetchError, match="allow_private"):
        polite.fetch(server.url("/a"))
    assert server.log == []                            # not even robots.txt


def test_a_guard_applies_to_every_redirect_hop(server: Server, polite: PoliteFetcher) -> None:
    server.robots("")
    server.routes["/out"] = lambda request: Response(status=302, headers={"Location": "http://10.0.0.1/x"})
    seen: list[str] = []

    def guard(url: str) -> None:
        seen.append(url)
        if "10.0.0.1" in url:
            raise FetchError(url, "refusing a private address")
    polite.guard_of = lambda url: guard
    with pytest.raises(FetchError, match="private"):
        polite.fetch(server.url("/out"))
    assert seen[-1] == "http://10.0.0.1/x"


def test_options_of_discovery_pass_through(server: Server, polite: PoliteFetcher) -> None:
    server.robots("")
    server.page("/a")
    hops: list[str] = []
    polite.fetch(server.url("/a"), Validators(), check_url=hops.append)
    assert hops == [server.url("/a")]


def test_stopping_cancels_waits_and_new_fetches(server: Server, polite: PoliteFetcher) -> None:
    server.robots("")
    server.page("/a")
    polite.fetch(server.url("/a"))
    polite.per_host_delay = 30.0                       # the next request would wait 30 s
    errors: list[BaseException] = []

    def second() -> None:
        try:
            polite.fetch(server.url("/a"))
        except FetchCancelled as exc:
            errors.append(exc)
    thread = threading.Thread(target=second)
    started = time.monotonic()
    thread.start()
    time.sleep(0.2)
    polite.stopping.set()
    thread.join(5)
    assert time.monotonic() - started < 2
    assert errors and isinstance(errors[0], FetchCancelled)
    with pytest.raises(FetchCancelled):
        polite.fetch(server.url("/a"))


def test_pacing_margin_is_small() -> None:
    assert pacing_margin(0.5) == pytest.approx(0.02)
    assert pacing_margin(10.0) == 0.02
    assert pacing_margin(0.0) == 0.0
    assert host_key("http://Example.COM:8080/x") == "example.com"
    assert host_key("http://localhost:1/") == host_key("http://127.0.0.1:2/") == host_key("http://[::1]/")


def test_the_global_concurrency_limit_holds() -> None:
    in_flight, peak = [0], [0]
    lock = threading.Lock()

    def handler(request: MockRequest) -> MockReply:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.2)
        with lock:
            in_flight[0] -= 1
        return MockReply(200, {"Content-Type": "text/html"}, PAGE.encode())

    transport = httpx.MockTransport(lambda request: httpx.Response(404))        # robots.txt: none
    fetcher = GuardedFetcher(FetchSettings(user_agent="newsmon/0.1 (+x)"), MockPool(handler))
    with PoliteFetcher(fetcher, per_host_delay=0, concurrency=2, robots_transport=transport) as polite:
        urls = [f"https://site{i}.example/a" for i in range(5)]       # five hosts: only the limit binds
        threads = [threading.Thread(target=polite.fetch, args=(u,)) for u in urls]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert peak[0] == 2


def test_a_redirect_into_a_disallowed_path_is_not_followed(server: Server, polite: PoliteFetcher) -> None:
    server.robots("User-agent: *\nDisallow: /private\n")
    server.routes["/go"] = lambda request: Response(status=302, headers={"Location": "/private/x"})
    server.page("/private/x")
    with pytest.raises(RobotsDisallowed, match="disallowed"):
        polite.fetch(server.url("/go"))
    assert server.paths() == ["/robots.txt", "/go"]


def test_spacing_counts_from_the_end_of_a_slow_response(server: Server, polite: PoliteFetcher) -> None:
    server.robots("")

    def slow(request: Request) -> Response:
        time.sleep(0.4)                            # longer than the 0.3 s delay
        return Response(PAGE, content_type="text/html")
    server.routes["/slow"] = slow
    server.page("/fast")
    threads = [threading.Thread(target=polite.fetch, args=(server.url(p),)) for p in ("/slow", "/fast")]
    threads[0].start()
    time.sleep(0.1)
    threads[1].start()
    for t in threads:
        t.join()
    assert server.paths() == ["/robots.txt", "/slow", "/fast"]
    assert server.gaps()[-1] >= 0.4 + 0.3           # the response time, then the delay


def test_a_name_that_rebinds_to_a_private_address_is_refused_at_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard resolves rebind.example to a public address; the connection, resolving again, reaches
    loopback (DNS rebinding). The address the connection reached is checked before anything is sent."""
    import socket

    from monitor.polite import _Hop
    from monitor.urls import AddressPolicy

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    real = socket.getaddrinfo

    def rebinding(host: str, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
        return real("127.0.0.1" if host == "rebind.example" else host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    policy = AddressPolicy(resolver=lambda host, port, **kw: [(2, 1, 6, "", ("93.184.216.34", port))])
    fetcher = GuardedFetcher(FetchSettings(user_agent="newsmon/0.1 (+x)", total_timeout=5))
    url = f"http://rebind.example:{port}/story"
    try:
        with fetcher, fetcher.hops(_Hop(guard=policy, pace=lambda url: None)), \
                pytest.raises(FetchError, match="DNS rebinding") as info:
            fetcher.fetch(url)
        assert "refusing a loopback address (127.0.0.1)" in info.value.reason
        listener.settimeout(0.2)
        conn, _ = listener.accept()                  # it connected (that is how it learnt the address) ...
        conn.settimeout(0.2)
        try:
            received = conn.recv(1024)               # ... but sent nothing: end of stream, or silence
        except TimeoutError:
            received = b""
        assert received == b""
        conn.close()
    finally:
        listener.close()
