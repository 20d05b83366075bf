"""Fetcher against loopback servers (pytest-httpserver, raw sockets) and wire_mock.MockPool."""

from __future__ import annotations

import gzip
import shutil
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import brotli  # type: ignore[import-untyped]
import pytest
from pytest_httpserver import HTTPServer
from raw_server import RawServer, Respond, self_signed_context
from werkzeug import Request, Response

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
from monitor.fetch import ACCEPT, ACCEPT_ENCODING, Fetcher, FetchSettings, user_agent
from monitor.models import Validators
from monitor.wire_mock import MockPool, MockReply, MockRequest

UA = user_agent("https://newsmon.example/contact")
MiB = 1024 * 1024
PAGE = b"<!doctype html><html><head><title>A</title></head><body><p>An article.</p></body></html>"


def settings(**overrides: float) -> FetchSettings:
    values: dict[str, float] = {"connect_timeout": 2, "idle_timeout": 2, "total_timeout": 5}
    values.update(overrides)
    return FetchSettings(user_agent=UA, **values)  # type: ignore[arg-type]


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(settings()) as f:
        yield f


def mock_fetcher(handler: Callable[[MockRequest], MockReply], **overrides: float) -> Fetcher:
    return Fetcher(settings(**overrides), MockPool(handler))


HTML_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"


# --- conditional GET -------------------------------------------------------------------------------

