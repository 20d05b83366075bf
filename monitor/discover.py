"""Feeds and sitemaps -> article URLs: parse, filter, de-duplicate.

``discover(source, fetcher, ...)`` reads a source's ``feeds`` and ``sitemaps`` through the fetcher it is
given, with conditional GET (the caller keeps the validators between runs), and returns the articles
they list, what was rejected and why, and one error string per feed that failed; a failing feed never
stops the others.

What is found in a feed is untrusted input:

- Feeds are parsed by feedparser from a ``BytesIO``: given plain bytes, feedparser tries them as a file
  name first (so a body reading ``/etc/passwd`` would be read from disk).
- Sitemaps are parsed by lxml without network access, without entity expansion, without huge trees,
  and a sitemap declaring a DOCTYPE is refused (sitemaps never need one; entity bombs do). A gzip
  sitemap is inflated with ``BoundedDecoder``, which stops at the fetcher's ``max_bytes``.
- Article links must be http(s), on the registrable domain of the feed that listed them or on one of
  the source's ``domains``; children of a sitemap index too, and they also pass the address guard
  (``monitor.urls.guard_for``) before they are fetched.
"""

from __future__ import annotations

import email.utils
import functools
import io
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import feedparser  # type: ignore[import-untyped,unused-ignore]
from lxml import etree  # type: ignore[import-untyped,unused-ignore]

from monitor.config import SourceConfig
from monitor.decode import BoundedDecoder
from monitor.errors import FetchError
from monitor.fetch import FEED, ContentKind
from monitor.models import FetchResult, Validators
from monitor.store.records import in_utc_range
from monitor.urls import canonicalize, guard_for, same_site

__all__ = ["DiscoveredArticle", "DiscoveryResult", "FeedFetcher", "Rejected", "SitemapEntry", "SitemapResult",
           "discover", "filter_discovered", "parse_feed", "parse_sitemap"]

logger = logging.getLogger("monitor.discover")

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_SITEMAP_ENTRIES = 50_000       # the sitemaps.org limit per file
MAX_URL_LENGTH = 4096
_GZIP_MAGIC = b"\x1f\x8b"


class FeedFetcher(Protocol):
    """What ``discover`` needs of ``monitor.fetch.Fetcher``."""

    def fetch(self, url: str, validators: Validators, *, kind: ContentKind = ...,
              check_url: Callable[[str], None] | None = None) -> FetchResult: ...


@dataclass(frozen=True)
class DiscoveredArticle:
    url: str                             # canonical (``monitor.urls.canonicalize``) when it parses
    title: str | None
    published: datetime | None           # tz-aware; a feed's published date, a news sitemap's
    source_feed: str                     # the feed or sitemap that listed it
    updated: datetime | None = None      # a feed's updated date, a sitemap's lastmod
    guid: str | None = None

    @property
    def date(self) -> datetime | None:
        """The date the age filter uses: published, else updated (which is never earlier)."""
        return self.published or self.updated


@dataclass(frozen=True)
class Rejected:
    url: str
    reason: str
    source_feed: str


@dataclass(frozen=True)
class SitemapEntry:
    url: str                             # as listed (resolved against the sitemap's URL)
    lastmod: datetime | None = None
    published: datetime | None = None    # news:publication_date
    title: str | None = None             # news:title


@dataclass(frozen=True)
class SitemapResult:
    urls: tuple[SitemapEntry, ...] = ()      # a <urlset>
    sitemaps: tuple[SitemapEntry, ...] = ()  # a <sitemapindex>: its child sitemaps

    @property
    def is_index(self) -> bool:
        return bool(self.sitemaps)

    def articles(self, source_feed: str) -> list[DiscoveredArticle]:
        return [DiscoveredArticle(url=_canonical_or_raw(e.url), title=e.title, published=e.published,
                                  source_feed=source_feed, updated=e.lastmod) for e in self.urls]


