"""``changes.json`` and ``changes.atom``: the site's changes for programs and feed readers.

JSON is the contract's diff object with url, source, title, versions and time, one item per change. It
is written with ``<``, ``>`` and ``&`` as \\u escapes: the same data after ``json.loads``, but a file that
is inert even if some server or viewer mistakes it for HTML.

Atom is made with feedgen. Each entry carries the diff as HTML (figures, headline, word marks) rendered
by the autoescaped templates and then escaped once more as ``type="html"`` content, so a feed reader
gets the markup of the diff and only text from the article.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime

from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]

from ..summary import describe_diff, describe_event
from .json_report import safe_json_list
from .render import http_url, render
from .timeline import Change

__all__ = ["MAX_FEED_ENTRIES", "FeedItems", "changes_atom", "changes_json"]

# Feed readers poll the whole file; the newest changes are what they need.
MAX_FEED_ENTRIES = 200

# Characters XML 1.0 cannot carry at all (lxml refuses them): C0 controls but tab, newline, carriage
# return; lone surrogates; U+FFFE and U+FFFF. An article may contain them; a feed must still be written.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


class FeedItems:
    """Each change as the feeds carry it, made once and shared by the feeds that list it: the site's and its
    source's. Rendering the entries' HTML and encoding the JSON items is most of what the feeds cost.
    Changes are told apart by identity: the object must outlive the changes it was given (one build)."""

    def __init__(self) -> None:
        self._json: dict[int, str] = {}
        self._content: dict[int, str] = {}

    def json(self, change: Change) -> str:
        """The change's item of changes.json, as JSON text."""
        if id(change) not in self._json:
            self._json[id(change)] = json.dumps(change.to_dict(), ensure_ascii=False)
        return self._json[id(change)]

    def content(self, change: Change) -> str:
        """The HTML content of the change's Atom entry."""
        if id(change) not in self._content:
            self._content[id(change)] = _xml_text(render("entry.html.j2", change=change))
        return self._content[id(change)]


def changes_json(changes: Sequence[Change], items: FeedItems | None = None) -> str:
    items = items or FeedItems()
    return safe_json_list([items.json(change) for change in changes])


def _entry_id(change: Change) -> str:
    # A tag-like URN per change: stable across report runs, so readers do not show an entry twice.
    if change.event in ("removed", "restored") and change.diff is None:
        return f"urn:newsmon:{change.key}:{change.event}:{change.time.strftime('%Y%m%dT%H%M%S%f')}"
    return f"urn:newsmon:{change.key}:v{change.version}"


def _entry_title(change: Change) -> str:
    """The headline, then what changed in a few words: the headline's old and new text are in the content."""
    if change.diff is None:
        summary = describe_event(change.to_event())
    else:
        lines = ["headline rewritten" if line.startswith("headline rewritten") else line
                 for line in describe_diff(change.diff)]
        summary = "; ".join(lines[:4]) or change.event
    return f"{change.title} ({summary})"


def changes_atom(changes: Sequence[Change], *, title: str, feed_id: str, generated_at: datetime,
                 items: FeedItems | None = None) -> str:
    """An Atom feed of ``changes``, newest first (at most MAX_FEED_ENTRIES)."""
    items = items or FeedItems()
    feed = FeedGenerator()
    feed.id(feed_id)
    feed.title(_xml_text(title))
    feed.author({"name": "newsmon"})
    feed.generator("newsmon")
    newest = sorted(changes, key=lambda c: c.time, reverse=True)[:MAX_FEED_ENTRIES]
    feed.updated(newest[0].time if newest else generated_at)
    for change in newest:
        entry = feed.add_entry(order="append")
        entry.id(_entry_id(change))
        entry.title(_xml_text(_entry_title(change)))
        entry.updated(change.time)
        entry.category(term=_xml_text(change.source))
        link = http_url(change.url)
        if link is not None:
            entry.link(href=link, rel="alternate")
        entry.content(items.content(change), type="html")
    return feed.atom_str(pretty=True).decode("utf-8")
