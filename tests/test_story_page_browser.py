"""A story page in a real browser (headless Debian Chromium through playwright, from disk): the seed story as
two outlets report it (11,000 troops against 12,000), the discrepancy found in the table and in the SVG
chart, nothing run even with hostile titles and source names. Skipped like tests/test_report_browser.py
where playwright or Chromium is missing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from test_report_browser import Visit, browser  # noqa: F401 (the browser fixture)
from test_report_site import PAYLOAD
from test_stories import COURIER, T0, store_article

from monitor.demo.site import ArticleText, load_seed
from monitor.report.site import build_site
from monitor.report.stories_page import story_file
from monitor.store import open_store
from monitor.stories import list_stories, refresh_stories


def build(tmp_path: Path, *, ledger_title: str, courier_source: str) -> Path:
    """Two outlets' articles grouped, then the site built; the story page's path."""
    seed = load_seed()
    with open_store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        store_article(store, "https://ledger.example/korea", "ledger",
                      ArticleText(ledger_title, seed.standfirst, seed.paragraphs), T0)
        store_article(store, "https://courier.example/korea", courier_source, COURIER, T0 + timedelta(minutes=5))
        refresh_stories(store)
        [story] = list_stories(store)
        build_site(store, tmp_path / "out", since=None, generated_at=T0 + timedelta(hours=1))
    return tmp_path / "out" / story_file(story.id)


def test_story_page_shows_the_discrepancy_in_table_and_chart(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    path = build(tmp_path, ledger_title=load_seed().title, courier_source="courier")
    visit = Visit(browser, path)
    try:
        page = visit.page
        row = page.locator("table.quantities tbody tr", has_text="12,000")
        assert row.count() == 1
        cells = row.locator("td").all_inner_texts()
        assert cells == ["12,000 (v1)", "11,000 (v1)", "disagree"]        # courier, ledger, status
        assert "troops" in row.locator("th").inner_text()
        # Marked visibly, not only in words: the row's background is not the table's.
        background = row.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor")
        assert background not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")

        # Its chart: an SVG the server drew, one line per source, both values as labels, readable as text.
        chart = page.locator("section.quantity", has_text="sources disagree").first.locator("svg")
        assert chart.is_visible()
        assert chart.locator("polyline.series").count() == 2
        assert set(chart.locator("text.legend").all_text_contents()) == {"ledger", "courier"}
        assert {"11,000", "12,000"} <= set(chart.locator("text.point-label").all_text_contents())
        box = chart.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 80
        visit.assert_nothing_ran(path.as_uri())
    finally:
        visit.close()


def test_hostile_story_page_runs_nothing(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    source = '<img src=x onerror="window.__pwned=1"> & co'
    path = build(tmp_path, ledger_title=f"{load_seed().title} {PAYLOAD}", courier_source=source)
    for page_path in (path, path.parent.parent / "stories.html"):
        visit = Visit(browser, page_path)
        try:
            body = visit.page.inner_text("body")
            assert "<script>window.__pwned=1</script>" in body and "{{ config }}" in body
            if page_path == path:
                assert source in visit.page.locator("table.quantities thead").inner_text()
                assert source in visit.page.locator("svg text.legend").all_text_contents()
            visit.assert_nothing_ran(page_path.as_uri())
        finally:
            visit.close()
