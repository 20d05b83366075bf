"""The report's reads (monitor/store/reporting.py) through SQLAlchemy, on either dialect: every read of a
PostgreSQL store, and the reads of a SQLite one that have no plain-SQL twin (``newsmon serve``'s lists and
search). monitor.store.reporting imports this module only when one of these is asked for, so that a
checking process drawing its changed articles' pages on a SQLite store never imports SQLAlchemy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
from monitor.store.reporting import (
    STATUS_OUTCOMES,
    ArticleHistory,
    ArticleMatch,
    ArticleStamp,
    CheckMark,
    article_history_of,
)
from monitor.store.schema import articles, blobs, checks, source_boilerplate, sources, versions
from monitor.store.store import Store


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


def changed_article_stamps(store: Store, since: datetime | None, urls: Sequence[str] | None) -> list[ArticleStamp]:
    """``reporting.changed_article_stamps``."""
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


def article_histories(store: Store, urls: Sequence[str]) -> dict[str, ArticleHistory]:
    """``reporting.article_histories``."""
    with _reading(store, f"read the history of {len(urls)} articles") as conn:
        return _histories(conn, urls)


def article_history(store: Store, url: str) -> ArticleHistory | None:
    """``reporting.article_history``."""
    with _reading(store, f"read the history of {url}") as conn:
        return _histories(conn, [url]).get(url)


def _histories(conn: Connection, urls: Sequence[str]) -> dict[str, ArticleHistory]:
    found = {r.id: r for r in conn.execute(
        select(articles.c.id, articles.c.url, articles.c.gone, sources.c.name)
        .join(sources, articles.c.source_id == sources.c.id).where(articles.c.url.in_(urls)))}
    version_rows: dict[int, list[Row[Any]]] = defaultdict(list)
    for r in conn.execute(select(versions, blobs.c.sha256.label("html_sha256"))
                          .join(blobs, blobs.c.id == versions.c.html_blob).where(versions.c.article_id.in_(found))
                          .order_by(versions.c.article_id, versions.c.number)):
        version_rows[r.article_id].append(r)
    marking: dict[int, list[CheckMark]] = defaultdict(list)
    for r in conn.execute(
            select(checks.c.article_id, checks.c.checked_at, checks.c.outcome, checks.c.status, checks.c.version)
            .where(and_(checks.c.article_id.in_(found),
                        or_(checks.c.version.is_not(None), checks.c.outcome.in_(STATUS_OUTCOMES))))
            .order_by(checks.c.article_id, checks.c.checked_at, checks.c.id)):
        marking[r.article_id].append(CheckMark(r.checked_at, r.outcome, r.status, r.version))
    # Text blobs are shared between versions with the same text (an A -> B -> A flip): read each once.
    texts: dict[int, str] = {}
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
                html_sha256=r.html_sha256, text_sha256=r.fingerprint))
        histories[article.url] = article_history_of(article.url, article.name, bool(article.gone), stored,
                                                    marking.get(article_id, []))
    return histories


def boilerplate_keys(store: Store, source: str) -> frozenset[str]:
    """``reporting.boilerplate_keys``."""
    query = (select(source_boilerplate.c.line_key)
             .join(sources, source_boilerplate.c.source_id == sources.c.id).where(sources.c.name == source))
    with _reading(store, f"read the boilerplate of source {source!r}") as conn:
        return frozenset(conn.execute(query).scalars())


def stored_articles(store: Store) -> list[tuple[str, str]]:
    """``reporting.stored_articles``."""
    query = (select(articles.c.url, sources.c.name).join(sources, articles.c.source_id == sources.c.id)
             .where(articles.c.id.in_(select(versions.c.article_id))).order_by(articles.c.url))
    with _reading(store, "list the stored articles") as conn:
        return [(row.url, row.name) for row in conn.execute(query)]


def search_articles(store: Store, text: str, limit: int) -> list[ArticleMatch]:
    """``reporting.search_articles``."""
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
