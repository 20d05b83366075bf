"""monitor.metadata: title, byline and dates read from JSON-LD, meta tags and the page.

How ``extract`` carries them into a Document (and drops a first line repeating them) is tested in
test_extract.py.
"""

from __future__ import annotations

import pytest
from trafilatura.utils import load_html

from monitor.metadata import PageMetadata, read_metadata

STORY = "<p>All ferry crossings to the islands were cancelled on Tuesday as the storm moved north.</p>"


def page(head: str, body: str) -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def metadata(html: str) -> PageMetadata:
    return read_metadata(load_html(html))  # the parser extract() uses


@pytest.mark.parametrize(("head", "body", "title"), [
    ("<title>Ferry services cut as storm approaches | BBC News</title>", STORY,
     "Ferry services cut as storm approaches"),
    ("<title>Ferry services cut as storm approaches - Reuters</title>", STORY,
     "Ferry services cut as storm approaches"),
    ('<title>Coastal Times</title><meta property="og:title" content="Ferry services cut">',
     '<h1 class="logo">Coastal Times</h1><article><h1>Ferry services cut</h1>' + STORY + "</article>",
     "Ferry services cut"),
    ("<title>Storm latest - what we know | Coastal Times</title>",
     "<article><h1>Storm latest - what we know</h1>" + STORY + "</article>", "Storm latest - what we know"),
])
def test_title_without_site_name(head: str, body: str, title: str) -> None:
    assert metadata(page(head, body)).title == title


def test_metadata_from_json_ld_graph_and_rfc_2822_dates() -> None:
    head = ('<script type="application/ld+json">{"@graph": [{"@type": "WebSite", "name": "Times"}, '
            '{"@type": ["NewsArticle"], "headline": "Ferry services cut", "author": {"name": "By Jo Ng"}, '
            '"dateModified": "Tue, 04 Mar 2025 10:00:00 +0000"}]}</script>'
            '<meta property="article:published_time" content="2025-03-04T07:15:00+00:00">')
    meta = metadata(page(head, "<article><h1>Ferry services cut</h1>" + STORY + "</article>"))
    assert (meta.title, meta.byline) == ("Ferry services cut", "Jo Ng")
    assert (meta.published, meta.modified) == ("2025-03-04T07:15:00+00:00", "2025-03-04T10:00:00+00:00")

