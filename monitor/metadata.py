"""Parsed page -> PageMetadata: the title, byline, dates, canonical URL and description of an article.

Read from the parsed tree in one pass (JSON-LD, meta tags, <h1>, <title>) rather than with trafilatura's
``extract_metadata``, which measured about 20 ms a page (htmldate, dateparser): as much again as the
extraction. JSON-LD comes first (article types before the rest), then meta tags, then the page itself
(a byline element); the title is the page's <h1> once it agrees with a declared title. Pure: no I/O, no
clock, no state between calls.

``collapse`` and ``line_key`` are the text helpers shared with ``monitor.extract``, which compares the
first lines of a body with the title and byline read here.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from lxml.html import HtmlElement

__all__ = ["PageMetadata", "read_metadata"]


def collapse(text: str) -> str:
    """Runs of whitespace as one space, none at either end."""
    return " ".join(text.split())


def line_key(text: str) -> str:
    """For comparing lines: words only, case-folded."""
    return re.sub(r"\W+", " ", text).strip().casefold()


_ARTICLE_TYPES = frozenset({"newsarticle", "article", "reportagenews", "analysisnewsarticle", "blogposting",
                            "liveblogposting", "opinionnewsarticle", "reviewnewsarticle", "report",
                            "backgroundnewsarticle", "techarticle", "scholarlyarticle", "socialmediaposting"})
_TITLE_PARTS = re.compile(r"\s+(?:\||-|–|—|::|·|•|»|/)\s+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
_BY = re.compile(r"^(?:written\s+)?by[:\s]+", re.I)
_PUBLISHED = ("article:published_time", "og:article:published_time", "datepublished", "pubdate",
              "publishdate", "publish-date", "parsely-pub-date", "sailthru.date", "dc.date.issued",
              "dcterms.created", "dc.date", "date")
_MODIFIED = ("article:modified_time", "og:article:modified_time", "og:updated_time", "datemodified",
             "last-modified", "dcterms.modified")
_AUTHOR = ("author", "article:author", "byl", "parsely-author", "sailthru.author", "dc.creator")
# Bylines in the page, best first: a name marked as the author, then a byline block (may hold a date).
_BYLINE_XPATHS = ('(//*[@rel="author" or @itemprop="author"])[1]', '(//*[contains(@class, "byline")])[1]')


@dataclass(frozen=True)
class PageMetadata:
    """What a page says about its article. ``title`` is "" when the page declares none; dates are ISO 8601
    as written in the page (RFC 2822 dates converted); ``byline`` is the authors' names, comma-separated."""

    title: str
    byline: str | None
    published: str | None
    modified: str | None
    url: str | None          # <link rel="canonical">, else og:url
    description: str | None  # og:description, else <meta name="description">


def _json_ld(scripts: list[str]) -> list[dict[str, Any]]:
    """Every JSON-LD object of the page (through lists and @graph), article types first."""
    found: list[dict[str, Any]] = []
    for script in scripts:
        try:
            stack: list[Any] = [json.loads(script)]
        except ValueError:  # broken JSON-LD is common; the meta tags usually carry the same values
            continue
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                found.append(item)
                stack.extend(v for k, v in item.items() if k == "@graph")

    def is_article(obj: dict[str, Any]) -> bool:
        kinds = obj.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        return any(isinstance(k, str) and k.lower() in _ARTICLE_TYPES for k in kinds)

    return sorted(found, key=lambda obj: not is_article(obj))