@dataclass(frozen=True)
class DiscoveryResult:
    articles: tuple[DiscoveredArticle, ...]
    rejected: tuple[Rejected, ...]
    errors: tuple[str, ...]                  # "URL: reason", one per feed or sitemap that failed
    # Per URL read (200 or 304), to persist for the next run; a sitemap index gets empty ones, so that it
    # is always read in full. A URL that failed has none: keep what was saved.
    validators: Mapping[str, Validators]
    not_modified: tuple[str, ...] = ()       # URLs answered 304: nothing new from them
    fetched: tuple[str, ...] = ()            # URLs fetched with a body, in order


# --- dates -----------------------------------------------------------------------------------------

_YEAR_MONTH = re.compile(r"(\d{4})(?:-(\d{2}))?")


def _aware(value: datetime) -> datetime:
    # A date without a zone is taken as UTC: comparisons with an aware `now` must not fail.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _storable(value: datetime) -> datetime | None:
    """A parsed date, aware; None for one outside years 1-9999 once in UTC (``0001-01-01T00:00:00+01:00``, a
    placeholder some sites write), which the store could not keep: one such date must not lose a feed."""
    value = _aware(value)
    return value if in_utc_range(value) else None


def parse_date(text: str | None) -> datetime | None:
    """A W3C datetime (``2024-05-01``, ``2024-05-01T10:00Z``, ``2024-05``) or RFC 822 date; None if neither."""
    if not text or not (text := text.strip()):
        return None
    try:
        return _storable(datetime.fromisoformat(text.replace("z", "Z")))
    except ValueError:
        pass
    if match := _YEAR_MONTH.fullmatch(text):
        try:
            return datetime(int(match[1]), int(match[2] or 1), 1, tzinfo=UTC)
        except ValueError:
            return None
    try:
        return _storable(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None


def _from_struct(value: Any) -> datetime | None:
    """feedparser's ``*_parsed`` values are UTC ``time.struct_time``s."""
    if not value:
        return None
    try:
        return datetime(*value[:6]).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _canonical_or_raw(url: str) -> str:
    try:
        return canonicalize(url)
    except ValueError:
        return url                       # filter_discovered rejects it, with the reason


# --- feeds -----------------------------------------------------------------------------------------


def _entry_link(entry: Any) -> str | None:
    """The article's page: an alternate HTML link, else entry.link, else a permalink guid."""
    links = entry.get("links") or []
    alternates = [x for x in links if x.get("rel", "alternate") == "alternate" and x.get("href")]
    html = [x for x in alternates if x.get("type") in (None, "", "text/html", "application/xhtml+xml")]
    if html or alternates:
        return str((html or alternates)[0]["href"])
    if entry.get("link"):
        return str(entry["link"])
    guid = entry.get("id")
    # An RSS guid is a permalink unless isPermaLink="false" (feedparser sets guidislink).
    if guid and entry.get("guidislink", False) and str(guid).startswith(("http://", "https://")):
        return str(guid)
    return None


def parse_feed(body: bytes, base_url: str) -> list[DiscoveredArticle]:
    """Articles of an RSS 0.9x/2.0, Atom or RDF feed; relative links resolved against ``base_url``.

    Raises ``FetchError`` when ``body`` is not a feed at all. A feed with small errors (feedparser's
    "bozo") is still read: many real feeds are not quite well-formed.
    """
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-location": base_url},
                              resolve_relative_uris=False, sanitize_html=False)
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        detail = f" ({problem})" if problem else ""
        raise FetchError(base_url, f"not an RSS, Atom or RDF feed{detail}")
    articles = []
    for entry in parsed.entries:
        link = _entry_link(entry)
        if not link:
            continue
        title = (entry.get("title") or "").strip() or None
        # dict.get: FeedParserDict.get("updated_parsed") falls back to the published date, with a warning.
        published = _from_struct(dict.get(entry, "published_parsed") or dict.get(entry, "created_parsed"))
        articles.append(DiscoveredArticle(
            url=_canonical_or_raw(urljoin(base_url, link.strip())), title=title, published=published,
            source_feed=base_url, updated=_from_struct(dict.get(entry, "updated_parsed")),
            guid=str(entry["id"]) if entry.get("id") else None))
    return articles


