"""Hostile article text in every output (issue #6, part 2): one article, three versions, every command.

The article's headline, body and URL query carry HTML (``<script>``, ``<img onerror>``), ``javascript:``
links, template syntax (``{{ config }}``, ``{% raw %}``), rich markup (``[bold]``, ``[link=...]``) and a
control character; it is checked through the real pipeline (``newsmon check``, a loopback site, a loopback
web hook), changed twice, then read back through ``show``, ``history``, ``--format json``, the run's
Markdown report, ``newsmon report`` (HTML, ``changes.md``, ``changes.json``, ``changes.atom``) and the web
hook's messages. Text outputs must print it literally, HTML and Markdown must carry it as inert text, JSON
and Atom must give the same characters back after parsing, and no file name may be made of the URL.

The site's own hostile-article checks (tests/test_report_site.py) cover the report pages in depth; their
``assert_inert`` is reused here for every file this run writes.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import feedparser
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from pytest_httpserver import HTTPServer
from rich.console import Console
from sites import Site, cli
from test_report_site import assert_inert, assert_inert_html, outputs
from werkzeug import Request, Response

from monitor.diff import diff_texts
from monitor.models import Document
from monitor.report.markdown import md_text
from monitor.terminal import print_diff_details, print_document

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
JS_LINK = "javascript:alert(1)"
TEMPLATE = "{{ config }} {% raw %}"
MARKUP = "[bold]loud[/bold] [link=javascript:alert(1)]click[/link]"
PAYLOADS = (SCRIPT, IMG, JS_LINK, "{{ config }}", "{% raw %}", "[bold]loud[/bold]")
QUERY = "?q=<script>alert(1)</script>&next=javascript:alert(1)&t={{config}}&r={%raw%}"   # no spaces: a URL




def headline(version: int) -> str:
    words = {1: "Storm hits coast", 2: "Deadly storm hits coast", 3: "Deadly storm hits the coast"}[version]
    return f"{words} {MARKUP} {SCRIPT} {IMG} {TEMPLATE}"


def page(version: int) -> str:
    """The article as its site serves it: the payloads escaped as text, plus live markup that must go."""
    toll = {1: 200, 2: 300, 3: 400}[version]
    title = html.escape(headline(version))
    extra = (f"<p>A reader wrote in to say {html.escape(SCRIPT)} and {html.escape(TEMPLATE)} were in the "
             f"comments, and that {html.escape(MARKUP)} showed up as well.</p>") if version >= 2 else ""
    return (f"<html><head><title>{title}</title><meta property='og:title' content=\"{title}\"></head><body>"
            f"<script>alert(1)</script><article><h1>{title}</h1>"
            f"<p>Officials said at least {toll} people were killed in the storm on Tuesday, {html.escape(IMG)} "
            f"according to the coastguard.</p>"
            f"<p>The page also says {html.escape(SCRIPT)} and {html.escape(TEMPLATE)} in its body, with a "
            f"<a href=\"javascript:alert(1)\">{html.escape(JS_LINK)} link</a> that must stay text.</p>{extra}"
            f"<p>Rescue teams were still searching the coast for survivors late on Wednesday evening, "
            f"the regional governor told reporters in a short statement.</p>"
            f"<img src=x onerror=alert(1)></article></body></html>")


MARKDOWN_TAGS = {"h1", "h2", "h3", "p", "ul", "li", "strong", "em", "a", "code", "br"}


@dataclass
class Run:
    config: Path
    reports: Path
    url: str
    check_text: list[str]        # stdout of the text-format checks (new, then modified)
    check_json: dict             # the --format json line of the first modification
    hooks: list[bytes]           # raw bodies the web hook received
    site: Site


@pytest.fixture
def run(site: Site, httpserver: HTTPServer, tmp_path: Path) -> Run:
    hooks: list[bytes] = []

    def hook(request: Request) -> Response:
        hooks.append(request.get_data())
        return Response("ok")

    for _ in range(2):             # one-shot handlers are matched before the site's catch-all
        httpserver.expect_oneshot_request("/hook", method="POST").respond_with_handler(hook)
    url = httpserver.url_for("/world/storm") + QUERY
    config = tmp_path / "config.yaml"
    config.write_text(
        "storage: snapshots/\nreports: reports/\nper_host_delay: 0\n"
        f"sources:\n  - name: local news\n    urls: [{json.dumps(url)}]\n"
        f"notify:\n  - url: {httpserver.url_for('/hook')}\n    min_significance: low\n", encoding="utf-8")
    site.publish("/world/storm", page(1))
    texts = [cli("check", "-c", str(config))]
    site.publish("/world/storm", page(2))
    [line] = [json.loads(x) for x in cli("check", "-c", str(config), "--format", "json").splitlines() if x.strip()]
    site.publish("/world/storm", page(3))
    texts.append(cli("check", "-c", str(config)))
    return Run(config, tmp_path / "reports", url, texts, line, hooks, site)


def test_terminal_output_prints_the_article_literally(run: Run) -> None:
    """check, show and history print rich markup and HTML as the characters they are, and no escape."""
    new, modified = run.check_text
    assert "new" in new and run.url in new
    assert "modified" in modified and "at least 300 -> at least 400" in modified
    assert "headline rewritten" in modified and MARKUP in modified     # markup printed, not applied
    assert SCRIPT in modified and "{{ config }}" in modified
    shown = cli("show", run.url, "-c", str(run.config))
    assert headline(3) in shown and "at least 400 people" in shown
    history = cli("history", run.url, "-c", str(run.config))
    assert [line.count(MARKUP) for line in history.splitlines() if line.strip()] == [1, 1, 1]
    for text in (new, modified, shown, history):
        assert "\x1b" not in text


_UNSAFE_IN_TERMINAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@given(st.text(), st.text())
def test_no_article_text_reaches_the_terminal_as_a_control_character(title: str, text: str) -> None:
    buffer = StringIO()
    print_document(Console(file=buffer, force_terminal=True, width=80), Document(title=title, text=text))
    printed = re.sub(r"\x1b\[[0-9;]*m", "", buffer.getvalue())      # rich's own styles (bold) removed
    assert not _UNSAFE_IN_TERMINAL.search(printed.replace("\r\n", "\n"))


def test_terminal_output_drops_control_characters_from_article_text() -> None:
    """Text files given to ``newsmon diff`` (or a store written by anything) may carry terminal escapes:
    an article must not move the cursor, retitle the window or plant a hyperlink."""
    evil = "Officials said 12 people died \x1b[2J\x1b]8;;https://evil.example/\x1b\\here\x1b]8;;\x1b\\ \u202egnp.exe"
    diff = diff_texts("Officials said 10 people died.", evil)
    buffer = StringIO()
    print_diff_details(Console(file=buffer, force_terminal=False, width=200), diff)
    printed = buffer.getvalue()
    assert "12" in printed and "gnp.exe" in printed
    assert not _UNSAFE_IN_TERMINAL.search(printed)


def test_json_lines_carry_the_strings_verbatim(run: Run) -> None:
    event = run.check_json
    assert event["url"] == run.url and event["title"] == headline(2)
    diff = event["diff"]
    assert diff["title"] == {"old": headline(1), "new": headline(2)}
    assert any(SCRIPT in s and "{{ config }}" in s and MARKUP in s for s in diff["added"])
    [figure] = diff["figures"]
    assert (figure["old_value"], figure["new_value"]) == (200, 300) and IMG in figure["new_sentence"]
    # The run's JSON reports: the same strings after parsing, no "<" or ">" in the file.
    for report in [*sorted(run.reports.glob("check-*.json")), run.reports / "latest.json"]:
        assert_inert(report)
    [latest] = json.loads((run.reports / "latest.json").read_text(encoding="utf-8"))["changes"]
    assert (latest["url"], latest["title"]) == (run.url, headline(3))


def test_markdown_run_reports_are_inert(run: Run) -> None:
    reports = sorted(run.reports.glob("check-*.md")) + [run.reports / "latest.md"]
    assert len(reports) == 4
    for report in reports:
        assert_inert(report)
        # Rendered as a chat client or a Markdown viewer would (raw HTML allowed, links recognised).
        rendered = MarkdownIt("commonmark").enable("linkify").render(report.read_text(encoding="utf-8"))
        assert_inert_html(rendered, str(report), allowed=MARKDOWN_TAGS)
    latest = (run.reports / "latest.md").read_text(encoding="utf-8")
    assert md_text(headline(3)) in latest                        # the headline, as inert text
    assert "<script" not in latest and "<img" not in latest and "](javascript" not in latest.lower()
    assert "{{ config }}" in latest                              # printed, never evaluated
    assert not re.search(r"<(?!https?://)", latest)              # autolinks only; the hostile URL is none
    assert f"<{run.url}>" not in latest


def test_the_report_site_feed_and_markdown_carry_the_payload_as_text(run: Run) -> None:
    cli("report", "-c", str(run.config))
    files = outputs(run.reports)
    assert any(p.name == "changes.atom" for p in files)
    for path in files:
        assert_inert(path)
    feed = feedparser.parse(str(run.reports / "changes.atom"))
    assert not feed.bozo, feed.get("bozo_exception")
    entries = [e for e in feed.entries if headline(3) in e.title]
    assert entries
    for entry in entries:
        content = entry.content[0].value                         # the HTML a reader renders
        assert_inert_html(content, "changes.atom entry")
        assert html.escape(SCRIPT, quote=False) in content and "{{ config }}" in content
    changes = json.loads((run.reports / "changes.json").read_text(encoding="utf-8"))
    assert {c["title"] for c in changes} >= {headline(2), headline(3)}
    assert all(c["url"] == run.url for c in changes)
    markdown = (run.reports / "changes.md").read_text(encoding="utf-8")
    assert md_text(headline(2)) in markdown and "<script" not in markdown


def test_web_hook_messages_are_json_data_not_markup(run: Run) -> None:
    assert len(run.hooks) == 2                                   # the two modifications, nothing else
    assert [r for r in run.site.requests if r.method == "POST"] == []
    for raw in run.hooks:
        assert b"<" not in raw and b">" not in raw              # \u escapes: inert even if shown as HTML
        message = json.loads(raw)
        assert message["url"] == run.url and message["event"] == "modified"
        assert message["title"].startswith(headline(2)) or message["title"].startswith(headline(3))
        assert MARKUP in message["title"] and SCRIPT in message["title"]
        assert "headline rewritten" in message["body"]
        assert message["diff"]["title"]["new"] in (headline(2), headline(3))


# Every name a report file may have: fixed names, run times, hashes and slugs made of the source name.
_ALLOWED_NAMES = re.compile(
    r"(latest|check-\d{8}T\d{6}(\d+)?Z?(-\d+)?)\.(md|json)"
    r"|index\.html|changes(-(high|medium|low))?\.html|changes\.(json|atom|md)"
    r"|sources/[a-z0-9-]+-[0-9a-f]{6,}\.(html|atom|json)"
    r"|articles/[0-9a-f]{12,}(-v\d+)?\.html"
    r"|\.newsmon-cache/[0-9a-f]{12,}\.json"
    r"|stories\.html|stories/\d+\.html")


def test_no_report_file_is_named_after_the_url(run: Run) -> None:
    cli("report", "-c", str(run.config))
    names = sorted(p.relative_to(run.reports).as_posix() for p in run.reports.rglob("*") if p.is_file())
    assert names
    for name in names:
        assert _ALLOWED_NAMES.fullmatch(name), name
        assert not re.search(r"storm|world|script|alert|config|javascript", name, re.I), name


_MARKDOWNISH = st.lists(st.sampled_from(["<", ">", "&", "&amp;", "&#60;", "`", "``", "*", "_", "~~", "[", "]", "(", ")",
                                         "!", "|", "\\", "#", "-", "+", "1.", " ", "\n", "\n\n", "    ", "http://x.y",
                                         "javascript:alert(1)", "<script>", "<img src=x onerror=alert(1)>", "<!--",
                                         "]: /x", "{{ config }}", "a", "b", "\u00a0", "\x00"]),
                        max_size=30).map("".join)


@given(st.one_of(st.text(), _MARKDOWNISH))
def test_md_text_is_inert_for_any_text(text: str) -> None:
    """Whatever the article says, a line of the Markdown report renders as that line of text: no element,
    no link, no emphasis, no raw HTML (the one place each report line puts article text: after a prefix)."""
    rendered = MarkdownIt("commonmark").render(f"- added: {md_text(text)}\n")
    assert_inert_html(rendered, "markdown", allowed={"ul", "li"})
    assert "\n" not in md_text(text)
