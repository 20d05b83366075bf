"""monitor.discover: feeds and sitemaps parsed, filtered, and discovered over loopback with conditional GET."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.config import SourceConfig
from monitor.discover import (
    DiscoveredArticle,
    DiscoveryResult,
    discover,
    filter_discovered,
    parse_date,
    parse_feed,
    parse_sitemap,
)
from monitor.errors import BodyTooLarge, FetchError, HTTPStatusError, NetworkError
from monitor.fetch import Fetcher, FetchSettings
from monitor.models import FetchResult, Validators

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# --- feeds -----------------------------------------------------------------------------------------


def test_rss20() -> None:
    articles = parse_feed(fixture("rss20.xml"), "https://www.example.co.uk/feeds/rss.xml")
    assert [(a.url, a.title, a.guid) for a in articles] == [
        ("https://www.example.co.uk/news/world-1", "Ceasefire talks resume & stall", "world-1"),
        ("https://www.example.co.uk/news/uk-2", "Relative link", "uk-2"),     # resolved, ?ref=rss dropped
        ("https://www.example.co.uk/news/business-3", "Only a permalink guid",
         "https://www.example.co.uk/news/business-3"),
    ]                                                                          # the item without a link: skipped
    assert articles[0].published == datetime(2024, 6, 10, 2, 0, tzinfo=UTC)
    assert articles[1].published == datetime(2024, 6, 9, 12, 30, tzinfo=UTC)
    assert articles[2].published is None
    assert all(a.source_feed == "https://www.example.co.uk/feeds/rss.xml" for a in articles)


def test_atom_prefers_the_alternate_link_and_honours_xml_base() -> None:
    articles = parse_feed(fixture("atom.xml"), "https://news.example.org/feeds/atom.xml")
    assert [a.url for a in articles] == ["https://news.example.org/2024/06/10/floods.html",
                                         "https://news.example.org/2024/06/09/budget.html"]
    floods, budget = articles
    assert floods.published == datetime(2024, 6, 10, 6, 15, tzinfo=UTC)
    assert floods.updated == datetime(2024, 6, 10, 8, 0, tzinfo=UTC)
    assert budget.published is None and budget.date == datetime(2024, 6, 9, 18, 0, tzinfo=UTC)
    assert floods.guid == "tag:news.example.org,2024:1"


def test_rdf() -> None:
    articles = parse_feed(fixture("rdf.xml"), "https://example.jp/rss")
    assert [(a.url, a.title) for a in articles] == [("https://example.jp/articles/100", "Typhoon approaches"),
                                                    ("https://example.jp/articles/101", "Markets open higher")]
    assert articles[0].date == datetime(2024, 6, 9, 21, 0, tzinfo=UTC)       # dc:date, +09:00
    assert articles[0].date is not None and articles[0].date.tzinfo is not None


@pytest.mark.parametrize("body", [b"<!doctype html><html><body><p>Hello</p></body></html>", b"", b"{\"a\": 1}"])
def test_not_a_feed(body: bytes) -> None:
    with pytest.raises(FetchError, match="not an RSS, Atom or RDF feed") as info:
        parse_feed(body, "https://example.com/feed")
    assert info.value.url == "https://example.com/feed"


def test_a_body_naming_a_file_is_not_read_from_disk(tmp_path: Path) -> None:
    # Given bytes rather than a stream, feedparser would open() them as a file name.
    path = tmp_path / "secret.xml"
    path.write_bytes(fixture("rss20.xml"))
    with pytest.raises(FetchError, match="not an RSS"):
        parse_feed(str(path).encode(), "https://example.com/feed")


def test_billion_laughs_in_a_feed_is_harmless() -> None:
    start = time.monotonic()
    articles = parse_feed(fixture("billion_laughs_feed.xml"), "https://www.example.com/feed")
    assert time.monotonic() - start < 2
    assert [a.url for a in articles] == ["https://www.example.com/a"]
    assert len(articles[0].title or "") < 100                                  # not expanded
    assert "root:" not in repr(articles)                                       # no external entity read


# --- sitemaps --------------------------------------------------------------------------------------


def test_news_sitemap() -> None:
    result = parse_sitemap(fixture("news_sitemap.xml"), "https://www.example.com/news-sitemap.xml")
    assert not result.is_index
    election, final = result.urls                                              # the <url> without <loc>: skipped
    assert election.url == "https://www.example.com/world/2024/06/10/election-results"
    assert election.published == datetime(2024, 6, 10, 8, 0, tzinfo=UTC)
    assert election.lastmod == datetime(2024, 6, 10, 10, 30, tzinfo=UTC)
    assert election.title == "Election results: a hung parliament"
    assert final.lastmod == datetime(2024, 6, 9, tzinfo=UTC) and final.published is None
    articles = result.articles("https://www.example.com/news-sitemap.xml")
    assert articles[1].url == "https://www.example.com/sport/2024/06/09/final"   # canonical
    assert articles[1].date == datetime(2024, 6, 9, tzinfo=UTC)


def test_sitemap_index() -> None:
    result = parse_sitemap(fixture("sitemap_index.xml"), "https://www.example.com/sitemap.xml")
    assert result.is_index and not result.urls
    assert [(s.url, s.lastmod) for s in result.sitemaps] == [
        ("https://www.example.com/sitemaps/2024-05.xml", datetime(2024, 5, 31, 23, 59, tzinfo=UTC)),
        ("https://www.example.com/sitemaps/2024-06.xml.gz", datetime(2024, 6, 10, 10, 30, tzinfo=UTC)),
        ("https://www.example.com/sitemaps/sections.xml", None),                # relative, resolved
    ]


def test_gzip_sitemap() -> None:
    result = parse_sitemap(gzip.compress(fixture("news_sitemap.xml")), "https://www.example.com/s.xml.gz")
    assert len(result.urls) == 2


def test_gzip_bomb_stops_at_max_bytes() -> None:
    bomb = gzip.compress(b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + b" " * (16 * 1024 * 1024))
    start = time.monotonic()
    with pytest.raises(BodyTooLarge):
        parse_sitemap(bomb, "https://www.example.com/bomb.xml.gz", max_bytes=1024 * 1024)
    assert time.monotonic() - start < 2


def test_billion_laughs_in_a_sitemap_is_refused_quickly() -> None:
    start = time.monotonic()
    with pytest.raises(FetchError, match="not a sitemap"):
        parse_sitemap(fixture("billion_laughs_sitemap.xml"), "https://www.example.com/sitemap.xml")
    assert time.monotonic() - start < 2


def test_a_doctype_is_refused_even_without_a_bomb() -> None:
    body = (b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://e.com/&xxe;</loc>'
            b'</url></urlset>')
    with pytest.raises(FetchError, match="DOCTYPE"):
        parse_sitemap(body, "https://e.com/sitemap.xml")


@pytest.mark.parametrize(("body", "message"), [
    (b"<urlset><url><loc>https://e.com/</loc></url>", "invalid XML"),
    (b"<!doctype html><html><body>Not here</body></html>", "invalid XML"),
    (b"<html><body>Not here</body></html>", "root element is <html>"),
    (fixture("rss20.xml"), "root element is <rss>"),
])
def test_not_a_sitemap(body: bytes, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        parse_sitemap(body, "https://e.com/sitemap.xml")


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-06-10", datetime(2024, 6, 10, tzinfo=UTC)),
    ("2024-06-10T08:00:00Z", datetime(2024, 6, 10, 8, tzinfo=UTC)),
    ("2024-06-10T08:00+02:00", datetime(2024, 6, 10, 6, tzinfo=UTC)),
    ("2024-06-10T08:00:00.123456+00:00", datetime(2024, 6, 10, 8, 0, 0, 123456, tzinfo=UTC)),
    ("2024-06-10T08:00:00", datetime(2024, 6, 10, 8, tzinfo=UTC)),            # no zone: UTC
    ("2024-06", datetime(2024, 6, 1, tzinfo=UTC)),
    ("2024", datetime(2024, 1, 1, tzinfo=UTC)),
    ("Mon, 10 Jun 2024 08:00:00 GMT", datetime(2024, 6, 10, 8, tzinfo=UTC)),
    ("yesterday", None), ("", None), (None, None), ("2024-13", None),
    # Outside years 1-9999 once in UTC: no date the store could keep (a placeholder, not a time).
    ("0001-01-01T00:00:00+01:00", None), ("9999-12-31T23:30:00-01:00", None),
    ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
])
def test_parse_date(text: str | None, expected: datetime | None) -> None:
    assert parse_date(text) == expected


# --- filtering -------------------------------------------------------------------------------------

FEED = "https://www.example.com/feed.xml"


def item(url: str, *, days: float | None = None, title: str | None = None) -> DiscoveredArticle:
    published = None if days is None else NOW - timedelta(days=days)
    return DiscoveredArticle(url=url, title=title, published=published, source_feed=FEED)


FILTER = [
    ("https://www.example.com/a", None),
    ("https://news.example.com/a", None),                                       # same registrable domain
    ("https://cdn.partner.net/a", None),                                        # listed in domains
    ("https://example.net/a", "off-site: example.net"),
    ("https://www.example.com.evil.net/a", "off-site"),
    ("ftp://www.example.com/a", "not an http(s) URL"),
    ("javascript:alert(1)", "not an http(s) URL"),
    ("https://user:pw@www.example.com/a", "credentials"),
    ("https://www.example.com:99999/a", "invalid URL"),
    ("https:///nohost", "no host name"),
    ("https://www.example.com/" + "a" * 5000, "longer than"),
]


@pytest.mark.parametrize(("url", "reason"), FILTER)
def test_filter_discovered(url: str, reason: str | None) -> None:
    accepted, rejected = filter_discovered([item(url)], feed_url=FEED, domains=["partner.net"], max_age=None,
                                           now=NOW)
    if reason is None:
        assert [a.url for a in accepted] == [url] and rejected == []
    else:
        assert accepted == [] and len(rejected) == 1
        assert reason in rejected[0].reason and rejected[0].source_feed == FEED


def test_max_age_uses_the_date_when_known() -> None:
    items = [item("https://www.example.com/new", days=0.5), item("https://www.example.com/old", days=3),
             item("https://www.example.com/undated"), item("https://www.example.com/future", days=-1)]
    accepted, rejected = filter_discovered(items, feed_url=FEED, max_age=timedelta(days=2), now=NOW)
    assert [a.url for a in accepted] == ["https://www.example.com/new", "https://www.example.com/undated",
                                         "https://www.example.com/future"]
    assert [(r.url, r.reason.split(":")[0]) for r in rejected] == [
        ("https://www.example.com/old", "older than max_age (172800 s)")]
    accepted_seconds, _ = filter_discovered(items, feed_url=FEED, max_age=2 * 86400.0, now=NOW)
    assert accepted_seconds == accepted


def test_duplicates_after_canonicalisation_are_merged() -> None:
    items = [item("https://www.example.com/a?utm_source=rss"), item("https://WWW.example.com/a#top", title="A"),
             item("https://www.example.com/a", days=1, title="Other")]
    accepted, rejected = filter_discovered(items, feed_url=FEED, max_age=None, now=NOW)
    assert rejected == []
    assert accepted == [DiscoveredArticle(url="https://www.example.com/a", title="A",
                                          published=NOW - timedelta(days=1), source_feed=FEED)]


# --- discover over loopback ------------------------------------------------------------------------


class LoopbackFetcher:
    """A minimal FeedFetcher over httpx, for tests that replace its ``fetch`` with a failure."""

    def __init__(self) -> None:
        self.client = httpx.Client(timeout=5, follow_redirects=True)

    def fetch(self, url: str, validators: Validators = Validators(), *,  # noqa: B008
              kind: object = None, check_url: Callable[[str], None] | None = None) -> FetchResult:
        if check_url is not None:
            check_url(url)
        headers = {}
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        try:
            response = self.client.get(url, headers=headers)
        except httpx.TransportError as exc:
            raise NetworkError(url, f"{type(exc).__name__}: {exc}") from exc
        found = Validators(response.headers.get("ETag"), response.headers.get("Last-Modified"))
        if response.status_code == 304:
            return FetchResult(url, url, 304, validators=Validators(found.etag or validators.etag,
                                                                     found.last_modified or validators.last_modified))
        if response.status_code in (404, 410):
            return FetchResult(url, url, response.status_code)
        if not response.is_success:
            raise HTTPStatusError(url, response.status_code)
        return FetchResult(url, str(response.url), response.status_code, body=response.content, validators=found)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    # The real fetcher: feeds and sitemaps go through the same conditional, bounded fetch as articles.
    with Fetcher(FetchSettings(user_agent="newsmon-test", total_timeout=5)) as real:
        yield real


def serve(server: HTTPServer, path: str, body: bytes, content_type: str = "application/xml",
          etag: str | None = None) -> str:
    """Serve ``body`` at ``path`` with an ETag, answering 304 to a matching If-None-Match."""
    etag = etag or f'"{path}-1"'

    def handle(request: Request) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, content_type=content_type, headers={"ETag": etag})

    server.expect_request(path).respond_with_handler(handle)
    return str(server.url_for(path))


def rss(*links: str, dates: tuple[datetime | None, ...] = ()) -> bytes:
    items = []
    for i, link in enumerate(links):
        date = dates[i] if i < len(dates) else None
        pub = f"<pubDate>{date.strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate>" if date else ""
        items.append(f"<item><title>Story {i}</title><link>{link}</link>{pub}</item>")
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>/</link>{"".join(items)}'
            "</channel></rss>").encode()


def urlset(*locs: str) -> bytes:
    urls = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode()


def index(*children: tuple[str, str | None]) -> bytes:
    parts = "".join(f"<sitemap><loc>{loc}</loc>{f'<lastmod>{mod}</lastmod>' if mod else ''}</sitemap>"
                    for loc, mod in children)
    return f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{parts}</sitemapindex>'.encode()


def source(**fields: object) -> SourceConfig:
    return SourceConfig.from_dict({"name": "local", "allow_private": True, **fields})


def run(src: SourceConfig, fetcher: Fetcher | LoopbackFetcher, saved: dict[str, Validators] | None = None,
        **kwargs: object) -> DiscoveryResult:
    saved = saved or {}
    return discover(src, fetcher, now=NOW, validators_for=lambda url: saved.get(url, Validators()),
                    **kwargs)  # type: ignore[arg-type]


def requests_to(server: HTTPServer, path: str) -> list[Request]:
    return [request for request, _ in server.log if request.path == path]


def test_discover_with_conditional_get(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    base = httpserver.url_for("/").rstrip("/")
    feed = serve(httpserver, "/rss.xml", rss(f"{base}/a?utm_source=rss", "/b", f"{base}/a#again"),
                 "application/rss+xml")
    news = serve(httpserver, "/sitemaps/news.xml", urlset(f"{base}/c", f"{base}/b"))
    archive = serve(httpserver, "/sitemaps/2024-05.xml.gz", gzip.compress(urlset(f"{base}/d")), "application/gzip")
    top = serve(httpserver, "/sitemap.xml", index(("/sitemaps/news.xml", "2024-06-10"),
                                                  ("/sitemaps/2024-05.xml.gz", "2024-05-31")))
    src = source(feeds=[feed], sitemaps=[top])

    first = run(src, fetcher)
    assert first.errors == ()
    assert [a.url for a in first.articles] == [f"{base}/a", f"{base}/b", f"{base}/c", f"{base}/d"]
    assert first.articles[1].title == "Story 1"                                 # the feed's listing wins
    assert first.validators[feed] == Validators(etag='"/rss.xml-1"')
    assert first.validators[news] == Validators(etag='"/sitemaps/news.xml-1"')
    assert first.validators[archive].etag == '"/sitemaps/2024-05.xml.gz-1"'
    assert first.validators[top] == Validators()      # an index is always fetched in full
    assert first.fetched == (feed, top, news, archive)                          # newest child first

    second = run(src, fetcher, dict(first.validators))
    assert second.errors == () and second.articles == ()
    assert set(second.not_modified) == {feed, news, archive}
    assert requests_to(httpserver, "/rss.xml")[-1].headers["If-None-Match"] == '"/rss.xml-1"'
    assert requests_to(httpserver, "/sitemaps/news.xml")[-1].headers["If-None-Match"] == '"/sitemaps/news.xml-1"'
    assert "If-None-Match" not in requests_to(httpserver, "/sitemap.xml")[-1].headers
    assert second.validators[feed] == first.validators[feed]


def test_a_redirected_feed(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    # Relative links resolve against where the feed was found; items carry the configured URL.
    base = httpserver.url_for("/").rstrip("/")
    serve(httpserver, "/feeds/new/rss.xml", rss("story-1", "/story-2"))
    httpserver.expect_request("/rss").respond_with_response(Response(status=301,
                                                                     headers={"Location": "/feeds/new/rss.xml"}))
    configured = httpserver.url_for("/rss")
    result = run(source(feeds=[configured]), fetcher)
    assert [(a.url, a.source_feed) for a in result.articles] == [(f"{base}/feeds/new/story-1", configured),
                                                                 (f"{base}/story-2", configured)]


def test_a_failing_feed_never_stops_the_others(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    base = httpserver.url_for("/").rstrip("/")
    good = serve(httpserver, "/good.xml", rss(f"{base}/ok"))
    httpserver.expect_request("/broken.xml").respond_with_data("oops", status=500)
    httpserver.expect_request("/gone.xml").respond_with_data("", status=410)
    html = serve(httpserver, "/page", b"<!doctype html><html><body>hi</body></html>", "text/html")
    bad_sitemap = serve(httpserver, "/bad-sitemap.xml", b"<urlset><url>")
    refused = "http://127.0.0.1:1/feed.xml"                                     # nothing listens on port 1
    feeds = [httpserver.url_for("/broken.xml"), refused, html, httpserver.url_for("/gone.xml"), good]
    result = run(source(feeds=feeds, sitemaps=[bad_sitemap]), fetcher)

    assert [a.url for a in result.articles] == [f"{base}/ok"]
    errors = "\n".join(result.errors)
    assert len(result.errors) == 5
    assert f"{httpserver.url_for('/broken.xml')}: HTTP 500" in errors
    assert f"{refused}: connection refused" in errors
    # An HTML page where a feed should be is refused by its Content-Type before it is read.
    assert f"{html}: not a feed or sitemap (Content-Type: text/html)" in errors
    assert f"{httpserver.url_for('/gone.xml')}: HTTP 410: the feed is gone" in errors
    assert f"{bad_sitemap}: not a sitemap: invalid XML" in errors
    assert set(result.validators) == {good}


def test_an_unexpected_exception_is_an_error_line(fetcher: Fetcher) -> None:
    class Exploding(LoopbackFetcher):
        def fetch(self, url: str, validators: Validators = Validators(), *,  # noqa: B008
                  kind: object = None, check_url: Callable[[str], None] | None = None) -> FetchResult:
            raise RuntimeError("boom")

    result = run(source(feeds=["https://example.com/feed"]), Exploding())
    assert result.errors == ("https://example.com/feed: unexpected RuntimeError: boom",)


def test_off_domain_links_are_rejected(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    base = httpserver.url_for("/").rstrip("/")
    links = (f"{base}/mine", "https://evil.example/phish", "https://news.partner.example/ok",
             "javascript:alert(1)", "file:///etc/passwd", "http://169.254.169.254/latest/meta-data/")
    feed = serve(httpserver, "/rss.xml", rss(*links))
    result = run(source(feeds=[feed], domains=["partner.example"]), fetcher)
    assert [a.url for a in result.articles] == [f"{base}/mine", "https://news.partner.example/ok"]
    reasons = {r.url: r.reason for r in result.rejected}
    assert reasons["https://evil.example/phish"].startswith("off-site: evil.example is not on the site of")
    assert reasons["javascript:alert(1)"].startswith("not an http(s) URL")
    file_reasons = [reason for url, reason in reasons.items() if url.startswith("file:")]
    assert len(file_reasons) == 1 and file_reasons[0].startswith("not an http(s) URL")
    assert reasons["http://169.254.169.254/latest/meta-data/"].startswith("off-site")
    assert all(r.source_feed == feed for r in result.rejected)


def test_max_age_with_a_fixed_now(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    base = httpserver.url_for("/").rstrip("/")
    feed = serve(httpserver, "/rss.xml", rss(f"{base}/today", f"{base}/last-week", f"{base}/undated",
                                             dates=(NOW - timedelta(hours=3), NOW - timedelta(days=7))))
    result = run(source(feeds=[feed], max_age="2d"), fetcher)
    assert [a.url for a in result.articles] == [f"{base}/today", f"{base}/undated"]
    assert [r.url for r in result.rejected] == [f"{base}/last-week"]
    assert "older than max_age" in result.rejected[0].reason


def test_sitemap_indexes_are_followed_to_max_depth_without_loops(httpserver: HTTPServer,
                                                                  fetcher: Fetcher) -> None:
    base = httpserver.url_for("/").rstrip("/")
    serve(httpserver, "/s0.xml", index(("/s0.xml", None), ("/s1.xml", None), ("/leaf0.xml", None)))
    serve(httpserver, "/s1.xml", index(("/s0.xml", None), ("/s2.xml", None), ("/leaf1.xml", None)))  # a loop
    serve(httpserver, "/s2.xml", index(("/leaf2.xml", None)))                  # level 2: its children are at 3
    for name in ("leaf0", "leaf1", "leaf2"):
        serve(httpserver, f"/{name}.xml", urlset(f"{base}/{name}-article"))
    result = run(source(sitemaps=[httpserver.url_for("/s0.xml")]), fetcher, max_sitemap_depth=2)
    assert result.errors == ()
    assert sorted(a.url for a in result.articles) == [f"{base}/leaf0-article", f"{base}/leaf1-article"]
    assert requests_to(httpserver, "/leaf2.xml") == [] and len(requests_to(httpserver, "/s0.xml")) == 1
    assert any("nested deeper than 2 levels" in r.reason for r in result.rejected)


def test_newest_children_first_capped(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    base = httpserver.url_for("/").rstrip("/")
    days = {"jan": "2024-01-31", "feb": "2024-02-29", "mar": "2024-03-31", "apr": None, "may": "2024-05-31"}
    for name in days:
        serve(httpserver, f"/{name}.xml", urlset(f"{base}/{name}"))
    top = serve(httpserver, "/index.xml", index(*((f"/{name}.xml", day) for name, day in days.items())))
    result = run(source(sitemaps=[top]), fetcher, max_children=2)
    assert [a.url for a in result.articles] == [f"{base}/may", f"{base}/mar"]
    assert any(r.reason == "3 child sitemaps beyond the newest 2 skipped" for r in result.rejected)


def test_children_older_than_max_age_are_not_fetched(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    base = httpserver.url_for("/").rstrip("/")
    serve(httpserver, "/new.xml", urlset(f"{base}/new"))
    serve(httpserver, "/old.xml", urlset(f"{base}/old"))
    top = serve(httpserver, "/index.xml", index(("/new.xml", "2024-06-10"), ("/old.xml", "2023-01-01")))
    result = run(source(sitemaps=[top], max_age="30d"), fetcher)
    assert [a.url for a in result.articles] == [f"{base}/new"]
    assert requests_to(httpserver, "/old.xml") == []
    assert any("not modified within max_age" in r.reason for r in result.rejected)


def test_child_sitemaps_are_untrusted(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    # The configured sitemap may be on loopback (the user wrote it); a child it lists may not, unless
    # the source allows private addresses; and a child on another site is never fetched.
    base = httpserver.url_for("/").rstrip("/")
    serve(httpserver, "/child.xml", urlset(f"{base}/a"))
    top = serve(httpserver, "/index.xml", index(("/child.xml", None), ("https://elsewhere.example/s.xml", None)))
    result = run(source(sitemaps=[top], allow_private=False), fetcher)
    assert result.articles == () and requests_to(httpserver, "/child.xml") == []
    reasons = {r.url: r.reason for r in result.rejected}
    assert reasons[httpserver.url_for("/child.xml")].startswith("refusing the local host name 'localhost'")
    assert reasons["https://elsewhere.example/s.xml"].startswith("child sitemap not on the site of")

    guard_calls: list[str] = []
    allowed = run(source(sitemaps=[top], allow_private=False), fetcher, guard=guard_calls.append)
    assert [a.url for a in allowed.articles] == [f"{base}/a"]
    # Once when the child is chosen, once more on the hop that fetches it (every redirect hop is checked).
    assert guard_calls == [httpserver.url_for("/child.xml")] * 2


def test_default_max_bytes_comes_from_the_fetcher(httpserver: HTTPServer) -> None:
    class Small(LoopbackFetcher):
        settings = type("Settings", (), {"max_bytes": 1000})()

    big = gzip.compress(urlset(*(f"https://x.example/{i}" for i in range(200))))
    top = serve(httpserver, "/big.xml.gz", big, "application/gzip")
    result = run(source(sitemaps=[top]), Small())
    assert len(result.errors) == 1 and "body larger than 1,000 bytes" in result.errors[0]