def _names(value: Any) -> list[str]:
    """JSON-LD author or publisher: a string, a Person/Organization, or a list of either."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return _names(value.get("name"))
    return [name for item in value for name in _names(item)] if isinstance(value, list) else []


def _date(value: Any) -> str | None:
    """An ISO 8601 date or datetime as written in the page; RFC 2822 dates converted; else None."""
    if not isinstance(value, str):
        return None
    if match := _ISO_DATE.match(value.strip()):
        return match.group(0)
    try:
        return parsedate_to_datetime(value.strip()).isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def _strip_site(title: str, sites: set[str]) -> str:
    """Remove a site name around a headline: "Headline | BBC News", "X - Reuters", "BBC News - X"."""
    parts = _TITLE_PARTS.split(title)
    while len(parts) > 1 and (line_key(parts[-1]) in sites or len(parts[-1].split()) <= 4):
        parts.pop()  # a short last part is a site name ("Reuters", "The Daily Ledger")
    if len(parts) > 1 and line_key(parts[0]) in sites:
        parts.pop(0)
    # cut the original string, so that separators inside the headline itself survive
    return title[title.index(parts[0]):title.rindex(parts[-1]) + len(parts[-1])].strip()


def _title(headings: list[str], declared: list[str | None], sites: set[str]) -> str:
    """The page's own <h1> once it agrees with a declared title (og:title, JSON-LD headline, <title>),
    so that a site logo in an <h1> is never taken; else the first declared title without its site name."""
    raw = [collapse(t) for t in declared if t and t.strip()]
    stripped = [_strip_site(t, sites) for t in raw]
    for heading in filter(None, headings):
        h = line_key(heading)
        for full, short in zip(map(line_key, raw), map(line_key, stripped), strict=True):
            # one holds the other, and they are of a size or the <h1> is in the full declared title
            # (which stripping may have cut short: "Rates - what next | Site")
            if (short in h or h in short) and (2 * min(len(h), len(short)) >= max(len(h), len(short))
                                               or h in full):
                return heading
    return next(iter(stripped), next(filter(None, headings), ""))


def read_metadata(tree: HtmlElement) -> PageMetadata:
    """The metadata of a parsed page (an lxml.html tree, e.g. from trafilatura's ``load_html``).

    Reads the tree without changing it; call it before pruning the tree for body extraction.
    """
    # One pass over the tags that carry metadata: XPath look-ups by attribute over the whole tree cost
    # 0.3-1.5 ms each, this pass about 0.3 ms for all of them.
    meta: dict[str, str] = {}
    scripts: list[str] = []
    headings: list[tuple[bool, str]] = []
    page_title: str | None = None
    for element in tree.iter("meta", "script", "h1", "title", "link", "time"):
        tag = element.tag
        if tag in ("meta", "time"):
            name = (element.get("property") or element.get("name") or element.get("itemprop") or "").lower()
            content = (element.get("content") if tag == "meta" else element.get("datetime")) or ""
            if name and content.strip():
                meta.setdefault(name, content.strip())
        elif tag == "script" and element.get("type", "").strip().lower() == "application/ld+json":
            scripts.append(element.text or "")
        elif tag == "h1" and len(headings) < 5:
            outside = next(element.iterancestors("article"), None) is None
            headings.append((outside, collapse(element.text_content())))
        elif tag == "title" and page_title is None and next(element.iterancestors("svg"), None) is None:
            page_title = element.text_content()
        elif tag == "link" and "canonical" in element.get("rel", "").lower().split():
            meta.setdefault("canonical", element.get("href", "").strip())
    ld = _json_ld(scripts)

    def date(ld_key: str, meta_keys: Sequence[str]) -> str | None:
        values = itertools.chain((obj.get(ld_key) for obj in ld), (meta.get(key) for key in meta_keys))
        return next(filter(None, map(_date, values)), None)

    authors = next(filter(None, (_names(obj.get("author")) for obj in ld)), [])
    if not authors:  # a meta author sometimes holds a profile URL rather than a name
        authors = [v for v in (meta.get(k) for k in _AUTHOR) if v and "://" not in v][:1]
    for xpath in () if authors else _BYLINE_XPATHS:  # slow look-ups: only when no author is declared
        if authors := [" ".join(e.itertext()) for e in tree.xpath(xpath)]:
            break
    names = dict.fromkeys(n for n in (_BY.sub("", collapse(a)) for a in authors if len(a) < 120) if n)
    sites = {line_key(s) for s in (meta.get("og:site_name"), meta.get("application-name"),
                                   *_names(ld[0].get("publisher") if ld else None)) if s}
    headline = next((o["headline"] for o in ld if isinstance(o.get("headline"), str)), None)
    title = _title([h for _, h in sorted(headings, key=lambda pair: pair[0])],
                   [meta.get("og:title"), headline, meta.get("twitter:title"), page_title], sites)
    return PageMetadata(title=title, byline=", ".join(names) or None,
                        published=date("datePublished", _PUBLISHED), modified=date("dateModified", _MODIFIED),
                        url=meta.get("canonical") or meta.get("og:url"),
                        description=meta.get("og:description") or meta.get("description"))
