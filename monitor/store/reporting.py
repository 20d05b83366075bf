"""Read-only queries for the report site (monitor/report/site.py): which articles changed, and their history.

The store keeps versions and checks, not diffs: a report recomputes each change from two consecutive
stored versions (milliseconds each), so a better differ improves old reports too. What a diff cannot
tell, the checks table does: a take-down (``removed``) and a return (``restored``) are check outcomes,
and the check that wrote a version says whether it was a ``restored`` one.

Like ``scheduling.py``, this module works over ``Store.engine`` and leaves store.py alone; unlike it, it
never writes (learned boilerplate is read from ``source_boilerplate`` as it stands, not learned anew).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement

from monitor.errors import StoreError
from monitor.models import Version
from monitor.store.blobs import get_blob
from monitor.store.records import IN_CHUNK
from monitor.store.schema import articles, checks, source_boilerplate, sources, versions
from monitor.store.store import Store

__all__ = ["ArticleHistory", "ArticleMatch", "ArticleStamp", "CheckMark", "article_histories", "article_history",
           "boilerplate_keys", "changed_article_stamps", "search_articles", "stored_articles"]

# Outcomes that are events of their own even without a new version.
STATUS_OUTCOMES = ("removed", "restored")


@dataclass(frozen=True)
class CheckMark:
    """A check that says something a diff cannot: the article went away or came back."""

    checked_at: datetime
    outcome: str                 # "removed" or "restored"
    status: int | None
    version: int | None          # the version this check wrote (a restored page with new text), else None


@dataclass(frozen=True)
class ArticleHistory:
    url: str
    source: str
    gone: bool
    versions: tuple[Version, ...]               # oldest first, texts included
    outcomes: dict[int, str]                    # version number -> outcome of the check that wrote it
    marks: tuple[CheckMark, ...]                # removed/restored checks, oldest first


@dataclass(frozen=True)
class ArticleMatch:
    """An article found by ``search_articles``: its newest headline and how many versions it has."""

    url: str
    source: str
    title: str
    versions: int


@contextmanager
def _reading(store: Store, action: str) -> Iterator[Connection]:
    try:
        with store.engine.connect() as conn, conn.begin():
            yield conn
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot {action}: {getattr(exc, 'orig', None) or exc}") from exc


def _changed(since: datetime | None) -> ColumnElement[bool]:
    """Articles with a second or later version, or a removed/restored check, at or after ``since``."""
    later_version = (select(versions.c.article_id).where(versions.c.number > 1))
    status_check = select(checks.c.article_id).where(checks.c.outcome.in_(STATUS_OUTCOMES))
    if since is not None:
        later_version = later_version.where(versions.c.created_at >= since)
        status_check = status_check.where(checks.c.checked_at >= since)
    return or_(articles.c.id.in_(later_version), articles.c.id.in_(status_check))


@dataclass(frozen=True)
class ArticleStamp:
    """What changes whenever an article's report page would: a new version, a take-down or a return.

    Versions and checks are only ever added, so these few columns tell a cached page from a stale one
    without reading any text."""

    url: str
    source: str
    latest_version: int | None
    fingerprint: str | None
    gone: bool
    status_checks: int            # removed/restored checks so far
    last_status: datetime | None


def changed_article_stamps(store: Store, since: datetime | None = None,
                           urls: Sequence[str] | None = None) -> list[ArticleStamp]:
    """Every article with a change at or after ``since`` (all time when None): a second or later version,
    or a removed/restored check; each with its stamp, ordered by URL. ``urls``: only those articles."""
    status = (select(checks.c.article_id, func.count().label("n"), func.max(checks.c.checked_at).label("last"))
              .where(checks.c.outcome.in_(STATUS_OUTCOMES)).group_by(checks.c.article_id).subquery())
    query = (select(articles.c.url, sources.c.name, articles.c.latest_version, articles.c.fingerprint,
                    articles.c.gone, status.c.n, status.c.last)
             .join(sources, articles.c.source_id == sources.c.id)
             .outerjoin(status, status.c.article_id == articles.c.id)
             .where(_changed(since))
             .order_by(articles.c.url))
    wanted = [None] if urls is None else [list(urls[i:i + IN_CHUNK]) for i in range(0, len(urls), IN_CHUNK)]
    with _reading(store, "read the changed articles' state") as conn:
        rows = [r for chunk in wanted
                for r in conn.execute(query if chunk is None else query.where(articles.c.url.in_(chunk)))]
    if len(wanted) > 1:
        rows.sort(key=lambda r: r.url)
    return [ArticleStamp(url=r.url, source=r.name, latest_version=r.latest_version, fingerprint=r.fingerprint,
                         gone=bool(r.gone), status_checks=r.n or 0, last_status=r.last) for r in rows]


def article_history(store: Store, url: str) -> ArticleHistory | None:
    """Every version of an article with its text, and the checks that mark a take-down or a return.
    None when the article is unknown or has no version."""
    with _reading(store, f"read the history of {url}") as conn:
        return _histories(conn, [url]).get(url)


def article_histories(store: Store, urls: Sequence[str]) -> dict[str, ArticleHistory]:
    """``article_history`` of several articles, by URL (unknown ones and those without a version left
    out): one transaction and three queries for all of them, where a refresh after a check that changed
    a hundred articles spent more on a transaction and three queries per article than on their texts."""
    with _reading(store, f"read the history of {len(urls)} articles") as conn:
        return _histories(conn, urls)


def _histories(conn: Connection, urls: Sequence[str]) -> dict[str, ArticleHistory]:
    found = {r.id: r for r in conn.execute(
        select(articles.c.id, articles.c.url, articles.c.gone, sources.c.name)
        .join(sources, articles.c.source_id == sources.c.id).where(articles.c.url.in_(urls)))}
    version_rows: dict[int, list[Row[Any]]] = defaultdict(list)
    for r in conn.execute(select(versions).where(versions.c.article_id.in_(found))
                          .order_by(versions.c.article_id, versions.c.number)):
        version_rows[r.article_id].append(r)
    check_rows: dict[int, list[Row[Any]]] = defaultdict(list)
    for r in conn.execute(
            select(checks.c.article_id, checks.c.checked_at, checks.c.outcome, checks.c.status, checks.c.version)
            .where(and_(checks.c.article_id.in_(found),
                        or_(checks.c.version.is_not(None), checks.c.outcome.in_(STATUS_OUTCOMES))))
            .order_by(checks.c.article_id, checks.c.checked_at, checks.c.id)):
        check_rows[r.article_id].append(r)
    # Text blobs are shared between versions with the same text (an A -> B -> A flip): read each once.
    texts: dict[str, str] = {}
    histories: dict[str, ArticleHistory] = {}
    for article_id, article in found.items():
        rows = version_rows.get(article_id)
        if not rows:
            continue
        stored: list[Version] = []
        for r in rows:
            if r.text_blob not in texts:
                texts[r.text_blob] = get_blob(conn, r.text_blob).decode("utf-8")
            stored.append(Version(
                url=article.url, number=r.number, created_at=r.created_at, title=r.title, text=texts[r.text_blob],
                byline=r.byline, published=r.published, modified=r.modified, final_url=r.final_url,
                html_sha256=r.html_blob, text_sha256=r.fingerprint))
        marking = check_rows.get(article_id, [])
        histories[article.url] = ArticleHistory(
            url=article.url, source=article.name, gone=bool(article.gone), versions=tuple(stored),
            outcomes={r.version: r.outcome for r in marking if r.version is not None},
            marks=tuple(CheckMark(r.checked_at, r.outcome, r.status, r.version)
                        for r in marking if r.outcome in STATUS_OUTCOMES))
    return histories


def boilerplate_keys(store: Store, source: str) -> frozenset[str]:
    """The lines learned as boilerplate of ``source`` so far (read only: nothing is learned here)."""
    query = (select(source_boilerplate.c.line_key)
             .join(sources, source_boilerplate.c.source_id == sources.c.id).where(sources.c.name == source))
    with _reading(store, f"read the boilerplate of source {source!r}") as conn:
        return frozenset(conn.execute(query).scalars())


def stored_articles(store: Store) -> list[tuple[str, str]]:
    """(url, source) of every article with at least one stored version, ordered by URL."""
    query = (select(articles.c.url, sources.c.name).join(sources, articles.c.source_id == sources.c.id)
             .where(articles.c.id.in_(select(versions.c.article_id))).order_by(articles.c.url))
    with _reading(store, "list the stored articles") as conn:
        return [(row.url, row.name) for row in conn.execute(query)]


def search_articles(store: Store, text: str, limit: int = 100) -> list[ArticleMatch]:
    """Articles whose URL or any stored headline contains ``text`` (case-insensitive, taken literally:
    ``%`` and ``_`` are not wildcards), ordered by URL, at most ``limit``."""
    newest = (select(versions.c.article_id, func.max(versions.c.number).label("number"))
              .group_by(versions.c.article_id).subquery())
    titled = select(versions.c.article_id).where(versions.c.title.icontains(text, autoescape=True))
    query = (select(articles.c.url, sources.c.name, versions.c.title, versions.c.number)
             .join(sources, articles.c.source_id == sources.c.id)
             .join(newest, newest.c.article_id == articles.c.id)
             .join(versions, and_(versions.c.article_id == articles.c.id, versions.c.number == newest.c.number))
             .where(or_(articles.c.url.icontains(text, autoescape=True), articles.c.id.in_(titled)))
             .order_by(articles.c.url).limit(limit))
    with _reading(store, "search the articles") as conn:
        return [ArticleMatch(row.url, row.name, row.title, row.number) for row in conn.execute(query)]
