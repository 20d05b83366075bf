"""``newsmon serve``: the report site's pages, rendered live from the store on each request, plus search.

Read-only by construction:

- GET and HEAD only; any other method (POST, PUT, a made-up one) is answered 405. There is no write endpoint.
- Paths are looked up in a table (``ROUTES``) of fixed names and hash-shaped keys, never mapped to files:
  nothing is read from disk, and ``/../etc/passwd`` or ``/articles/../../x`` match no entry (404). Paths are
  not percent-decoded, so ``%2e%2e`` matches nothing either.
- Every page comes from the report site's own code and templates (``monitor.report.site``), autoescaped;
  article text is only ever a template variable, never a template.
- Every response, errors included, carries ``SECURITY_HEADERS``: a Content-Security-Policy that lets nothing
  run or load (forms may only go back to this server, for the search), nosniff and no referrer.
- The store is made read-only (``Store.refuse_writes``) before any page is drawn: ``PRAGMA query_only`` on
  SQLite, on the plain connection that some reads take (monitor/store/reporting.py) as on the engine's,
  ``SET TRANSACTION READ ONLY`` on each PostgreSQL transaction, so even a mistake in a query could change
  nothing.

One store is shared by the request threads behind a lock: SQLAlchemy's pool hands each thread its own
connection for a SQLite file, but an in-memory database is one shared connection (``StaticPool``), as is
the store's plain-SQLite connection, and the lock keeps every case safe. A local viewer does not need
parallel queries.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from .check import utc_now
from .errors import MonitorError
from .models import SIGNIFICANCE_ORDER
from .report.feeds import changes_atom, changes_json
from .report.markdown import render_changes_markdown
from .report.render import render
from .report.site import FEED_ID, SIGNIFICANCE_PAGES, _article_pages, _list_page
from .report.site_cache import boilerplate_signature
from .report.timeline import Change, article_key, build_timeline, sort_changes, source_slug
from .store import Store
from .store.reporting import (
    ArticleStamp,
    article_history,
    boilerplate_keys,
    changed_article_stamps,
    search_articles,
    stored_articles,
)

__all__ = ["CSP", "DEFAULT_HOST", "DEFAULT_PORT", "ROUTES", "SECURITY_HEADERS", "Viewer", "make_server"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
SEARCH_LIMIT = 100
MAX_QUERY = 200

# The site's policy with one difference: the search form may submit to this server ('self').
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'"
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
TYPES = {"html": "text/html; charset=utf-8", "json": "application/json; charset=utf-8",
         "atom": "application/atom+xml; charset=utf-8", "md": "text/markdown; charset=utf-8",
         "text": "text/plain; charset=utf-8"}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    status: int
    kind: str          # a key of TYPES
    body: str


NOT_FOUND = Page(404, "text", "Not found.\n")


class _Pages(dict[str, str]):
    """Stands in for the site's file writer: keeps each rendered page by its site path, writes nothing."""

    def __call__(self, relative: str, text: str) -> Path:
        self[relative] = text
        return Path(relative)


