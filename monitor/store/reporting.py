"""Read-only queries for the report site (monitor/report/site.py): which articles changed, and their history.

The store keeps versions and checks, not diffs: a report recomputes each change from two consecutive
stored versions (milliseconds each), so a better differ improves old reports too. What a diff cannot
tell, the checks table does: a take-down (``removed``) and a return (``restored``) are check outcomes,
and the check that wrote a version says whether it was a ``restored`` one.

Like ``scheduling.py``, this module reads the store's tables itself, through the store's connections
(``Store.engine``, ``Store.plain_sqlite``), and leaves store.py's calls alone; unlike it, it never writes
(learned boilerplate is read from ``source_boilerplate`` as it stands, not learned anew).

A checking process draws the pages of the articles it changed (``site.draw_article_pages``): on a SQLite
store at the current revision, the reads that takes (``changed_article_stamps``, ``boilerplate_keys``,
``article_histories``) run in plain SQL on the store's own ``sqlite3`` connection (``Store.plain_sqlite``),
so that process never imports SQLAlchemy (about 0.2 s of CPU); so does ``has_stories``, for the site's
refresh of a store that never grouped stories. Everything else, and every read of
PostgreSQL, goes through SQLAlchemy (monitor/store/reporting_sql.py, imported when first needed). The two
give the same results (tests/test_plain_sqlite.py).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.models import Version
from monitor.store.blob_codec import BlobCache
from monitor.store.plain_sqlite import read_blob
from monitor.store.records import IN_CHUNK
from monitor.store.sqlite_values import read_time, sha256_text, sqlite_time
from monitor.store.store import Store

__all__ = ["ArticleHistory", "ArticleMatch", "ArticleStamp", "CheckMark", "article_histories", "article_history",
           "boilerplate_keys", "changed_article_stamps", "has_stories", "search_articles", "stored_articles"]

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
    plain = store.plain_sqlite
    if plain is None:
        from monitor.store import reporting_sql

        return reporting_sql.changed_article_stamps(store, since, urls)
    wanted = [None] if urls is None else [list(urls[i:i + IN_CHUNK]) for i in range(0, len(urls), IN_CHUNK)]
    with plain.reading("read the changed articles' state") as conn:
        rows = [row for chunk in wanted for row in _changed_rows(conn, since, chunk)]
    if len(wanted) > 1:
        rows.sort(key=lambda row: row[0])
    return [ArticleStamp(url=url, source=source, latest_version=latest, fingerprint=sha256_text(fingerprint),
                         gone=bool(gone), status_checks=n or 0, last_status=None if last is None else read_time(last))
            for url, source, latest, fingerprint, gone, n, last in rows]


def article_history(store: Store, url: str) -> ArticleHistory | None:
    """Every version of an article with its text, and the checks that mark a take-down or a return.
    None when the article is unknown or has no version."""
    plain = store.plain_sqlite
    if plain is None:
        from monitor.store import reporting_sql

        return reporting_sql.article_history(store, url)
    with plain.reading(f"read the history of {url}") as conn:
        return _histories(conn, [url]).get(url)


def article_histories(store: Store, urls: Sequence[str]) -> dict[str, ArticleHistory]:
    """``article_history`` of several articles, by URL (unknown ones and those without a version left
    out): one transaction and three queries for all of them, where a refresh after a check that changed
    a hundred articles spent more on a transaction and three queries per article than on their texts."""
    plain = store.plain_sqlite
    if plain is None:
        from monitor.store import reporting_sql

        return reporting_sql.article_histories(store, urls)
    with plain.reading(f"read the history of {len(urls)} articles") as conn:
        return _histories(conn, urls)


def boilerplate_keys(store: Store, source: str) -> frozenset[str]:
    """The lines learned as boilerplate of ``source`` so far (read only: nothing is learned here)."""
    plain = store.plain_sqlite
    if plain is None:
        from monitor.store import reporting_sql

        return reporting_sql.boilerplate_keys(store, source)
    with plain.reading(f"read the boilerplate of source {source!r}") as conn:
        return frozenset(key.hex() for (key,) in conn.execute(_BOILERPLATE, (source,)))


def has_stories(store: Store) -> bool:
    """Whether any article was ever grouped into a story (False: the stories page is empty).

    Read in plain SQLite when the store has that connection: the story modules read their tables through
    SQLAlchemy, about 0.2 s of CPU to import, which a ``newsmon check`` whose store never grouped stories
    would otherwise pay at every site refresh. Without that connection, True: the story modules find out."""
    plain = store.plain_sqlite
    if plain is None:
        return True
    with plain.reading("look for stories") as conn:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'story_members'").fetchone():
            return conn.execute("SELECT 1 FROM story_members LIMIT 1").fetchone() is not None
    return False


def stored_articles(store: Store) -> list[tuple[str, str]]:
    """(url, source) of every article with at least one stored version, ordered by URL."""
    from monitor.store import reporting_sql

    return reporting_sql.stored_articles(store)


def search_articles(store: Store, text: str, limit: int = 100) -> list[ArticleMatch]:
    """Articles whose URL or any stored headline contains ``text`` (case-insensitive, taken literally:
    ``%`` and ``_`` are not wildcards), ordered by URL, at most ``limit``."""
    from monitor.store import reporting_sql

    return reporting_sql.search_articles(store, text, limit)


def article_history_of(url: str, source: str, gone: bool, versions: Sequence[Version],
                       marking: Sequence[CheckMark]) -> ArticleHistory:
    """An article's history from its versions and its checks that wrote a version or are a take-down or
    a return, each oldest first; shared by both ways of reading them."""
    return ArticleHistory(url=url, source=source, gone=gone, versions=tuple(versions),
                          outcomes={c.version: c.outcome for c in marking if c.version is not None},
                          marks=tuple(c for c in marking if c.outcome in STATUS_OUTCOMES))


# The plain-SQL twins of reporting_sql's queries, as SQLAlchemy compiles them for SQLite.
_STATUS_IN = "({})".format(", ".join(f"'{outcome}'" for outcome in STATUS_OUTCOMES))
_BOILERPLATE = ("SELECT b.line_key FROM source_boilerplate AS b JOIN sources AS s ON b.source_id = s.id "
                "WHERE s.name = ?")
_HISTORY_ARTICLES = ("SELECT a.id, a.url, a.gone, s.name FROM articles AS a JOIN sources AS s "
                     "ON a.source_id = s.id WHERE a.url IN ({})")
_HISTORY_VERSIONS = ("SELECT v.article_id, v.number, v.created_at, v.title, v.byline, v.published, v.modified, "
                     "v.final_url, v.fingerprint, v.text_blob, h.sha256 FROM versions AS v JOIN blobs AS h "
                     "ON h.id = v.html_blob WHERE v.article_id IN ({}) ORDER BY v.article_id, v.number")
_HISTORY_CHECKS = ("SELECT article_id, checked_at, outcome, status, version FROM checks WHERE article_id IN ({}) "
                   f"AND (version IS NOT NULL OR outcome IN {_STATUS_IN}) ORDER BY article_id, checked_at, id")


def _changed_rows(conn: sqlite3.Connection, since: datetime | None,
                  urls: Sequence[str] | None) -> list[tuple[Any, ...]]:
    """The stamps' columns of the articles changed at or after ``since``, of ``urls`` if given, by URL."""
    later_version = "SELECT article_id FROM versions WHERE number > 1"
    status_check = f"SELECT article_id FROM checks WHERE outcome IN {_STATUS_IN}"
    params: dict[str, str | int] = {}
    if since is not None:
        later_version += " AND created_at >= :since"
        status_check += " AND checked_at >= :since"
        params["since"] = sqlite_time(since)
    only = ""
    if urls is not None:
        only = f" AND a.url IN ({', '.join(f':url{i}' for i in range(len(urls)))})"
        params.update((f"url{i}", url) for i, url in enumerate(urls))
    query = ("SELECT a.url, s.name, a.latest_version, a.fingerprint, a.gone, status.n, status.last "
             "FROM articles AS a JOIN sources AS s ON a.source_id = s.id LEFT OUTER JOIN "
             "(SELECT article_id, count(*) AS n, max(checked_at) AS last FROM checks "
             f"WHERE outcome IN {_STATUS_IN} GROUP BY article_id) AS status ON status.article_id = a.id "
             f"WHERE (a.id IN ({later_version}) OR a.id IN ({status_check})){only} ORDER BY a.url")
    return conn.execute(query, params).fetchall()


