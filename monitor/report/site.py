"""``newsmon report``: a static site of the changes in the store, readable from disk without a server.

::

    index.html                      every change of the window, most significant first
    changes-high.html, -medium, -low   the same, from that significance up (filters without JavaScript)
    changes.json, changes.atom, changes.md
    sources/<slug>.html|.json|.atom  one source's changes
    articles/<key>.html              one article: headline changes, figure charts, versions, every change
    articles/<key>-v<N>.html         one stored version's text
    stories.html, stories/<id>.html  multi-source stories: figures by source, charts over time (stories_page)
    .newsmon-cache/<key>.json        each changed article's changes and stamp, so a build redraws only what
                                     changed (site_cache)

File names come from hashes (``timeline.article_key``, ``timeline.source_slug``), never from URLs or names
as given: an article URL can hold ``../``, a source name can hold anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup

from ..models import SIGNIFICANCE_ORDER, Diff
from ..store import Store
from ..store.reporting import (
    ArticleStamp,
    article_histories,
    boilerplate_keys,
    changed_article_stamps,
    has_stories,
)
from .charts import chart, figure_series
from .feeds import FeedItems, changes_atom, changes_json
from .files import write_if_changed
from .markdown import render_changes_markdown
from .render import render
from .site_cache import CachedArticle, SiteCache, boilerplate_signature
from .stories_page import write_story_pages
from .timeline import Change, Timeline, article_key, build_timeline, sort_changes, source_slug

__all__ = ["SIGNIFICANCE_PAGES", "SiteReport", "build_site", "draw_article_pages"]

# Filter pages: (label, file, lowest significance shown). "all" is index.html itself.
SIGNIFICANCE_PAGES: tuple[tuple[str, str, str], ...] = (
    ("all", "index.html", "none"),
    ("high", "changes-high.html", "high"),
    ("medium and up", "changes-medium.html", "medium"),
    ("low and up", "changes-low.html", "low"),
)
FEED_ID = "urn:newsmon:changes"
# Stale articles whose history is read in one transaction: few round trips, and at most this many
# articles' texts in memory during a full rebuild.
HISTORY_BATCH = 50


@dataclass(frozen=True)
class SiteReport:
    """What ``build_site`` wrote."""

    index: Path
    changes: int            # changes listed (in the window)
    articles: int           # article pages
    written: int            # files written (the rest already held the same content)
    rebuilt: int = 0        # articles read and diffed again (the others came from the site's cache)
    complete: bool = True   # False when a stop request ended the build early (lists not redrawn)


# Where a rendered page goes: a file under the report folder, or (newsmon serve) a dict in memory.
PageWriter = Callable[[str, str], Path]


class _Writer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.written = 0
        self._folders: set[Path] = set()    # made during this build: a few folders, hundreds of files

    def __call__(self, relative: str, text: str) -> Path:
        path = self.root / relative
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        if write_if_changed(path, text):
            self.written += 1
        return path


def _significance_links(root: str, current: str | None) -> list[tuple[str, str, bool]]:
    return [(label, root + file, file == current) for label, file, _ in SIGNIFICANCE_PAGES]


def _source_links(root: str, changes: Sequence[Change], current: str | None) -> list[tuple[str, str, int, bool]]:
    counts = Counter(c.source for c in changes)
    return [(name, f"{root}sources/{source_slug(name)}.html", counts[name], name == current)
            for name in sorted(counts, key=str.casefold)]


class ChangeItems:
    """Each change's list entry, rendered once and shared by every list page showing it: index.html, the
    significance pages and its source page would otherwise render it up to five times. The entry holds no
    link to another page, so one rendering serves the pages at the root and those in sources/ alike (the
    page draws the headline and its link itself). Changes are told apart by identity: the object must
    outlive the changes it was given (one build)."""

    def __init__(self) -> None:
        self._done: dict[int, Markup] = {}

    def item(self, change: Change) -> Markup:
        if id(change) not in self._done:
            # Safe: rendered by an autoescaping template; every article string in it is escaped.
            self._done[id(change)] = Markup(render("change_item.html.j2", change=change).rstrip("\n"))
        return self._done[id(change)]


def _list_page(write: PageWriter, relative: str, *, heading: str, changes: Sequence[Change],
               all_changes: Sequence[Change], root: str, significance_file: str | None,
               source: str | None, feeds: str, context: dict[str, Any], items: ChangeItems | None = None) -> Path:
    """One page of the change list; ``feeds`` is the path stem of its Atom/JSON (relative to the page)."""
    return write(relative, render(
        "changes.html.j2", heading=heading, changes=changes, root=root,
        item=(items or ChangeItems()).item,
        significance_links=_significance_links(root, significance_file),
        source_links=_source_links(root, all_changes, source),
        atom_href=f"{feeds}.atom", json_href=f"{feeds}.json",
        markdown_href=f"{feeds}.md" if source is None and significance_file == "index.html" else None,
        **context))


def _article_pages(write: PageWriter, timeline: Timeline, versions: Collection[int] | None = None) -> None:
    """An article's page and its version pages (only ``versions`` when given: the others are current)."""
    # No generation time on these pages: an article page changes only with the article, and a version page
    # only with the version after it (its "next" link), so rebuilding the site rewrites only what changed.
    numbers = [v.number for v in timeline.versions]
    charts = [chart(series, numbers) for series in figure_series(timeline)]
    write(f"articles/{timeline.key}.html", render(
        "article.html.j2", timeline=timeline, source_slug=source_slug(timeline.source),
        title_changes=[c for c in timeline.changes if c.diff is not None and c.diff.title is not None],
        charts=charts, version_events=timeline.version_events(), changes=list(reversed(timeline.changes)),
        root="../"))
    for index, version in enumerate(timeline.versions):
        if versions is not None and version.number not in versions:
            continue
        write(f"articles/{timeline.key}-v{version.number}.html", render(
            "version.html.j2", version=version, key=timeline.key, source=timeline.source,
            previous=numbers[index - 1] if index > 0 else None,
            next=numbers[index + 1] if index + 1 < len(numbers) else None, root="../"))