# --- sitemaps --------------------------------------------------------------------------------------


def _local(element: Any) -> str:
    return str(etree.QName(element).localname)


def _child_text(element: Any, name: str) -> str | None:
    # Matched by local name: sitemaps in the wild get the namespace URIs wrong often enough.
    for child in element:
        if _local(child) == name:
            return (child.text or "").strip() or None
    return None


def _entry(element: Any, base_url: str) -> SitemapEntry | None:
    loc = _child_text(element, "loc")
    if not loc:
        return None
    published = title = None
    for child in element:
        if _local(child) == "news":
            published = parse_date(_child_text(child, "publication_date"))
            title = _child_text(child, "title")
    return SitemapEntry(url=urljoin(base_url, loc), lastmod=parse_date(_child_text(element, "lastmod")),
                        published=published, title=title)


def parse_sitemap(body: bytes, base_url: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> SitemapResult:
    """A ``<urlset>`` (with news: dates and titles) or a ``<sitemapindex>``; gzip bodies are inflated.

    Raises ``FetchError`` for invalid XML, a DOCTYPE, an unknown root element or a gzip body that
    inflates past ``max_bytes`` (``BodyTooLarge``).
    """
    if body.startswith(_GZIP_MAGIC):
        # A .xml.gz file served as application/gzip: the fetcher did not inflate it (no Content-Encoding).
        decoder = BoundedDecoder("gzip", max_bytes, base_url)
        body = decoder.feed(body) + decoder.flush()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                             remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(body.lstrip(b" \t\r\n"), parser)
    except etree.XMLSyntaxError as exc:
        raise FetchError(base_url, f"not a sitemap: invalid XML ({exc})") from None
    if root.getroottree().docinfo.doctype:
        raise FetchError(base_url, "not a sitemap: it declares a DOCTYPE (refused: entity expansion)")
    kind = _local(root)
    if kind not in ("urlset", "sitemapindex"):
        raise FetchError(base_url, f"not a sitemap: the root element is <{kind}>, not <urlset> or <sitemapindex>")
    child_name = "url" if kind == "urlset" else "sitemap"
    entries: list[SitemapEntry] = []
    for element in root:
        if len(entries) >= MAX_SITEMAP_ENTRIES:
            break
        if _local(element) == child_name and (entry := _entry(element, base_url)) is not None:
            entries.append(entry)
    return SitemapResult(urls=tuple(entries)) if kind == "urlset" else SitemapResult(sitemaps=tuple(entries))


# --- filtering -------------------------------------------------------------------------------------


def _seconds(max_age: float | timedelta | None) -> float | None:
    return max_age.total_seconds() if isinstance(max_age, timedelta) else max_age


def _rejection(item: DiscoveredArticle, sites: Sequence[str], max_age: float | None,
               now: datetime) -> str | None:
    """Why ``item`` is not tracked, or None when it is."""
    if len(item.url) > MAX_URL_LENGTH:
        return f"URL longer than {MAX_URL_LENGTH:,} characters"
    try:
        parts = urlsplit(item.url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError as exc:
        return f"invalid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"not an http(s) URL ({parts.scheme or 'no'} scheme)"
    if not parts.hostname:
        return "the URL has no host name"
    if parts.username is not None or parts.password is not None:
        return "the URL carries credentials (user@host)"
    if not same_site(item.url, sites):
        listed = ", ".join(sites[1:])
        return (f"off-site: {parts.hostname} is not on the site of {sites[0]}"
                + (f" nor under {listed}" if listed else "") + " (add it to the source's domains)")
    date = item.date
    if max_age is not None and date is not None and (now - date).total_seconds() > max_age:
        return f"older than max_age ({max_age:g} s): dated {date.isoformat()}"
    return None


def _merge(first: DiscoveredArticle, later: DiscoveredArticle) -> DiscoveredArticle:
    """The first listing wins; a later one only fills what the first left empty."""
    return replace(first, title=first.title or later.title, published=first.published or later.published,
                   updated=first.updated or later.updated, guid=first.guid or later.guid)


def _dedupe(items: Iterable[DiscoveredArticle]) -> list[DiscoveredArticle]:
    kept: dict[str, DiscoveredArticle] = {}
    for item in items:
        kept[item.url] = _merge(kept[item.url], item) if item.url in kept else item
    return list(kept.values())


def filter_discovered(items: Iterable[DiscoveredArticle], *, feed_url: str, domains: Sequence[str] = (),
                      max_age: float | timedelta | None, now: datetime
                      ) -> tuple[list[DiscoveredArticle], list[Rejected]]:
    """Keep http(s) articles on the feed's site (or ``domains``) and younger than ``max_age`` (seconds).

    An article without a date is kept (its age is unknown). Duplicates after canonicalisation are merged
    into the first, not reported as rejections.
    """
    now, seconds, sites = _aware(now), _seconds(max_age), [feed_url, *domains]
    accepted: list[DiscoveredArticle] = []
    rejected: list[Rejected] = []
    for item in items:
        item = replace(item, url=_canonical_or_raw(item.url))
        reason = _rejection(item, sites, seconds, now)
        if reason is None:
            accepted.append(item)
        else:
            rejected.append(Rejected(item.url, reason, item.source_feed))
    return _dedupe(accepted), rejected


# --- discover --------------------------------------------------------------------------------------


@dataclass
class _Run:
    """The state of one ``discover`` call."""

    source: SourceConfig
    fetcher: FeedFetcher
    now: datetime
    validators_for: Callable[[str], Validators]
    guard: Callable[[str], None]
    max_depth: int
    max_children: int
    max_bytes: int
    groups: list[tuple[str, list[DiscoveredArticle]]] = field(default_factory=list)  # (configured URL, items)
    rejected: list[Rejected] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    validators: dict[str, Validators] = field(default_factory=dict)
    not_modified: list[str] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def guarded(self, url: str, work: Callable[[], None]) -> None:
        """Run ``work``; its failure becomes an error line and the run goes on."""
        try:
            work()
        except FetchError as exc:
            self.errors.append(str(exc))
        except Exception as exc:  # a bug or a parser surprise on one feed must not stop the others
            logger.exception("discovery of %s failed", url)
            self.errors.append(f"{url}: unexpected {type(exc).__name__}: {exc}")

    def fetch(self, url: str, hop_check: Callable[[str], None] | None = None) -> FetchResult | None:
        """A result with a body, or None for a 304. ``hop_check`` guards every redirect hop.

        Validators of a body are kept only once it has been parsed (the callers do that): a body we
        failed on must come back in full next time, not as a 304.
        """
        result = self.fetcher.fetch(url, self.validators_for(url), kind=FEED, check_url=hop_check)
        if result.gone:
            raise FetchError(url, f"HTTP {result.status}: the feed is gone")
        if result.not_modified:
            self.validators[url] = result.validators
            self.not_modified.append(url)
            return None
        self.fetched.append(url)
        return result

    def feed(self, url: str) -> None:
        result = self.fetch(url)
        if result is not None:
            # Relative links resolve against where the feed came from; items are labelled with the URL
            # the source lists, the one the caller knows (and keys validators by).
            items = parse_feed(result.body, result.final_url)
            self.groups.append((url, [replace(item, source_feed=url) for item in items]))
            self.validators[url] = result.validators

    def sitemap(self, url: str, root: str, depth: int) -> None:
        if url in self.seen:            # an index listing itself, or two indexes sharing a child
            return
        self.seen.add(url)
        # A configured sitemap is trusted (depth 0); a child taken from an index is not, on any hop.
        result = self.fetch(url, hop_check=self.guard if depth > 0 else None)
        if result is None:
            return
        parsed = parse_sitemap(result.body, result.final_url, max_bytes=self.max_bytes)
        if not parsed.is_index:
            self.groups.append((root, parsed.articles(url)))
            self.validators[url] = result.validators
            return
        # An index answered 304 would leave us without its children, and many sites never change their
        # index while its children do: indexes are always fetched in full (they are small), children
        # conditionally.
        self.validators[url] = Validators()
        for child in self.children(url, root, depth, parsed.sitemaps):
            self.guarded(child, functools.partial(self.sitemap, child, root, depth + 1))

    def children(self, url: str, root: str, depth: int, entries: Sequence[SitemapEntry]) -> list[str]:
        """The child sitemaps worth fetching, newest first; the others become rejections."""
        oldest = datetime.min.replace(tzinfo=UTC)
        ordered = sorted(entries, key=lambda e: e.lastmod or oldest, reverse=True)  # stable: undated last
        max_age = _seconds(self.source.max_age)
        sites = [root, *self.source.domains]
        chosen: list[str] = []
        stale = over = 0
        for entry in ordered:
            child = entry.url
            if urlsplit(child).scheme not in ("http", "https") or not same_site(child, sites):
                self.rejected.append(Rejected(child, "child sitemap not on the site of " + root, url))
            elif max_age is not None and entry.lastmod and (self.now - entry.lastmod).total_seconds() > max_age:
                # A sitemap unchanged since before max_age cannot list an article younger than that.
                stale += 1
            elif depth + 1 > self.max_depth or len(chosen) >= self.max_children:
                over += 1
            else:
                try:
                    self.guard(child)
                except FetchError as exc:
                    self.rejected.append(Rejected(child, exc.reason, url))
                    continue
                chosen.append(child)
        if stale:
            self.rejected.append(Rejected(url, f"{stale} child sitemaps not modified within max_age skipped", url))
        if over:
            why = (f"nested deeper than {self.max_depth} levels" if depth + 1 > self.max_depth
                   else f"beyond the newest {self.max_children}")
            self.rejected.append(Rejected(url, f"{over} child sitemaps {why} skipped", url))
        return chosen


def discover(source: SourceConfig, fetcher: FeedFetcher, *, now: datetime,
             validators_for: Callable[[str], Validators], max_sitemap_depth: int = 2, max_children: int = 50,
             guard: Callable[[str], None] | None = None, max_bytes: int | None = None) -> DiscoveryResult:
    """Read every feed and sitemap of ``source``; return its articles, rejections, errors and validators.

    ``validators_for(url)`` gives the validators saved for a feed or sitemap URL (``Validators()`` when
    none). Children of a sitemap index are followed ``max_sitemap_depth`` levels down (the configured
    sitemap is level 0), newest first, at most ``max_children`` per index. ``guard`` checks a child
    sitemap URL before it is fetched (default: ``guard_for(source.allow_private)``); redirects of that
    fetch are checked only if ``fetcher`` itself checks every hop. ``max_bytes`` bounds gzip inflation
    (default: the fetcher's ``settings.max_bytes``, else 10 MiB).
    """
    if max_bytes is None:
        max_bytes = getattr(getattr(fetcher, "settings", None), "max_bytes", DEFAULT_MAX_BYTES)
    run = _Run(source, fetcher, _aware(now), validators_for, guard or guard_for(source.allow_private),
               max_sitemap_depth, max_children, max_bytes)
    for url in source.feeds:
        run.guarded(url, functools.partial(run.feed, url))
    for url in source.sitemaps:
        run.guarded(url, functools.partial(run.sitemap, url, url, 0))

    articles: list[DiscoveredArticle] = []
    for configured, items in run.groups:
        accepted, rejected = filter_discovered(items, feed_url=configured, domains=source.domains,
                                               max_age=source.max_age, now=run.now)
        articles.extend(accepted)
        run.rejected.extend(rejected)
    return DiscoveryResult(articles=tuple(_dedupe(articles)), rejected=tuple(run.rejected),
                           errors=tuple(run.errors), validators=dict(run.validators),
                           not_modified=tuple(run.not_modified), fetched=tuple(run.fetched))
