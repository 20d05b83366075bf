"""``newsmon demo``: the whole path of a check, offline, in a few seconds.

A news page carrying the seed article is served on loopback. newsmon checks it (``new``), checks it again
after the page's ads, timestamps and related links changed (``unchanged``: noise is not news), and checks it
once more after the article was edited: the casualty figure rises from "at least 1,000" to "at least 1,500"
and a paragraph is added (``modified``). Storage and reports go to a temporary folder that is kept and
printed, so the reader can open the report and run ``newsmon history`` on it.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from rich.console import Console
from rich.text import Text

from ..check import check_articles, utc_now
from ..config import parse_config
from ..report import write_run_reports
from ..store import open_store
from ..terminal import print_event
from .site import ArticleText, load_seed, render_article_page

ARTICLE_PATH = "/world/asia/north-korea-sends-more-troops-to-russia"
ADDED_PARAGRAPH = (
    "South Korean lawmakers briefed by the agency said on Friday that about 300 North Korean soldiers had "
    "been captured or wounded in the latest fighting."
)


def revised(article: ArticleText) -> ArticleText:
    """The seed article after an editor's update: the death toll rises and a paragraph is added."""
    paragraphs = [p.replace("at least 1,000 of the 11,000", "at least 1,500 of the 11,000")
                  for p in article.paragraphs]
    if paragraphs == list(article.paragraphs):
        raise RuntimeError("the demo article no longer contains the figure the demo edits")
    paragraphs.insert(len(paragraphs) - 2, ADDED_PARAGRAPH)
    return replace(article, paragraphs=tuple(paragraphs))


class _Page:
    """The page currently served; swapped between checks."""

    def __init__(self) -> None:
        self.html = b""
        self.etag = ""

    def set(self, html: str) -> None:
        self.html = html.encode("utf-8")
        self.etag = '"' + hashlib.sha256(self.html).hexdigest()[:16] + '"'


@contextmanager
def _serve(page: _Page) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            if self.path != ARTICLE_PATH:
                self.send_error(404)
                return
            if self.headers.get("If-None-Match") == page.etag:
                self.send_response(304)
                self.send_header("ETag", page.etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page.html)))
            self.send_header("ETag", page.etag)
            self.end_headers()
            self.wfile.write(page.html)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the demo prints its own story

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{ARTICLE_PATH}"
    finally:
        server.shutdown()
        server.server_close()


def run_demo(out: Console, workdir: Path | None = None) -> int:
    """Run the demo, printing as it goes; returns the exit status (0 when every step went as expected)."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="newsmon-demo-"))
    seed = load_seed()
    page = _Page()
    steps = [
        ("The article is published", render_article_page(seed, variant=0), "new"),
        ("Ads, timestamps and related links change; the article does not",
         render_article_page(seed, variant=1), "unchanged"),
        ("An editor raises the death toll and adds a paragraph",
         render_article_page(revised(seed), variant=2, modified="2025-02-27T11:30:00Z"), "modified"),
    ]
    ok = True
    with _serve(page) as url:
        config = parse_config(
            f"storage: {str(workdir / 'snapshots')!r}\n"
            f"reports: {str(workdir / 'reports')!r}\n"
            "per_host_delay: 0\n"
            f"sources:\n  - name: demo\n    urls: [{url!r}]\n",
            filename="<demo>", base_dir=workdir,
        )
        out.print(Text(f"Serving a news article at {url}", style="bold"))
        with open_store(config.storage_url()) as store:
            for number, (caption, html, expected) in enumerate(steps, start=1):
                page.set(html)
                out.print()
                out.print(Text(f"Check {number}: {caption}", style="bold"))
                started = utc_now()
                events = list(check_articles(config, store, config.articles()))
                for event in events:
                    print_event(out, event)
                    if event.event != expected:
                        ok = False
                        out.print(Text(f"expected {expected!r}, got {event.event!r}", style="red"))
                # Like `newsmon check`, every check writes its report; the last one shows the edit.
                report = write_run_reports(events, config.reports_dir(), started)
    out.print()
    out.print(Text(f"Report: {report.markdown}", style="bold"))
    out.print(Text(f"JSON:   {report.json}"))
    out.print(Text(f"Try:    newsmon history {url} -c {workdir / 'config.yaml'}"))
    (workdir / "config.yaml").write_text(
        f"storage: {str(workdir / 'snapshots')!r}\nreports: {str(workdir / 'reports')!r}\n", encoding="utf-8")
    return 0 if ok else 1