def _list_pages(write: PageWriter, changes: Sequence[Change], *, since: datetime | None,
                generated_at: datetime) -> None:
    """index.html and its filters, the global and per-source feeds and lists, for ``changes`` in report order."""
    # stories_href: the static site has stories.html (write_story_pages); `newsmon serve` shows no link.
    context: dict[str, Any] = {"generated_at": generated_at, "since": since, "stories_href": "stories.html"}
    items, feed_items = ChangeItems(), FeedItems()
    for label, file, lowest in SIGNIFICANCE_PAGES:
        shown = [c for c in changes if SIGNIFICANCE_ORDER[c.significance] >= SIGNIFICANCE_ORDER[lowest]]
        heading = "Changes" if lowest == "none" else f"Changes: significance {label}"
        _list_page(write, file, heading=heading, changes=shown, all_changes=changes, root="",
                   significance_file=file, source=None, feeds="changes", context=context, items=items)
    write("changes.json", changes_json(changes, feed_items))
    write("changes.atom", changes_atom(changes, title="newsmon: changes", feed_id=FEED_ID,
                                       generated_at=generated_at, items=feed_items))
    write("changes.md", render_changes_markdown([c.to_event() for c in changes], "newsmon: changes",
                                                generated_at))

    for name in sorted({c.source for c in changes}):
        slug = source_slug(name)
        own = [c for c in changes if c.source == name]
        _list_page(write, f"sources/{slug}.html", heading=f"Changes: {name}", changes=own, all_changes=changes,
                   root="../", significance_file=None, source=name, feeds=slug, context=context, items=items)
        write(f"sources/{slug}.json", changes_json(own, feed_items))
        write(f"sources/{slug}.atom", changes_atom(own, title=f"newsmon: {name}", feed_id=f"{FEED_ID}:source:{slug}",
                                                   generated_at=generated_at, items=feed_items))


def build_site(store: Store, out_dir: Path, *, since: datetime | None, generated_at: datetime,
               rebuild: bool = False, diffs: Mapping[tuple[str, int, int], Diff] | None = None,
               stop: Callable[[], bool] | None = None) -> SiteReport:
    """Bring the site in ``out_dir`` up to date with the store: changes at or after ``since`` (all when None).

    Only articles whose stamp moved since the last build (``site_cache``) are read and diffed again, and
    only their pages written; the lists and feeds are redrawn from every article's changes. ``rebuild``
    ignores the cache (the result is the same, only slower). ``diffs`` are diffs a check just computed,
    by (url, previous version, version): the site shows them rather than computing them again.
    ``stop`` (the daemon stopping) ends the build between two articles, lists unwritten (``complete`` is
    False): what was drawn is cached, and the next build does the rest.
    """
    write = _Writer(out_dir)
    drawn = _draw_articles(store, write, out_dir, changed_article_stamps(store, since), rebuild=rebuild,
                           diffs=diffs, stop=stop)
    changes, articles, rebuilt = drawn.changes, drawn.articles, drawn.rebuilt
    if not drawn.complete:
        return SiteReport(index=out_dir / "index.html", changes=len(changes), articles=articles,
                          written=write.written, rebuilt=rebuilt, complete=False)
    shown = sort_changes(c for c in changes if since is None or c.time >= since)
    _list_pages(write, shown, since=since, generated_at=generated_at)
    write_story_pages(store, write, generated_at, since=since)     # reads the story tables, never regroups
    return SiteReport(index=out_dir / "index.html", changes=len(shown), articles=articles,
                      written=write.written, rebuilt=rebuilt)