def _histories(conn: sqlite3.Connection, urls: Sequence[str]) -> dict[str, ArticleHistory]:
    """``reporting_sql._histories`` in plain SQL."""
    if not urls:
        return {}
    found = {article_id: (url, bool(gone), source) for article_id, url, gone, source in
             conn.execute(_HISTORY_ARTICLES.format(", ".join("?" * len(urls))), list(urls))}
    if not found:
        return {}
    ids = ", ".join("?" * len(found))
    version_rows: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for article_id, *row in conn.execute(_HISTORY_VERSIONS.format(ids), list(found)):
        version_rows[article_id].append(tuple(row))
    marking: dict[int, list[CheckMark]] = defaultdict(list)
    for article_id, checked_at, outcome, status, version in conn.execute(_HISTORY_CHECKS.format(ids), list(found)):
        marking[article_id].append(CheckMark(read_time(checked_at), outcome, status, version))
    # Text blobs are shared between versions with the same text (an A -> B -> A flip): read each once; the
    # cache keeps what a chain of deltas decompressed, as SQLAlchemy's reads keep it per transaction.
    texts: dict[int, str] = {}
    cache = BlobCache()
    histories: dict[str, ArticleHistory] = {}
    for article_id, (url, gone, source) in found.items():
        rows = version_rows.get(article_id)
        if not rows:
            continue
        stored: list[Version] = []
        for number, created_at, title, byline, published, modified, final_url, fingerprint, text_blob, html in rows:
            if text_blob not in texts:
                texts[text_blob] = read_blob(conn, text_blob, cache).raw.decode("utf-8")
            stored.append(Version(
                url=url, number=number, created_at=read_time(created_at), title=title, text=texts[text_blob],
                byline=byline, published=published, modified=modified, final_url=final_url, html_sha256=html.hex(),
                text_sha256=fingerprint.hex()))
        histories[url] = article_history_of(url, source, gone, stored, marking.get(article_id, []))
    return histories
