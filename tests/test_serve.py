"""`newsmon serve`: the report site's pages live from a store filled through the real pipeline, over HTTP.

The store is the one test_report_site builds (two checks of the seed article, 1,000 -> 1,500, and of an
article carrying HTML and script payloads), plus an article whose headline is a bare script tag.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import feedparser
import pytest
from pytest_httpserver import HTTPServer
from sites import Site
from test_report_site import OUR_TAGS, T0, assert_inert_html, build_checked_site, record
from typer.testing import CliRunner

from monitor.cli import app
from monitor.errors import StoreError
from monitor.report.timeline import article_key, source_slug
from monitor.serve import CSP, DEFAULT_HOST, ViewerServer, make_server
from monitor.store import CheckRecord, Store, open_store

SCRIPT_TITLE = "<script>alert(1)</script>"
SCRIPT_URL = "https://example.com/quake"


SERVER_TAGS = OUR_TAGS | {"form", "input", "button"}     # the search form is the viewer's own


@dataclass(frozen=True)
class Served:
    server: ViewerServer
    store: Store
    url: str             # the seed article, 1,000 -> 1,500
    hostile_url: str

    def request(self, method: str, path: str) -> tuple[int, dict[str, str], str]:
        host, port = self.server.server_address[:2]
        conn = http.client.HTTPConnection(str(host), port, timeout=10)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)   # the path as given: no normalising
            conn.endheaders()
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode("utf-8")
        finally:
            conn.close()

    def get(self, path: str) -> str:
        status, headers, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        assert headers["Content-Security-Policy"] == CSP
        return body


@pytest.fixture
def served(site: Site, httpserver: HTTPServer, tmp_path: Path) -> Iterator[Served]:
    checked = build_checked_site(site, httpserver, tmp_path)
    database = checked.config.parent / "snapshots" / "newsmon.db"
    with open_store(f"sqlite:///{database}") as writer:
        for n, toll in enumerate((10, 20)):
            record(writer, SCRIPT_URL, "wire", SCRIPT_TITLE, f"At least {toll} people died in the quake.",
                   T0 + timedelta(hours=n), outcome="new" if n == 0 else "modified")
    store = open_store(f"sqlite:///{database}")
    server = make_server(store, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(server, store, checked.url, checked.hostile_url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        store.close()


def test_binds_to_loopback_by_default(served: Served) -> None:
    assert DEFAULT_HOST == "127.0.0.1"
    assert served.server.server_address[0] == "127.0.0.1"
    help_text = CliRunner().invoke(app, ["serve", "--help"]).stdout
    assert "[default: 127.0.0.1]" in help_text and "newsmon serve" in help_text


def test_index_article_and_version_pages_are_live(served: Served) -> None:
    index = served.get("/")
    assert "troops killed: at least 1,000 -&gt; at least 1,500" in index
    assert '<form class="search" method="get" action="/search"' in index
    assert "form-action &#39;self&#39;" in index                  # the page's own policy lets the form work
    assert "at least 1,500" in served.get("/index.html")
    key = article_key(served.url)
    assert f'href="articles/{key}.html#v2"' in index
    page = served.get(f"/articles/{key}.html")
    assert "<del>1,000</del><ins>1,500</ins>" in page and '<table class="sbs">' in page and "<polyline" in page
    assert "at least 1,500" in served.get(f"/articles/{key}-v2.html")
    assert "at least 1,500" not in served.get(f"/articles/{key}-v1.html")
    for path in ("/changes-high.html", "/changes-low.html", f"/sources/{source_slug('wire')}.html"):
        assert "at least 1,500" in served.get(path), path


def test_feeds_are_served_too(served: Served) -> None:
    status, headers, body = served.request("GET", "/changes.atom")
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
    assert any(e.link == served.url for e in feedparser.parse(body).entries)
    assert "<" not in served.get("/changes.json")
    assert served.get(f"/sources/{source_slug('wire')}.json").startswith("[")


def test_pages_follow_the_store(served: Served) -> None:
    """Rendered on each request: a version stored after the server started shows at once."""
    assert "Later story" not in served.get("/")
    with open_store(str(served.store.engine.url)) as writer:
        record(writer, "https://example.com/later", "wire", "Later story", "At least 3 people were hurt.", T0,
               outcome="new")
        record(writer, "https://example.com/later", "wire", "Later story", "At least 7 people were hurt.",
               T0 + timedelta(hours=1))
    assert "Later story" in served.get("/")


def test_only_articles_that_changed_are_diffed_again(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.serve as serve_module

    served.get("/")                                            # every changed article read once
    read: list[str] = []
    real = serve_module.article_history

    def counting(store: Store, url: str):  # type: ignore[no-untyped-def]
        read.append(url)
        return real(store, url)

    monkeypatch.setattr(serve_module, "article_history", counting)
    served.get("/changes-high.html")
    assert read == []                                          # nothing changed: nothing read again
    with open_store(str(served.store.engine.url)) as writer:
        record(writer, SCRIPT_URL, "wire", SCRIPT_TITLE, "At least 30 people died in the quake.",
               T0 + timedelta(hours=5))
    assert "at least 30" in served.get("/").lower()
    assert read == [SCRIPT_URL]


def test_search_by_url_and_title(served: Served) -> None:
    by_title = served.get("/search?q=" + quote("STORM hits"))
    assert f'href="articles/{article_key(served.hostile_url)}.html"' in by_title
    assert article_key(served.url) not in by_title
    by_url = served.get("/search?q=" + quote("/world/story"))
    assert f'href="articles/{article_key(served.url)}.html"' in by_url
    assert "1 article whose" in by_url
    assert "0 articles" in served.get("/search?q=%25")          # % is a character, not a wildcard
    assert 'name="q"' in served.get("/search")


def test_a_hostile_title_is_escaped(served: Served) -> None:
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    pages = {"/": served.get("/"), "/search": served.get("/search?q=" + quote(SCRIPT_TITLE)),
             "article": served.get(f"/articles/{article_key(SCRIPT_URL)}.html"),
             "hostile article": served.get(f"/articles/{article_key(served.hostile_url)}.html")}
    for where, page in pages.items():
        assert "<script" not in page, where
        assert_inert_html(page, where, SERVER_TAGS)
    for where in ("/", "/search", "article"):
        assert escaped in pages[where], where
    assert f'value="{escaped}"' in pages["/search"]                 # the query echoed in the form, escaped
    assert "&lt;img src=x onerror=" in pages["hostile article"] and "{{ config }}" in pages["hostile article"]


def test_security_headers_on_every_response(served: Served) -> None:
    for method, path in (("GET", "/"), ("HEAD", "/"), ("GET", "/nothing"), ("POST", "/"), ("BREW", "/")):
        status, headers, _ = served.request(method, path)
        assert headers["Content-Security-Policy"] == CSP, (method, path, status)
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_only_get_and_head(served: Served) -> None:
    status, headers, body = served.request("HEAD", "/")
    assert status == 200 and body == "" and int(headers["Content-Length"]) > 0
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"):
        status, headers, _ = served.request(method, "/search?q=x")
        assert status == 405, method
        assert headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", [
    "/../etc/passwd", "/articles/../../x", "/articles/..%2f..%2fx", "/%2e%2e/etc/passwd", "/etc/passwd",
    "/articles/0000000000000000.html", "/articles/ABC.html", "/sources/nobody-0000000000.html",
    "/index.html/", "/index.html;x", "http://evil/index.html", "/changes.json.bak", "/config.yaml",
    "/snapshots/newsmon.db",
])
def test_unknown_paths_are_404(served: Served, path: str) -> None:
    status, headers, body = served.request("GET", path)
    assert status == 404, path
    assert "root:" not in body and headers["Content-Security-Policy"] == CSP


def test_a_missing_version_is_404(served: Served) -> None:
    status, _, _ = served.request("GET", f"/articles/{article_key(served.url)}-v9.html")
    assert status == 404


def test_the_viewer_cannot_write(served: Served) -> None:
    """The server's own store refuses writes: every transaction it opens is read-only, on its plain-SQLite
    connection (which some of the report's reads take) as on its engine."""
    store = served.server.viewer.store
    assert store.plain_sqlite is not None
    refused = "cannot .*: attempt to write a readonly database"
    with pytest.raises(StoreError, match=refused):
        record(store, "https://example.com/new", "wire", "New", "Text.", T0)
    with pytest.raises(StoreError, match=refused):
        store.record(served.url, "wire", CheckRecord(T0, "unchanged", 304))
    with pytest.raises(StoreError, match=refused):
        store.record(served.url, "wire", CheckRecord(T0, "unchanged", 200), line_keys=["a" * 64])
    with pytest.raises(StoreError, match=refused):
        store.boilerplate("wire", min_articles=1, min_percent=1)
    with pytest.raises(Exception, match="attempt to write a readonly database"), store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM checks")
    with open_store(store.engine.url.render_as_string()) as other:
        assert [c.outcome for c in other.checks(served.url)] == ["modified", "new"]