def ready_for_build(store: Store) -> None:
    """Load ahead what ``build_site`` will need besides this module: the story modules and the store's
    SQLAlchemy engine, when the store has stories to read (``has_stories``)."""
    if has_stories(store):
        from ..figure_ledger import tracked_quantities  # noqa: F401
        from ..stories import list_stories  # noqa: F401

        store.engine  # noqa: B018


def draw_article_pages(store: Store, out_dir: Path, urls: Sequence[str], *,
                       diffs: Mapping[tuple[str, int, int], Diff] | None = None) -> int:
    """The pages (and cache entries) of these articles only, no lists; returns how many were drawn.

    A checking process of a run split over the cores (monitor.check_processes) draws the articles it
    changed, in parallel with the others; the run's ``build_site`` then finds them current and draws
    the lists. The result is the same as ``build_site`` drawing them itself."""
    write = _Writer(out_dir)
    return _draw_articles(store, write, out_dir, changed_article_stamps(store, urls=urls), rebuild=False,
                          diffs=diffs, stop=None).rebuilt


@dataclass
class _Drawn:
    changes: list[Change]
    articles: int = 0
    rebuilt: int = 0
    complete: bool = True


def _draw_articles(store: Store, write: _Writer, out_dir: Path, stamps: Sequence[ArticleStamp], *, rebuild: bool,
                   diffs: Mapping[tuple[str, int, int], Diff] | None, stop: Callable[[], bool] | None) -> _Drawn:
    """Draw the articles of ``stamps`` whose cached pages are stale; every article's changes, cached or
    drawn, in ``changes``."""
    cache = SiteCache(out_dir)
    keys: dict[str, frozenset[str]] = {}
    drawn = _Drawn(changes=[])
    given: dict[str, dict[tuple[int, int], Diff]] = {}       # the check's diffs, by article
    for (url, old, new), diff in (diffs or {}).items():
        given.setdefault(url, {})[(old, new)] = diff
    stale: list[tuple[ArticleStamp, str, CachedArticle | None]] = []
    for stamp in stamps:
        if stamp.source not in keys:
            keys[stamp.source] = boilerplate_keys(store, stamp.source)
        signature = boilerplate_signature(keys[stamp.source])
        cached = None if rebuild else cache.load(stamp.url)
        page = out_dir / "articles" / f"{article_key(stamp.url)}.html"
        if cached is not None and cached.is_current(stamp, signature) and page.exists():
            drawn.changes.extend(cached.changes)
            drawn.articles += 1
        else:
            stale.append((stamp, signature, cached))
    for start in range(0, len(stale), HISTORY_BATCH):
        batch = stale[start:start + HISTORY_BATCH]
        histories = article_histories(store, [stamp.url for stamp, _, _ in batch])
        for stamp, signature, cached in batch:
            if stop is not None and stop():
                drawn.complete = False
                return drawn
            history = histories.get(stamp.url)
            if history is None:
                continue
            same_diffs = cached is not None and cached.boilerplate == signature
            known = {(c.previous_version, c.version): c.diff for c in cached.changes
                     if c.diff is not None and c.previous_version is not None} if same_diffs and cached else {}
            known.update(given.get(stamp.url, {}))
            timeline = build_timeline(history, keys[stamp.source], known)
            _article_pages(write, timeline, _versions_to_write(timeline, out_dir, cached))
            cache.save(stamp, signature, timeline.changes)
            drawn.changes.extend(timeline.changes)
            drawn.articles += 1
            drawn.rebuilt += 1
    return drawn


def _versions_to_write(timeline: Timeline, out_dir: Path, cached: CachedArticle | None) -> set[int] | None:
    """The version pages a rebuilt article needs: all (None) without a usable cache; else the versions
    added since, the one before them (its "next" link) and any whose file is missing."""
    if cached is None or cached.latest_version is None:
        return None
    numbers = [v.number for v in timeline.versions]
    wanted = {n for n in numbers if n >= cached.latest_version}
    wanted.update(n for n in numbers if not (out_dir / "articles" / f"{timeline.key}-v{n}.html").exists())
    return wanted
