"""The report site (`newsmon report`): pages, charts, JSON and Atom from a real store, and hostile articles.

The main fixture runs the real pipeline twice against the local news site (the seed article, then the
revision that raises the death toll), with a second article whose headline and body carry HTML, script,
template and javascript: payloads, then runs `newsmon report` as a user would.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import pytest
from pytest_httpserver import HTTPServer
from sites import Site, cli, revision
from typer.testing import CliRunner

from monitor.cli import app
from monitor.demo.site import ArticleText, load_seed, render_article_page
from monitor.models import Document
from monitor.normalise import fingerprint
from monitor.report.charts import chart, figure_series
from monitor.report.feeds import _entry_id, changes_atom, changes_json
from monitor.report.json_report import safe_json, safe_json_list
from monitor.report.render import environment, http_url, render
from monitor.report.site import FEED_ID, build_site
from monitor.report.timeline import article_key, build_timeline, sort_changes, source_slug
from monitor.store import CheckRecord, NewVersion, Store, open_store
from monitor.store.reporting import article_history, stored_articles

PAYLOAD = ('<img src=x onerror="window.__pwned=1"> <script>window.__pwned=1</script> '
           '<a href="javascript:window.__pwned=1">click</a> {{ config }}')
CHANGE_KEYS = {"url", "source", "title", "version", "previous_version", "time", "event", "diff"}
DIFF_KEYS = {"kind", "significance", "title", "figures", "added", "removed", "changed", "moved"}

runner = CliRunner()



def hostile_article(toll: int, headline: str) -> ArticleText:
    return ArticleText(
        title=f"{headline} {PAYLOAD}",
        standfirst=f"A standfirst with a payload: {PAYLOAD}",
        paragraphs=(f"Officials said at least {toll:,} people were killed in the storm on Tuesday.",
                    f"The page also says {PAYLOAD} in its body, which must stay text.",
                    "Rescue teams were still searching the coast for survivors late on Wednesday evening."))


@dataclass(frozen=True)
class CheckedSite:
    config: Path
    out: Path
    url: str              # the seed article, 1,000 -> 1,500
    hostile_url: str      # the article carrying payloads, 200 -> 300


def build_checked_site(site: Site, httpserver: HTTPServer, tmp_path: Path) -> CheckedSite:
    """Two checks of two articles through the real pipeline, then `newsmon report`."""
    url, hostile = httpserver.url_for("/world/story"), httpserver.url_for("/world/storm")
    config = tmp_path / "config.yaml"
    config.write_text(f"storage: snapshots/\nreports: reports/\nper_host_delay: 0\nsources:\n"
                      f"  - name: wire\n    urls: [{url}]\n  - name: local news\n    urls: [{hostile}]\n",
                      encoding="utf-8")
    site.publish("/world/story", render_article_page(load_seed(), variant=0))
    site.publish("/world/storm", render_article_page(hostile_article(200, "Storm hits coast"), variant=0))
    cli("check", "-c", str(config))
    site.publish("/world/story", render_article_page(revision("01_killed_figure_and_new_paragraph"), variant=1))
    site.publish("/world/storm", render_article_page(hostile_article(300, "Deadly storm hits coast"), variant=1))
    cli("check", "-c", str(config))
    output = cli("report", "-c", str(config))
    assert "index.html" in output
    return CheckedSite(config=config, out=tmp_path / "reports", url=url, hostile_url=hostile)


@pytest.fixture
def checked(site: Site, httpserver: HTTPServer, tmp_path: Path) -> CheckedSite:
    return build_checked_site(site, httpserver, tmp_path)


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# -- the pages -----------------------------------------------------------------------------------------

def test_report_files_are_readable_by_a_web_server(checked: CheckedSite) -> None:
    """Pages end with the mode of any file the process makes (0666 less the umask), not owner-only."""
    umask = os.umask(0o022)      # the umask can only be read by setting it
    os.umask(umask)
    expected = 0o666 & ~umask
    written = [p for p in checked.out.rglob("*") if p.is_file()]
    assert len(written) > 10
    assert {p.stat().st_mode & 0o777 for p in written} == {expected}


def test_index_lists_the_figure_change_with_csp(checked: CheckedSite) -> None:
    index = read(checked.out / "index.html")
    assert "at least 1,000" in index and "at least 1,500" in index
    assert "troops killed: at least 1,000 -&gt; at least 1,500" in index
    assert '<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;' in index
    assert f'href="articles/{article_key(checked.url)}.html#v2"' in index
    # Filters are pages, reachable without JavaScript.
    for page in ("changes-high.html", "changes-medium.html", "changes-low.html",
                 f"sources/{source_slug('wire')}.html", f"sources/{source_slug('local news')}.html"):
        assert (checked.out / page).is_file(), page
        assert f'"{page}"' in index or f'"{page.split("/")[-1]}"' in index
    wire = read(checked.out / "sources" / f"{source_slug('wire')}.html")
    assert "at least 1,500" in wire and "Storm hits coast" not in wire


def test_article_page_has_diff_marks_chart_and_versions(checked: CheckedSite) -> None:
    key = article_key(checked.url)
    page = read(checked.out / "articles" / f"{key}.html")
    assert "<del>1,000</del><ins>1,500</ins>" in page
    assert '<table class="sbs">' in page                  # the side-by-side view
    svg = re.search(r"<svg.*?</svg>", page, re.S)
    assert svg is not None and "<polyline" in svg.group(0)
    assert "at least 1,000" in svg.group(0) and "at least 1,500" in svg.group(0)
    for number in (1, 2):
        assert f'href="{key}-v{number}.html"' in page
        version = read(checked.out / "articles" / f"{key}-v{number}.html")
        assert "Content-Security-Policy" in version
        assert ("at least 1,500" in version) == (number == 2)


def test_headline_changes_come_first(checked: CheckedSite) -> None:
    page = read(checked.out / "articles" / f"{article_key(checked.hostile_url)}.html")
    assert page.index('id="headlines"') < page.index('id="figures"') < page.index('id="changes"')
    assert re.search(r"<del>Storm</del> ?<ins>Deadly( storm)? ?</ins>", page)


def test_changes_json_follows_the_contract(checked: CheckedSite) -> None:
    changes = json.loads(read(checked.out / "changes.json"))
    assert isinstance(changes, list) and len(changes) == 2
    for change in changes:
        assert change.keys() >= CHANGE_KEYS and change["diff"].keys() >= DIFF_KEYS
        datetime.fromisoformat(change["time"])
    story = next(c for c in changes if c["url"] == checked.url)
    assert (story["source"], story["event"], story["version"], story["previous_version"]) == ("wire", "modified", 2, 1)
    figure = next(f for f in story["diff"]["figures"] if f["old_value"] == 1000)
    assert (figure["new_value"], figure["qualifier_new"]) == (1500, "at least")
    per_source = json.loads(read(checked.out / "sources" / f"{source_slug('wire')}.json"))
    assert [c["url"] for c in per_source] == [checked.url]


def test_atom_feeds_parse_and_carry_the_diff(checked: CheckedSite) -> None:
    feed = feedparser.parse(str(checked.out / "changes.atom"))
    assert not feed.bozo, feed.get("bozo_exception")
    assert len(feed.entries) == 2
    entry = next(e for e in feed.entries if e.link == checked.url)
    assert "at least 1,000 -> at least 1,500" in entry.title
    content = entry.content[0]
    assert content.type == "text/html"
    assert "<del>1,000</del><ins>1,500</ins>" in content.value
    source_feed = feedparser.parse(str(checked.out / "sources" / f"{source_slug('wire')}.atom"))
    assert not source_feed.bozo and [e.link for e in source_feed.entries] == [checked.url]


def test_markdown_stays(checked: CheckedSite) -> None:
    markdown = read(checked.out / "changes.md")
    assert "troops killed: at least 1,000 -> at least 1,500" in markdown


def test_a_second_run_rewrites_nothing_that_did_not_change(checked: CheckedSite) -> None:
    version_page = checked.out / "articles" / f"{article_key(checked.url)}-v1.html"
    before = version_page.stat().st_mtime_ns
    cli("report", "-c", str(checked.config))
    assert version_page.stat().st_mtime_ns == before


# -- hostile articles ----------------------------------------------------------------------------------

def outputs(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file() and p.suffix in (".html", ".atom", ".json", ".md"))


# Every element the templates make; an article can add none. The browser test checks the same on the DOM.
OUR_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "nav", "div", "a", "strong", "span",
            "p", "main", "article", "h1", "h2", "h3", "ul", "li", "time", "ins", "del", "footer", "section",
            "figure", "svg", "line", "text", "polyline", "circle", "figcaption", "table", "thead", "tbody", "tr",
            "th", "td", "details", "summary"}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def assert_inert_html(text: str, where: str, allowed: frozenset[str] | set[str] = OUR_TAGS) -> None:
    """Parsed as a browser would: only our elements, no event handler, no link that is not http(s) or ours."""
    parser = _Elements()
    parser.feed(text)
    parser.close()
    for tag, attrs in parser.found:
        assert tag in allowed, f"{where}: <{tag}> was created"
        for name, value in attrs:
            assert not name.startswith("on"), f"{where}: <{tag} {name}=...>"
            if name in ("href", "src", "action", "xlink:href"):
                assert not re.match(r"\s*(javascript|data|vbscript):", value or "", re.I), f"{where}: {value}"


def assert_inert(path: Path) -> None:
    text, where = read(path), str(path)
    if path.suffix == ".html":
        assert_inert_html(text, where)
    elif path.suffix == ".atom":
        root = ElementTree.fromstring(text.encode("utf-8"))
        for element in root.iter():
            assert element.tag.startswith("{http://www.w3.org/2005/Atom}"), f"{where}: {element.tag}"
            assert not any(name.lower().startswith("on") for name in element.attrib), where
            if element.tag.endswith("}link"):
                assert http_url(element.attrib["href"]), where
            if element.tag.endswith("}content"):
                assert_inert_html(element.text or "", where)         # the HTML a feed reader will render
    elif path.suffix == ".json":
        assert "<" not in text and ">" not in text, where
    else:                                                             # Markdown: autolinks <http...> only
        assert not re.search(r"<(?!https?://)", text), where
        assert "](javascript" not in text.lower(), where


def test_hostile_article_is_text_everywhere(checked: CheckedSite) -> None:
    store = open_store(f"sqlite:///{checked.config.parent / 'snapshots' / 'newsmon.db'}")
    try:
        stored = store.latest_version(checked.hostile_url)
    finally:
        store.close()
    assert stored is not None and "<img src=x onerror=" in stored.title and "{{ config }}" in stored.text
    files = outputs(checked.out)
    assert len(files) >= 12
    for path in files:
        assert_inert(path)
    page = read(checked.out / "articles" / f"{article_key(checked.hostile_url)}.html")
    assert "&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt;" in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "{{ config }}" in page                                   # printed, never evaluated
    # JSON: the same characters after parsing, none raw in the file.
    changes = json.loads(read(checked.out / "changes.json"))
    hostile = next(c for c in changes if c["url"] == checked.hostile_url)
    assert PAYLOAD in hostile["title"] and "<" not in read(checked.out / "changes.json")
    # Atom: text after parsing, escaped twice in the file.
    entry = next(e for e in feedparser.parse(str(checked.out / "changes.atom")).entries
                 if e.link == checked.hostile_url)
    assert "&lt;img src=x" in entry.content[0].value and "<img" not in entry.content[0].value
    assert "<img src=x" in entry.title           # a text construct: readers show it as text
    markdown = read(checked.out / "changes.md")
    assert "&lt;img src=x" in markdown and "&lt;script" in markdown


def record(store: Store, url: str, source: str, title: str, text: str, when: datetime, *,
           outcome: str = "modified", final_url: str | None = None) -> None:
    document = Document(title=title, text=text, url=final_url)
    store.record(url, source, CheckRecord(when, outcome, 200, final_url=final_url),
                 new_version=NewVersion(document, b"<html></html>", fingerprint(title, text), when))


T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def test_hostile_urls_and_source_names_never_become_links_or_paths(tmp_path: Path) -> None:
    url = 'https://example.com/a"><script>window.__pwned=1</script>/../../../etc/passwd'
    source = '../<b onmouseover="x">evil</b> & co'
    with open_store(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        for n, toll in enumerate((10, 20)):
            record(store, url, source, f"Quake {PAYLOAD}", f"At least {toll} people died. {PAYLOAD}",
                   T0 + timedelta(hours=n), outcome="new" if n == 0 else "modified",
                   final_url="javascript:window.__pwned=1")
        report = build_site(store, tmp_path / "out", since=None, generated_at=T0 + timedelta(hours=3))
    assert report.changes == 1
    names = {p.relative_to(tmp_path / "out").as_posix() for p in outputs(tmp_path / "out")}
    assert all(re.fullmatch(r"[a-z0-9./-]+", name) for name in names), names
    for path in outputs(tmp_path / "out"):
        assert_inert(path)


def test_http_url_filter() -> None:
    assert http_url("https://example.com/a?b=1") == "https://example.com/a?b=1"
    assert http_url("HTTP://example.com/") == "HTTP://example.com/"
    for bad in ("javascript:alert(1)", " javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x",
                "file:///etc/passwd", "//example.com/", "/relative", "https://", "https://a b/",
                'https://example.com/"onmouseover="x', "https://example.com/\x00", None, 42):
        assert http_url(bad) is None, bad


def test_every_template_is_autoescaped_whatever_its_name() -> None:
    env = environment()
    assert env.autoescape is True
    names = env.list_templates()
    assert {"chart.svg.j2", "entry.html.j2", "index.html.j2"} & set(names)
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


# -- figures, events, windows --------------------------------------------------------------------------

def test_a_figure_is_chained_across_versions(store: Store) -> None:
    texts = ["At least 1,000 soldiers were killed, officials said on Monday.",
             "At least 1,500 soldiers were killed, officials said on Monday.",
             "At least 1,500 soldiers were killed, officials said on Monday. A ceasefire was proposed.",
             "At least 2,000 soldiers were killed, officials said on Monday. A ceasefire was proposed."]
    for n, text in enumerate(texts):
        record(store, "https://example.com/war", "wire", "War", text, T0 + timedelta(hours=n),
               outcome="new" if n == 0 else "modified")
    history = article_history(store, "https://example.com/war")
    assert history is not None
    timeline = build_timeline(history)
    [series] = figure_series(timeline)
    assert [(p.version, p.value) for p in series.points] == [(1, 1000), (2, 1500), (3, 1500), (4, 2000)]
    drawn = chart(series, [v.number for v in timeline.versions])
    assert len(drawn.points) == 4 and drawn.polyline.count(",") == 4
    assert drawn.points[0].y > drawn.points[1].y > drawn.points[3].y      # higher values are drawn higher
    assert [label for _, label in drawn.ticks] == ["v1", "v2", "v3", "v4"]


def test_take_down_and_return_come_from_the_checks(store: Store, tmp_path: Path) -> None:
    url = "https://example.com/pulled"
    record(store, url, "wire", "Story", "At least 5 people were hurt.", T0, outcome="new")
    store.record(url, "wire", CheckRecord(T0 + timedelta(hours=1), "removed", 404), gone=True)
    store.record(url, "wire", CheckRecord(T0 + timedelta(hours=2), "restored", 200), gone=False)
    build_site(store, tmp_path / "out", since=None, generated_at=T0 + timedelta(hours=3))
    changes = json.loads(read(tmp_path / "out" / "changes.json"))
    assert [(c["event"], c["significance"], c["diff"]) for c in changes] == [
        ("removed", "high", None), ("restored", "medium", None)]
    assert "Article taken down" in read(tmp_path / "out" / "index.html")
    assert not feedparser.parse(str(tmp_path / "out" / "changes.atom")).bozo


def test_feeds_sharing_their_items_are_the_feeds_made_alone(store: Store, tmp_path: Path) -> None:
    """A change's Atom content and JSON item are made once per build for the site's feeds and its source's:
    each feed must read as if made on its own."""
    for n, (source, url) in enumerate((("wire", "https://e.com/a"), ("wire", "https://e.com/b"),
                                       ("local <b>&</b>", "https://e.com/c?x=<1>&y=2"))):
        record(store, url, source, f"Storm {n} <i>&amp;</i>", "At least 10 died.", T0, outcome="new")
        record(store, url, source, f"Storm {n} <i>&amp;</i>", f"At least {12 + n} died & <b>more</b>.",
               T0 + timedelta(hours=1 + n))
    store.record("https://e.com/a", "wire", CheckRecord(T0 + timedelta(hours=5), "removed", 404), gone=True)
    now = T0 + timedelta(hours=6)
    build_site(store, tmp_path / "out", since=None, generated_at=now)
    changes = sort_changes(c for url, source in stored_articles(store)
                           for c in build_timeline(article_history(store, url)).changes)  # type: ignore[arg-type]
    assert len(changes) == 4
    assert read(tmp_path / "out" / "changes.json") == changes_json(changes)
    assert read(tmp_path / "out" / "changes.atom") == changes_atom(
        changes, title="newsmon: changes", feed_id=FEED_ID, generated_at=now)
    for name in ("wire", "local <b>&</b>"):
        own = [c for c in changes if c.source == name]
        slug = source_slug(name)
        assert read(tmp_path / "out" / "sources" / f"{slug}.json") == changes_json(own)
        assert read(tmp_path / "out" / "sources" / f"{slug}.atom") == changes_atom(
            own, title=f"newsmon: {name}", feed_id=f"{FEED_ID}:source:{slug}", generated_at=now)
    # Each item is its own change's, whichever feed made it first.
    wire = [c for c in changes if c.source == "wire"]
    for feed, own in (("changes", changes), (f"sources/{source_slug('wire')}", wire)):
        items = json.loads(read(tmp_path / "out" / f"{feed}.json"))
        assert items == json.loads(json.dumps([c.to_dict() for c in own]))
        atom = "{http://www.w3.org/2005/Atom}"
        entries = ElementTree.parse(tmp_path / "out" / f"{feed}.atom").getroot().iter(f"{atom}entry")
        contents = {entry.findtext(f"{atom}id"): entry.findtext(f"{atom}content") for entry in entries}
        assert contents == {_entry_id(c): render("entry.html.j2", change=c) for c in own}
    values = [{"a": "<b>&</b>"}, {"b": [1, None]}]
    assert safe_json_list([json.dumps(v, ensure_ascii=False) for v in values]) == safe_json(values)
    assert safe_json_list([]) == safe_json([]) == "[]\n"


def test_since_limits_the_window_and_order_is_by_significance(store: Store, tmp_path: Path) -> None:
    # An old figure change, a recent wording change, a recent figure change.
    for url, old, new, at in (("https://e.com/old", "At least 10 died.", "At least 12 died.", T0),
                              ("https://e.com/words", "The mayor spoke on Monday evening.",
                               "The mayor spoke briefly on Monday evening.", T0 + timedelta(days=3)),
                              ("https://e.com/toll", "At least 40 died.", "At least 45 died.",
                               T0 + timedelta(days=2))):
        record(store, url, "wire", url, old, at - timedelta(hours=1), outcome="new")
        record(store, url, "wire", url, new, at)
    build_site(store, tmp_path / "out", since=T0 + timedelta(days=1), generated_at=T0 + timedelta(days=4))
    changes = json.loads(read(tmp_path / "out" / "changes.json"))
    assert [c["url"] for c in changes] == ["https://e.com/toll", "https://e.com/words"]
    assert not (tmp_path / "out" / "articles" / f"{article_key('https://e.com/old')}.html").exists()


def test_report_command_rejects_a_bad_since(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--since", "soon", "-c", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and "--since" in result.stderr


def test_report_command_with_out_and_since(site: Site, httpserver: HTTPServer, tmp_path: Path) -> None:
    checked = build_checked_site(site, httpserver, tmp_path)
    output = cli("report", "-c", str(checked.config), "--out", str(tmp_path / "elsewhere"), "--since", "1h")
    assert "2 changes in 2 articles" in output
    assert json.loads(read(tmp_path / "elsewhere" / "changes.json"))


def test_every_link_between_pages_resolves(checked: CheckedSite) -> None:
    """Relative links (filters, articles, versions, feeds, anchors) all lead to a generated file and id."""
    pages = sorted(checked.out.rglob("*.html"))
    ids: dict[Path, set[str]] = {}
    links: list[tuple[Path, str]] = []
    for page in pages:
        parser = _Elements()
        parser.feed(read(page))
        ids[page.resolve()] = {value or "" for _, attrs in parser.found for name, value in attrs if name == "id"}
        links += [(page, value or "") for tag, attrs in parser.found if tag == "a"
                  for name, value in attrs if name == "href"]
    assert links
    for page, href in links:
        if http_url(href):
            continue
        target, _, fragment = href.partition("#")
        path = (page.parent / target).resolve() if target else page.resolve()
        assert path.is_file() and path.is_relative_to(checked.out.resolve()), f"{page}: {href}"
        if fragment and path.suffix == ".html":
            assert fragment in ids[path], f"{page}: {href}"
