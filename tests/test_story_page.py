"""The story pages of the report site: stories.html and stories/<id>.html from two outlets' articles (the
seed with 11,000 troops, the courier with 12,000), the discrepancy in the table and the chart over time,
who raised a figure first; hostile titles, URLs and source names stay text; the build never regroups.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

from markupsafe import escape
from sites import revision
from sqlalchemy import func, select
from test_report_site import PAYLOAD, assert_inert_html, outputs, read
from test_stories import COURIER, T0, store_article

from monitor.demo.site import ArticleText, load_seed
from monitor.report.site import build_site
from monitor.report.stories_page import story_chart, story_file
from monitor.report.timeline import article_key
from monitor.store import Store
from monitor.stories import list_stories, refresh_stories
from monitor.stories.tables import story_members

LEDGER_URL = "https://ledger.example/korea"
COURIER_URL = "https://courier.example/korea"


def two_outlets(store: Store) -> int:
    """The seed (ledger) and the courier's copy, then the ledger raises the toll; grouped. The story's id."""
    store_article(store, LEDGER_URL, "ledger", load_seed(), T0)
    store_article(store, COURIER_URL, "courier", COURIER, T0 + timedelta(minutes=5))
    store_article(store, LEDGER_URL, "ledger", revision("01_killed_figure_and_new_paragraph"),
                  T0 + timedelta(hours=2))
    refresh_stories(store)
    [story] = list_stories(store)
    return story.id


def table_rows(page: str) -> dict[str, list[str]]:
    """The quantities table as {first cell: the other cells}, text only."""
    table = page.split('<table class="quantities">', 1)[1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]:
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def test_story_page_shows_the_discrepancy_the_chart_and_the_lead(store: Store, tmp_path: Path) -> None:
    story = two_outlets(store)
    out = tmp_path / "out"
    build_site(store, out, since=None, generated_at=T0 + timedelta(hours=3))

    index = read(out / "index.html")
    assert '<a href="stories.html">' in index
    stories = read(out / "stories.html")
    assert f'href="{story_file(story)}"' in stories and "1 disagree" in stories
    page = read(out / story_file(story))
    assert story_file(story) == f"stories/{story}.html"
    assert f"Story: {escape(load_seed().title)}" in page
    assert "kursk" in page                                    # the why terms

    rows = table_rows(page)
    header = re.search(r"<thead>(.*?)</thead>", page, re.S)
    assert header and [c for c in re.findall(r"<th>(.*?)</th>", header.group(1))] == [
        "Figure", "courier", "ledger", "Sources"]
    troops = next(cells for subject, cells in rows.items() if "troops" in subject and "11,000" in " ".join(cells))
    assert troops == ["12,000 (v1)", "11,000 (v2)", "disagree"]
    assert '<tr class="status-disagree">' in page and "<strong>disagree</strong>" in page
    killed = next(cells for cells in rows.values() if "at least 1,500 (v2)" in cells)
    assert killed == ["at least 1,200 (v1)", "at least 1,500 (v2)", "differ"]

    # One chart per quantity; the killed chart has both sources' lines, the ledger's in two steps.
    assert page.count("<svg") == len(rows)
    assert page.count('<polyline class="series"') == 2 * len(rows) - sum(
        cells[:2].count("") for cells in rows.values())
    assert "ledger: at least 1,000 (2025-02-27 09:00 UTC) -&gt; at least 1,500 (2025-02-27 11:00 UTC)" in page
    assert ("raised from 1,000 to 1,500 by ledger first, at 2025-02-27 11:00 UTC (v2); "
            "no other source has followed") in page

    # Articles: the site's own page (each has a change? only the ledger's) and the outlet's URL.
    assert f'href="../articles/{article_key(LEDGER_URL)}.html"' in page
    assert f'href="../articles/{article_key(COURIER_URL)}.html"' not in page     # one version: no page
    assert f'href="{COURIER_URL}"' in page and f'href="{LEDGER_URL}"' in page
    for path in outputs(out):
        if path.suffix == ".html":
            assert_inert_html(read(path), str(path))


def test_links_of_the_story_pages_resolve(store: Store, tmp_path: Path) -> None:
    two_outlets(store)
    out = tmp_path / "out"
    build_site(store, out, since=None, generated_at=T0 + timedelta(hours=3))
    pages = [out / "stories.html", *sorted((out / "stories").glob("*.html"))]
    assert len(pages) == 2
    for page in pages:
        for href in re.findall(r'href="([^"]+)"', read(page)):
            if href.startswith(("http://", "https://")):
                continue
            target, _, fragment = href.partition("#")
            path = (page.parent / target).resolve() if target else page.resolve()
            assert path.is_file() and path.is_relative_to(out.resolve()), f"{page}: {href}"
            if fragment:
                assert f'id="{fragment}"' in read(path), f"{page}: {href}"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_hostile_story_is_text(store: Store, tmp_path: Path) -> None:
    source = '../<b onmouseover="x">evil</b> & co'
    url = 'https://example.com/a"><script>window.__pwned=1</script>/../../etc/passwd'
    seed = load_seed()
    hostile = ArticleText(f"{seed.title} {PAYLOAD}", f"{seed.standfirst} {PAYLOAD}",
                          (*seed.paragraphs, f"The page also says {PAYLOAD} in its body."))
    store_article(store, url, source, hostile, T0)
    store_article(store, "javascript:window.__pwned=1", "courier", COURIER, T0 + timedelta(minutes=5))
    refresh_stories(store)
    [story] = list_stories(store)
    out = tmp_path / "out"
    build_site(store, out, since=None, generated_at=T0 + timedelta(hours=3))

    names = {p.relative_to(out).as_posix() for p in outputs(out)}
    assert f"stories/{story.id}.html" in names
    assert all(re.fullmatch(r"[a-z0-9./-]+", name) for name in names), names
    for name in ("stories.html", f"stories/{story.id}.html"):
        page = read(out / name)
        assert_inert_html(page, name)
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page and "{{ config }}" in page
        assert not re.search(r'href="\s*javascript', page, re.I)
    page = read(out / f"stories/{story.id}.html")
    assert "&lt;b onmouseover=&#34;x&#34;&gt;evil&lt;/b&gt; &amp; co" in page      # the source, as text
    parser = _Text()
    parser.feed(page)
    text = "".join(parser.text)
    assert url in text and "javascript:window.__pwned=1" in text                 # shown, never linked
    assert f'href="{url}"' not in page


def test_the_build_reads_the_story_tables_and_never_regroups(store: Store, tmp_path: Path) -> None:
    store_article(store, LEDGER_URL, "ledger", load_seed(), T0)
    store_article(store, COURIER_URL, "courier", COURIER, T0 + timedelta(minutes=5))
    out = tmp_path / "out"
    build_site(store, out, since=None, generated_at=T0 + timedelta(hours=3))
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(story_members)).scalar() == 0
    assert "No story of two articles or more yet." in read(out / "stories.html")
    assert not (out / "stories").exists()


def test_story_chart_steps_over_time() -> None:
    """Geometry on a quantity read from a store-less fixture: x follows the time, a repeat adds no label."""
    from monitor.figure_ledger import Quantity, Reading

    def reading(article: int, source: str, version: int, minutes: int, value: float) -> Reading:
        return Reading(article_id=article, source=source, url=f"https://{source}.example/", version=version,
                       seen_at=T0 + timedelta(minutes=minutes), value=value, text=f"{value:,.0f}", unit=None,
                       qualifier=None, context="troops", sentence="", position=0)

    quantity = Quantity(story=1, key="troop||count", readings=[
        reading(1, "a", 1, 0, 11_000), reading(2, "b", 1, 30, 12_000), reading(1, "a", 2, 60, 11_000),
        reading(1, "a", 3, 120, 12_000)])
    chart = story_chart(quantity)
    a, b = chart.series
    assert [p.label for p in a.points] == ["11,000", "", "12,000"]
    assert a.points[0].x < b.points[0].x < a.points[1].x < a.points[2].x
    assert (a.points[0].x, a.points[2].x) == (80.0, 610.0)        # first and last moment span the plot
    assert a.points[0].y == a.points[1].y > a.points[2].y          # 11,000 below 12,000
    # Steps: the old value holds until the version that changes it.
    last_two = a.polyline.split()[-2:]
    assert last_two[0].split(",")[1] == str(a.points[1].y) and last_two[1].split(",")[1] == str(a.points[2].y)
    assert [level for _, level in chart.levels] == ["12,000", "11,000"]
    assert chart.summary.startswith("troops: a: 11,000")



def test_a_figure_a_source_dropped_is_shown_as_was() -> None:
    from monitor.figure_ledger import Quantity, Reading
    from monitor.report.stories_page import Cell, _cells

    def reading(article: int, source: str, value: float, *, latest: bool) -> Reading:
        return Reading(article_id=article, source=source, url=f"https://{source}.example/", version=1,
                       seen_at=T0, value=value, text=f"{value:,.0f}", unit=None, qualifier="at least",
                       context="troops", sentence="", position=0, latest=latest)

    quantity = Quantity(story=1, key="troop||count", readings=[
        reading(1, "a", 1_000, latest=True), reading(2, "b", 1_200, latest=False)])
    assert _cells(quantity, ["a", "b", "c"]) == (
        Cell("at least 1,000 (v1)", True), Cell("was at least 1,200 (v1)", False), Cell("", True))


def test_an_unchanged_story_page_is_not_written_again(store: Store, tmp_path: Path) -> None:
    story = two_outlets(store)
    out = tmp_path / "out"
    build_site(store, out, since=None, generated_at=T0 + timedelta(hours=3))
    page = out / story_file(story)
    before = page.stat().st_mtime_ns
    page.touch()
    touched = page.stat().st_mtime_ns
    build_site(store, out, since=None, generated_at=T0 + timedelta(hours=4))
    assert page.stat().st_mtime_ns == touched >= before
    assert "2025-02-27 13:00 UTC" in read(out / "stories.html")          # the index says when it was made