class Viewer:
    """Renders one page of the site from the store, by the path the static site would give it."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.clock = clock
        self.lock = threading.Lock()
        # Each changed article's changes, kept while its stamp and its source's boilerplate hold: a list page
        # must not diff every version of every article at each request (monitor.report.site_cache's rule).
        self._changes: dict[str, tuple[tuple[ArticleStamp, str], tuple[Change, ...]]] = {}
        store.refuse_writes()

    def page(self, path: str, query: str) -> Page:
        for pattern, handler in ROUTES:
            match = pattern.fullmatch(path)
            if match is not None:
                with self.lock:
                    return handler(self, match, query)
        return NOT_FOUND

    def _context(self) -> dict[str, Any]:
        # `csp` overrides the site's own (form-action 'none') in the page's <meta>, so the search form works.
        return {"generated_at": self.clock(), "since": None, "csp": CSP, "search_action": "/search"}

    def changes(self) -> list[Change]:
        """Every change in the store, in report order; only articles that changed since the last request
        are read and diffed again."""
        keys: dict[str, frozenset[str]] = {}
        kept: dict[str, tuple[tuple[ArticleStamp, str], tuple[Change, ...]]] = {}
        for stamp in changed_article_stamps(self.store):
            if stamp.source not in keys:
                keys[stamp.source] = boilerplate_keys(self.store, stamp.source)
            mark = (stamp, boilerplate_signature(keys[stamp.source]))
            entry = self._changes.get(stamp.url)
            if entry is None or entry[0] != mark:
                history = article_history(self.store, stamp.url)
                if history is None:
                    continue
                entry = (mark, build_timeline(history, keys[stamp.source]).changes)
            kept[stamp.url] = entry
        self._changes = kept
        return sort_changes(c for _, changes in kept.values() for c in changes)

    def list_page(self, match: re.Match[str], _query: str) -> Page:
        file = match.group(1) or "index.html"
        label, _, lowest = next(p for p in SIGNIFICANCE_PAGES if p[1] == file)
        changes = self.changes()
        shown = [c for c in changes if SIGNIFICANCE_ORDER[c.significance] >= SIGNIFICANCE_ORDER[lowest]]
        pages = _Pages()
        _list_page(pages, file, heading="Changes" if lowest == "none" else f"Changes: significance {label}",
                   changes=shown, all_changes=changes, root="", significance_file=file, source=None,
                   feeds="changes", context=self._context())
        return Page(200, "html", pages[file])

    def feed(self, match: re.Match[str], _query: str) -> Page:
        changes, kind, now = self.changes(), match.group(1), self.clock()
        if kind == "json":
            return Page(200, kind, changes_json(changes))
        if kind == "atom":
            return Page(200, kind, changes_atom(changes, title="newsmon: changes", feed_id=FEED_ID, generated_at=now))
        return Page(200, kind, render_changes_markdown([c.to_event() for c in changes], "newsmon: changes", now))

    def source_page(self, match: re.Match[str], _query: str) -> Page:
        slug, kind = match.group(1), match.group(2)
        name = next((s for s in {s for _, s in stored_articles(self.store)} if source_slug(s) == slug), None)
        if name is None:
            return NOT_FOUND
        changes = self.changes()
        own = [c for c in changes if c.source == name]
        if kind == "json":
            return Page(200, kind, changes_json(own))
        if kind == "atom":
            return Page(200, kind, changes_atom(own, title=f"newsmon: {name}", feed_id=f"{FEED_ID}:source:{slug}",
                                                generated_at=self.clock()))
        pages = _Pages()
        _list_page(pages, f"sources/{slug}.html", heading=f"Changes: {name}", changes=own, all_changes=changes,
                   root="../", significance_file=None, source=name, feeds=slug, context=self._context())
        return Page(200, "html", pages[f"sources/{slug}.html"])

    def article_page(self, match: re.Match[str], _query: str) -> Page:
        """An article's page, or one of its versions (``-vN``): any stored article, changed or not."""
        key, number = match.group(1), match.group(2)
        found = next(((u, s) for u, s in stored_articles(self.store) if article_key(u) == key), None)
        history = None if found is None else article_history(self.store, found[0])
        if found is None or history is None:
            return NOT_FOUND
        pages = _Pages()
        _article_pages(pages, build_timeline(history, boilerplate_keys(self.store, found[1])))
        text = pages.get(f"articles/{key}.html" if number is None else f"articles/{key}-v{int(number)}.html")
        return NOT_FOUND if text is None else Page(200, "html", text)

    def search(self, _match: re.Match[str], query: str) -> Page:
        text = " ".join(parse_qs(query).get("q", [""])[0].split())[:MAX_QUERY]
        matches = search_articles(self.store, text, SEARCH_LIMIT) if text else []
        return Page(200, "html", render("search.html.j2", query=text, limit=SEARCH_LIMIT, csp=CSP,
                                        matches=[(article_key(m.url), m) for m in matches]))


# The whole URL space. Keys and slugs are the shapes timeline.article_key / source_slug make; nothing else
# (no "..", no "%", no second slash) can match.
ROUTES: tuple[tuple[re.Pattern[str], Callable[[Viewer, re.Match[str], str], Page]], ...] = (
    (re.compile(r"/(index\.html|changes-(?:high|medium|low)\.html)?"), Viewer.list_page),
    (re.compile(r"/changes\.(json|atom|md)"), Viewer.feed),
    (re.compile(r"/sources/([a-z0-9][a-z0-9-]{0,60})\.(html|json|atom)"), Viewer.source_page),
    (re.compile(r"/articles/([0-9a-f]{16})(?:-v([0-9]{1,9}))?\.html"), Viewer.article_page),
    (re.compile(r"/search"), Viewer.search),
)


class _Handler(BaseHTTPRequestHandler):
    server: ViewerServer
    server_version = "newsmon"
    sys_version = ""                # no Python version in the Server header
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(send_body=False)

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD>; every method but GET and HEAD (POST, PUT, DELETE, BREW...) is 405.
        if name.startswith("do_"):
            return self._refuse
        raise AttributeError(name)

    def _refuse(self) -> None:
        self._send(Page(405, "text", "Method not allowed: this viewer is read-only.\n"),
                   send_body=True, extra={"Allow": "GET, HEAD"})

    def _answer(self, *, send_body: bool) -> None:
        # Split by hand, not urlsplit: "//x" must not become a host. (http.server already folds a leading "//".)
        path, _, query = self.path.partition("#")[0].partition("?")
        try:
            page = self.server.viewer.page(path, query)
        except MonitorError as exc:
            log.error("newsmon serve: %s", exc)
            page = Page(503, "text", "The store cannot be read; see the server's log.\n")
        self._send(page, send_body=send_body)

    def _send(self, page: Page, *, send_body: bool, extra: dict[str, str] | None = None) -> None:
        body = page.body.encode("utf-8")
        self.send_response(page.status)
        self.send_header("Content-Type", TYPES[page.kind])
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def end_headers(self) -> None:
        # Here rather than in _send, so http.server's own errors (400, 414, 501) carry them too.
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        log.info("%s %s", self.address_string(), format % args)


class ViewerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], viewer: Viewer) -> None:
        self.viewer = viewer
        super().__init__(address, _Handler)


class _ViewerServer6(ViewerServer):
    address_family = socket.AF_INET6


def make_server(store: Store, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> ViewerServer:
    """A server bound to ``host``:``port`` (0: any free port), not yet serving: call ``serve_forever``."""
    server_class = _ViewerServer6 if ":" in host else ViewerServer
    return server_class((host, port), Viewer(store))
