"""The report site in a real browser: headless Chromium (Debian's package) driven by playwright, from disk.

The pages are opened as file:// URLs, as a reader would open them. The DOM must show the figure change
and the <ins>/<del> marks, and an article whose headline and body carry `<img onerror>`, `<script>` and
javascript: payloads must have created no element and run nothing (`window.__pwned` stays undefined).

Skipped, with the reason, where playwright or /usr/bin/chromium is missing (.ci/run installs chromium
when it can); never downloads a browser.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sites import Site
from test_report_site import OUR_TAGS, CheckedSite, build_checked_site

from monitor.report.timeline import article_key

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
    pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
        try:
            launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=60_000)
        except sync_api.Error as exc:
            pytest.skip(f"Chromium at {executable} does not start under playwright: {exc}")
        yield launched
        launched.close()


@pytest.fixture
def checked(site: Site, httpserver: HTTPServer, tmp_path: Path) -> CheckedSite:
    return build_checked_site(site, httpserver, tmp_path)


class Visit:
    """A page opened from disk, with what the browser reported while loading it."""

    def __init__(self, browser: Any, path: Path) -> None:
        # JavaScript stays enabled: the point is that nothing runs although it could.
        self.page = browser.new_page(java_script_enabled=True)
        self.dialogs: list[str] = []
        self.console: list[str] = []
        self.requests: list[str] = []
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("console", lambda message: self.console.append(message.text))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto(path.as_uri(), wait_until="load")

    def count(self, selector: str) -> int:
        return int(self.page.locator(selector).count())

    def assert_nothing_ran(self, own_url: str) -> None:
        page = self.page
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert self.dialogs == []
        assert self.count("img") == 0 and self.count("script") == 0 and self.count("iframe") == 0
        assert page.evaluate("document.querySelectorAll('[onerror],[onload],[onclick]').length") == 0
        tags = set(page.evaluate("Array.from(document.querySelectorAll('*'), e => e.localName)"))
        assert tags <= OUR_TAGS, f"elements the templates never make: {tags - OUR_TAGS}"
        hrefs = page.evaluate("Array.from(document.querySelectorAll('a[href]'), a => a.href)")
        assert not [h for h in hrefs if h.lower().startswith("javascript:")]
        # Nothing was fetched besides the page itself (no image, no script, no style sheet).
        assert self.requests == [own_url]

    def close(self) -> None:
        self.page.close()


def test_index_shows_the_figure_change_and_runs_nothing(browser: Any, checked: CheckedSite) -> None:
    index = checked.out / "index.html"
    visit = Visit(browser, index)
    try:
        figures = visit.page.locator("li.figure").all_inner_texts()
        assert "troops killed: at least 1,000 -> at least 1,500" in figures
        assert visit.count("ins") > 0 and visit.count("del") > 0
        body = visit.page.inner_text("body")
        assert '<img src=x onerror="window.__pwned=1">' in body          # the payload, as text
        assert "<script>window.__pwned=1</script>" in body
        assert "{{ config }}" in body
        visit.assert_nothing_ran(index.as_uri())
        # The filters are links to pages; following one works without JavaScript.
        visit.page.click("text=high")
        assert visit.page.url.endswith("changes-high.html")
    finally:
        visit.close()


def test_article_page_shows_marks_chart_and_versions(browser: Any, checked: CheckedSite) -> None:
    path = checked.out / "articles" / f"{article_key(checked.url)}.html"
    visit = Visit(browser, path)
    try:
        page = visit.page
        assert page.locator("del", has_text="1,000").count() > 0
        assert page.locator("ins", has_text="1,500").count() > 0
        assert page.locator("svg polyline").count() >= 1
        labels = page.locator("svg text.point-label").all_text_contents()
        assert "at least 1,000" in labels and "at least 1,500" in labels
        # The side-by-side view opens without JavaScript (a <details> element).
        page.locator("details.side-by-side summary").first.click()
        assert page.locator("table.sbs").first.is_visible()
        versions = page.locator("#versions a").all_inner_texts()
        assert versions == ["v1", "v2"]
        visit.assert_nothing_ran(path.as_uri())
    finally:
        visit.close()


def test_hostile_article_page_is_inert(browser: Any, checked: CheckedSite) -> None:
    key = article_key(checked.hostile_url)
    for path in (checked.out / "articles" / f"{key}.html", checked.out / "articles" / f"{key}-v2.html"):
        visit = Visit(browser, path)
        try:
            title = visit.page.inner_text("h1")
            assert '<img src=x onerror="window.__pwned=1">' in title and "<script>" in title
            assert visit.page.title().startswith(("Deadly storm", "v2: Deadly storm"))
            visit.assert_nothing_ran(path.as_uri())
        finally:
            visit.close()