def test_etag_then_conditional_request_gets_304(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(PAGE, content_type="text/html; charset=UTF-8", headers={"ETag": '"v1"'})

    httpserver.expect_request("/article").respond_with_handler(handler)
    url = httpserver.url_for("/article")

    first = fetcher.fetch(url)
    assert (first.status, first.body, first.url, first.final_url) == (200, PAGE, url, url)
    assert (first.content_type, first.charset) == ("text/html", "utf-8")
    assert first.validators == Validators(etag='"v1"')
    assert first.wire_bytes == len(PAGE)
    assert first.duration > 0

    second = fetcher.fetch(url, first.validators)
    assert second.status == 304 and second.not_modified and second.body == b""
    assert second.validators.etag == '"v1"'
    sent = httpserver.log[-1][0]
    assert sent.headers["If-None-Match"] == '"v1"'
    assert "If-Modified-Since" not in sent.headers


def test_last_modified_becomes_if_modified_since(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    stamp = "Wed, 21 Oct 2026 07:28:00 GMT"

    def handler(request: Request) -> Response:
        if request.headers.get("If-Modified-Since") == stamp:
            return Response(status=304)        # no validators repeated: the ones we sent still hold
        return Response(PAGE, content_type="text/html", headers={"Last-Modified": stamp})

    httpserver.expect_request("/dated").respond_with_handler(handler)
    first = fetcher.fetch(httpserver.url_for("/dated"))
    assert first.validators == Validators(last_modified=stamp)
    second = fetcher.fetch(httpserver.url_for("/dated"), first.validators)
    assert second.status == 304
    assert second.validators == Validators(last_modified=stamp)


def test_identifying_headers_are_sent(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/h").respond_with_data(PAGE, content_type="text/html")
    fetcher.fetch(httpserver.url_for("/h"))
    sent = httpserver.log[-1][0].headers
    assert sent["User-Agent"] == UA and "newsmon" in UA and "https://" in UA
    assert sent["Accept"] == ACCEPT
    assert sent["Accept-Encoding"] == ACCEPT_ENCODING == "gzip, deflate, br"


def read_request(conn: socket.socket) -> bool:
    """Read the next request's head from a kept-alive connection; False once the client hung up."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(4096)
        if not more:
            return False
        data += more
    return True


def test_connection_is_reused_after_304s_and_redirects() -> None:
    answers = [
        b"HTTP/1.1 304 Not Modified\r\nETag: \"v\"\r\n\r\n",
        b"HTTP/1.1 302 Found\r\nLocation: /moved\r\nContent-Length: 5\r\n\r\nmoved",
        HTML_HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(PAGE), PAGE),
    ]

    def respond(conn: socket.socket, stop: threading.Event) -> None:
        for answer in answers:
            conn.sendall(answer)
            if not read_request(conn):
                return

    with RawServer(respond) as server, Fetcher(settings()) as fetcher:
        assert fetcher.fetch(server.url, Validators(etag='"v"')).status == 304
        assert fetcher.fetch(server.url).final_url == server.url + "moved"
    assert server.connections == 1


# --- encodings and the size cap --------------------------------------------------------------------

def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(("encoding", "encode"), [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", raw_deflate),
    ("br", brotli.compress),
    ("gzip, br", lambda data: brotli.compress(gzip.compress(data))),
], ids=["gzip", "deflate-zlib", "deflate-raw", "br", "gzip-then-br"])
def test_compressed_bodies_are_decoded(httpserver: HTTPServer, fetcher: Fetcher, encoding: str,
                                       encode: Callable[[bytes], bytes]) -> None:
    page = PAGE * 50
    body = encode(page)
    httpserver.expect_request("/z").respond_with_data(body, content_type="text/html",
                                                      headers={"Content-Encoding": encoding})
    result = fetcher.fetch(httpserver.url_for("/z"))
    assert result.body == page
    assert result.wire_bytes == len(body) < len(page)


def bomb(encoding: str, size: int = 50 * MiB) -> bytes:
    """``size`` zeros compressed; the deflate stream is wrapped in a gzip member by hand, to stay fast."""
    zeros = bytes(size)
    if encoding == "br":
        return bytes(brotli.compress(zeros, quality=1))
    compressor = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = compressor.compress(zeros) + compressor.flush()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + deflated + struct.pack("<II", zlib.crc32(zeros), size & 0xFFFFFFFF)


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_decompression_bomb_stops_at_the_cap(httpserver: HTTPServer, encoding: str) -> None:
    httpserver.expect_request("/bomb").respond_with_data(bomb(encoding), content_type="text/html",
                                                         headers={"Content-Encoding": encoding})
    began = time.monotonic()
    with Fetcher(settings(max_bytes=MiB)) as fetcher, pytest.raises(BodyTooLarge) as info:
        fetcher.fetch(httpserver.url_for("/bomb"))
    assert time.monotonic() - began < 2
    assert info.value.limit == MiB


def test_content_length_over_the_cap_fails_before_reading() -> None:
    class Untouchable:
        def __iter__(self) -> Iterator[bytes]:
            raise AssertionError("the body was read")

    def handler(request: MockRequest) -> MockReply:
        return MockReply(200, {"Content-Type": "text/html", "Content-Length": str(2 * MiB)}, Untouchable())

    with mock_fetcher(handler, max_bytes=MiB) as fetcher, pytest.raises(BodyTooLarge):
        fetcher.fetch("http://big.test/")


def test_content_length_over_the_cap_from_a_server(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(PAGE + bytes(MiB), content_type="text/html")
    with Fetcher(settings(max_bytes=MiB)) as fetcher, pytest.raises(BodyTooLarge):
        fetcher.fetch(httpserver.url_for("/big"))


def test_body_of_exactly_the_cap_is_accepted(httpserver: HTTPServer) -> None:
    page = PAGE + b" " * (4096 - len(PAGE))
    httpserver.expect_request("/exact").respond_with_data(page, content_type="text/html")
    with Fetcher(settings(max_bytes=4096)) as fetcher:
        assert fetcher.fetch(httpserver.url_for("/exact")).body == page


def test_chunked_body_over_the_cap_without_content_length() -> None:
    def respond(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(HTML_HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"<p>" + b"x" * 16_000 + b"</p>"
        for _ in range(200):               # about 3 MB, far past the 64 KiB cap
            if stop.is_set():
                return
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.sendall(b"0\r\n\r\n")

    with RawServer(respond) as server, Fetcher(settings(max_bytes=64 * 1024)) as fetcher, \
            pytest.raises(BodyTooLarge):
        fetcher.fetch(server.url)


def test_unknown_or_corrupt_encoding(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/zstd").respond_with_data(b"....", content_type="text/html",
                                                         headers={"Content-Encoding": "zstd"})
    httpserver.expect_request("/bad").respond_with_data(b"not gzip at all", content_type="text/html",
                                                        headers={"Content-Encoding": "gzip"})
    with pytest.raises(ContentDecodingError, match="zstd"):
        fetcher.fetch(httpserver.url_for("/zstd"))
    with pytest.raises(ContentDecodingError, match="corrupt gzip"):
        fetcher.fetch(httpserver.url_for("/bad"))


# --- redirects -------------------------------------------------------------------------------------

def chain_handler(request: Request) -> Response:
    """/chain?left=N redirects (relatively) N times, then serves the page."""
    left = int(request.args["left"])
    if left == 0:
        return Response(PAGE, content_type="text/html")
    return Response(status=301 if left % 2 else 307, headers={"Location": f"chain?left={left - 1}"})


@pytest.mark.parametrize("hops", [3, 10])
def test_redirect_chain_is_followed(httpserver: HTTPServer, fetcher: Fetcher, hops: int) -> None:
    httpserver.expect_request("/chain").respond_with_handler(chain_handler)
    result = fetcher.fetch(httpserver.url_for(f"/chain?left={hops}"))
    assert result.status == 200 and result.body == PAGE
    assert result.url == httpserver.url_for(f"/chain?left={hops}")
    assert result.final_url == httpserver.url_for("/chain?left=0")
    assert len(httpserver.log) == hops + 1


def test_eleven_redirects_are_too_many(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/chain").respond_with_handler(chain_handler)
    url = httpserver.url_for("/chain?left=11")
    with pytest.raises(TooManyRedirects, match="more than 10 redirects") as info:
        fetcher.fetch(url)
    assert info.value.url == url
    assert len(httpserver.log) == 11          # the twelfth URL is never requested


def test_redirect_loop(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/a").respond_with_data(b"", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data(b"", status=302, headers={"Location": "/a"})
    with pytest.raises(TooManyRedirects, match="redirect loop"):
        fetcher.fetch(httpserver.url_for("/a"))
    assert len(httpserver.log) == 2


@pytest.mark.parametrize("target", ["file:///etc/passwd", "data:text/html,<p>hi</p>", "ftp://x.test/a"])
def test_redirect_to_another_scheme_is_refused(httpserver: HTTPServer, fetcher: Fetcher,
                                               target: str) -> None:
    httpserver.expect_request("/r").respond_with_data(b"", status=302, headers={"Location": target})
    url = httpserver.url_for("/r")
    with pytest.raises(UnsupportedScheme) as info:
        fetcher.fetch(url)
    assert info.value.url == url
    assert "redirected to" in info.value.reason and target.split(":")[0] in info.value.reason


@pytest.mark.parametrize("url", ["ftp://example.test/article", "file:///etc/hosts", "example.test/a"])
def test_initial_url_must_be_http(url: str) -> None:
    def handler(request: MockRequest) -> MockReply:
        raise AssertionError("no request may be sent")

    with mock_fetcher(handler) as fetcher, pytest.raises(UnsupportedScheme) as info:
        fetcher.fetch(url)
    assert info.value.url == url


def test_redirect_without_location_is_a_status_error(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/nowhere").respond_with_data(b"", status=302)
    with pytest.raises(HTTPStatusError, match="without a Location") as info:
        fetcher.fetch(httpserver.url_for("/nowhere"))
    assert info.value.status == 302


def test_every_hop_goes_through_check_url() -> None:
    class NoInternalHosts(Fetcher):
        def check_url(self, url: str) -> None:
            super().check_url(url)
            if (urlsplit(url).hostname or "").endswith(".internal"):
                raise FetchError(url, "refusing a private address")

    requested: list[str] = []

    def handler(request: MockRequest) -> MockReply:
        requested.append(request.url)
        return MockReply(302, {"Location": "http://db.internal/admin"})

    fetcher = NoInternalHosts(settings(), MockPool(handler))
    with fetcher, pytest.raises(FetchError, match="private address") as info:
        fetcher.fetch("http://news.test/story")
    assert requested == ["http://news.test/story"]
    assert info.value.url == "http://news.test/story"
    assert "redirected to http://db.internal/admin" in str(info.value)


def test_cookies_live_only_within_one_redirect_chain() -> None:
    seen_cookies: list[str | None] = []

    def handler(request: MockRequest) -> MockReply:
        cookie = request.headers.get("Cookie")
        seen_cookies.append(cookie)
        if cookie != "consent=yes":
            return MockReply(302, [("Location", "/story"), ("Set-Cookie", "consent=yes; Path=/"),
                                   ("Set-Cookie", "tracker=1; Domain=elsewhere.test")])   # not this site's
        return MockReply(200, {"Content-Type": "text/html"}, PAGE)

    with mock_fetcher(handler) as fetcher:
        assert fetcher.fetch("http://consent.test/story").body == PAGE
        assert fetcher.fetch("http://consent.test/story").body == PAGE
    assert seen_cookies == [None, "consent=yes", None, "consent=yes"]


# --- statuses and content types --------------------------------------------------------------------

@pytest.mark.parametrize("status", [404, 410])
def test_gone_statuses_are_results(httpserver: HTTPServer, fetcher: Fetcher, status: int) -> None:
    httpserver.expect_request("/gone").respond_with_data(b"<html>not here</html>", status=status,
                                                         content_type="text/html")
    result = fetcher.fetch(httpserver.url_for("/gone"))
    assert result.status == status and result.gone and result.body == b""


@pytest.mark.parametrize(("status", "reason"), [(500, "HTTP 500 Internal Server Error"),
                                                (503, "HTTP 503 Service Unavailable"),
                                                (403, "HTTP 403 Forbidden")])
def test_other_statuses_raise(httpserver: HTTPServer, fetcher: Fetcher, status: int, reason: str) -> None:
    httpserver.expect_request("/err").respond_with_data(b"oops", status=status, content_type="text/html")
    with pytest.raises(HTTPStatusError) as info:
        fetcher.fetch(httpserver.url_for("/err"))
    assert info.value.status == status
    assert info.value.reason == reason


@pytest.mark.parametrize("content_type", ["application/pdf", "image/png", "application/json"])
def test_non_html_is_refused(httpserver: HTTPServer, fetcher: Fetcher, content_type: str) -> None:
    httpserver.expect_request("/file").respond_with_data(b"%PDF-1.7 ...", content_type=content_type)
    with pytest.raises(NotHTML) as info:
        fetcher.fetch(httpserver.url_for("/file"))
    assert info.value.content_type == content_type


def test_xhtml_is_html(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/x").respond_with_data(PAGE, content_type="application/xhtml+xml")
    assert fetcher.fetch(httpserver.url_for("/x")).content_type == "application/xhtml+xml"


@pytest.mark.parametrize(("body", "is_html"), [
    (b"\n  <!DOCTYPE html><p>x</p>", True),
    (b"<HTML><body>x</body></HTML>", True),
    (b"\x89PNG\r\n\x1a\n" + bytes(2000), False),
    (b'{"json": true}', False),
])
def test_missing_content_type_is_sniffed(body: bytes, is_html: bool) -> None:
    def handler(request: MockRequest) -> MockReply:
        return MockReply(200, {}, body)

    with mock_fetcher(handler) as fetcher:
        if is_html:
            result = fetcher.fetch("http://plain.test/")
            assert result.body == body and result.content_type is None
        else:
            with pytest.raises(NotHTML, match="Content-Type: missing"):
                fetcher.fetch("http://plain.test/")


# --- network failures ------------------------------------------------------------------------------

def test_connection_refused(fetcher: Fetcher) -> None:
    with socket.socket() as probe:              # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NetworkError, match="connection refused"):
        fetcher.fetch(f"http://127.0.0.1:{port}/")


def test_dns_failure_is_named(fetcher: Fetcher) -> None:
    # .invalid never resolves (RFC 6761): the lookup fails locally, with no network.
    with pytest.raises(NetworkError, match="could not resolve host no-such-host.invalid"):
        fetcher.fetch("http://no-such-host.invalid/")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_untrusted_certificate_is_refused(tmp_path: Path, fetcher: Fetcher) -> None:
    context = self_signed_context(tmp_path)

    def respond(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(HTML_HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(PAGE), PAGE))

    with RawServer(respond, tls=context) as server, pytest.raises(NetworkError) as info:
        fetcher.fetch(server.url)
    assert "TLS certificate verification failed" in info.value.reason


def _assert_cut_at_the_total_deadline(respond: Respond) -> None:
    """A fetch of a server answering with ``respond`` fails at the 1 s total deadline, not later."""
    began = time.monotonic()
    deadline = r"no complete response within 1 s \(total deadline\)"
    with RawServer(respond) as server, Fetcher(settings(total_timeout=1)) as fetcher, \
            pytest.raises(FetchTimeout, match=deadline):
        fetcher.fetch(server.url)
    assert time.monotonic() - began < 2


def test_slow_drip_hits_the_total_deadline() -> None:
    def respond(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(HTML_HEAD + b"Content-Length: 1000\r\n\r\n<html>")
        while not stop.wait(0.3):              # one byte every 0.3 s: never idle for long
            conn.sendall(b"x")

    _assert_cut_at_the_total_deadline(respond)


def test_a_slow_drip_of_headers_hits_the_total_deadline() -> None:
    def respond(conn: socket.socket, stop: threading.Event) -> None:
        for byte in HTML_HEAD[:12]:            # "HTTP/1.1 200", a byte every 0.25 s; then the server hangs up
            if stop.wait(0.25):
                return
            conn.sendall(bytes([byte]))

    _assert_cut_at_the_total_deadline(respond)


def test_silent_server_hits_the_idle_timeout() -> None:
    def respond(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(HTML_HEAD + b"Content-Length: 1000\r\n\r\n<html>")
        stop.wait(5)

    with RawServer(respond) as server, Fetcher(settings(idle_timeout=0.3)) as fetcher, \
            pytest.raises(FetchTimeout, match="idle timeout"):
        fetcher.fetch(server.url)


def test_truncated_body_is_an_error() -> None:
    def respond(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(HTML_HEAD + b"Content-Length: 5000\r\n\r\n" + PAGE)   # then the connection closes

    with RawServer(respond) as server, Fetcher(settings()) as fetcher, \
            pytest.raises(NetworkError, match="connection closed before the body was complete"):
        fetcher.fetch(server.url)


def test_short_body_is_an_error_whatever_the_transport() -> None:
    def handler(request: MockRequest) -> MockReply:
        return MockReply(200, {"Content-Type": "text/html", "Content-Length": "5000"}, PAGE)

    with mock_fetcher(handler) as fetcher, pytest.raises(NetworkError, match="before the body was complete"):
        fetcher.fetch("http://short.test/")


def test_one_fetcher_serves_many_threads(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/t").respond_with_data(PAGE, content_type="text/html")
    urls = [httpserver.url_for(f"/t?n={n}") for n in range(24)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetcher.fetch, urls))
    assert [r.final_url for r in results] == urls
    assert all(r.body == PAGE for r in results)


def test_a_503_carries_its_retry_after_header(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/busy").respond_with_data("busy", status=503, headers={"Retry-After": "120"})
    with Fetcher(FetchSettings(user_agent="newsmon-test")) as fetcher, pytest.raises(HTTPStatusError) as info:
        fetcher.fetch(httpserver.url_for("/busy"))
    assert (info.value.status, info.value.retry_after) == (503, "120")


def test_feeds_are_accepted_when_asked_for_and_html_is_not(httpserver: HTTPServer) -> None:
    rss = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
    httpserver.expect_request("/feed.xml").respond_with_data(rss, content_type="application/rss+xml")
    httpserver.expect_request("/untyped").respond_with_data(rss, content_type="")
    httpserver.expect_request("/page").respond_with_data("<html><p>x</p></html>", content_type="text/html")
    from monitor.fetch import FEED

    with Fetcher(FetchSettings(user_agent="newsmon-test")) as fetcher:
        assert fetcher.fetch(httpserver.url_for("/feed.xml"), kind=FEED).body == rss
        assert fetcher.fetch(httpserver.url_for("/untyped"), kind=FEED).body == rss
        assert "rss" in (httpserver.log[-1][0].headers.get("Accept") or "")
        with pytest.raises(NotHTML, match="not a feed or sitemap"):
            fetcher.fetch(httpserver.url_for("/page"), kind=FEED)
        with pytest.raises(NotHTML, match="not an HTML page"):
            fetcher.fetch(httpserver.url_for("/feed.xml"))


def test_a_per_call_hop_check_sees_every_redirect_target(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("<html><p>x</p></html>", content_type="text/html")
    seen: list[str] = []
    with Fetcher(FetchSettings(user_agent="newsmon-test")) as fetcher:
        fetcher.fetch(httpserver.url_for("/a"), check_url=seen.append)
    assert seen == [httpserver.url_for("/a"), httpserver.url_for("/b")]
