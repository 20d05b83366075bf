"""The store over SQLAlchemy, on either dialect: what a check writes (checks, versions, blobs) and what
readers ask for (versions, history). ``monitor.store.Store`` is the face the rest of newsmon uses; it
hands its calls to ``SqlStore``, which it opens on first need, except those a check makes of a SQLite store
at the current revision, which go through plain ``sqlite3`` (monitor/store/plain_sqlite.py).

Every ``record`` is one transaction: the check row, the article's new state, the version and its blobs
are all committed or none is, so a process killed at any moment leaves only complete versions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Row, and_, bindparam, event, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import NotFound, StoreError
from monitor.models import Validators, Version, VersionSummary
from monitor.store.blobs import Base, Blob, get_base, get_blob, put_blobs, version_blobs
from monitor.store.lines import articles_with_versions, learn_boilerplate, record_lines
from monitor.store.plain_sqlite import write_checks
from monitor.store.records import (
    IN_CHUNK,
    ArticleState,
    CheckRecord,
    RecordItem,
    article_changes,
    check_row,
    is_plain,
)
from monitor.store.schema import articles, checks, insert_ignore, sources, versions
from monitor.store.schema import blobs as blob_table

# A result row of any width (SQLAlchemy 2.1 types rows by their column types).
_AnyRow = Row[*tuple[Any, ...]]


class SqlStore:
    """Articles, their versions and checks in one database, through SQLAlchemy. ``close()`` when done."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._closed = False
        # Source name -> id, of committed rows only (sources are never deleted): a cycle of many small
        # writes need not insert-or-select its sources in every transaction.
        self._source_ids: dict[str, int] = {}
        # On SQLite, checks are written in plain SQL on the write transaction's own connection
        # (plain_sqlite.write_checks): SQLAlchemy's statements cost about ten times what SQLite takes to run
        # them. This serves a SQLite store that Store opens without its plain connection (a new file, one
        # just upgraded, ``:memory:``). The statements below stay for PostgreSQL; tests turn this off to
        # hold the two to the same rows.
        self._plain_sql_writes = engine.dialect.name == "sqlite"

    @property
    def engine(self) -> Engine:
        """The underlying engine, for modules that keep their own tables in the same database."""
        return self._engine

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._engine.dispose()

    def refuse_writes(self) -> None:
        """Make every later transaction of the engine read-only: ``PRAGMA query_only`` on SQLite, ``SET
        TRANSACTION READ ONLY`` on PostgreSQL, each run after the BEGIN of the engine's own listener
        (registered when the engine was made, so it runs first)."""
        statement = "PRAGMA query_only=ON" if self._engine.dialect.name == "sqlite" else "SET TRANSACTION READ ONLY"

        @event.listens_for(self._engine, "begin")
        def _read_only(conn: Connection) -> None:
            conn.exec_driver_sql(statement)

    # -- writing ---------------------------------------------------------------------------------

    def record_many(self, items: Sequence[RecordItem]) -> list[int | None]:
        """``Store.record_many``: each item (validated by the caller), all in one transaction.

        Plain checks (``records.is_plain``) of existing articles are written with one UPDATE and one
        INSERT for all of them; the rest one by one."""
        if not items:
            return []
        bases = self._bases([item.url for item in items if item.new_version is not None])
        # Compressed before the transaction opens, to keep it short; by item index.
        blobs = {i: version_blobs(item.new_version, bases.get(item.url))
                 for i, item in enumerate(items) if item.new_version is not None}
        source_ids = dict(self._source_ids)       # ids this transaction adds are kept once it commits
        numbers: list[int | None] = [None] * len(items)
        with self._transaction("record checks", write=True) as conn:
            if self._plain_sql_writes:
                numbers = write_checks(_sqlite3_connection(conn), items, blobs, source_ids)
            else:
                plain = [i for i, item in enumerate(items) if is_plain(item)]
                known = _article_ids(conn, [items[i].url for i in plain])
                bulk = [i for i in plain if items[i].url in known]
                _write_plain(conn, [(known[items[i].url], items[i]) for i in bulk],
                             {name: _cached_source_id(conn, name, source_ids) for name in
                              {items[i].source for i in bulk}})
                in_bulk = set(bulk)
                for i, item in enumerate(items):
                    if i not in in_bulk:
                        numbers[i] = self._write(conn, item, blobs.get(i), source_ids)
        self._source_ids = source_ids
        return numbers

    def _write(self, conn: Connection, item: RecordItem, blobs: tuple[Blob, Blob] | None,
               source_ids: dict[str, int]) -> int | None:
        # Statements are prebuilt and take parameters: building one per call cost more than running it.
        check = item.check
        source_id = _cached_source_id(conn, item.source, source_ids)
        article = _lock_article(conn, item.url, source_id, check)
        record_lines(conn, source_id, article.id, item.line_keys)

        changes = article_changes(item, article.id, source_id)
        # Consecutive failed checks, for the scheduler's backoff; any other outcome resets it.
        changes["failures"] = article.failures + 1 if check.outcome == "error" else 0

        number: int | None = None
        written: int | None = None
        new = item.new_version
        if new is not None and blobs is not None:
            if article.latest_version is not None and article.fingerprint == new.fingerprint:
                number = article.latest_version  # the caller's dedup missed it (a retry): no duplicate
            else:
                html, text = blobs
                ids = put_blobs(conn, [html, text])
                number = written = (article.latest_version or 0) + 1
                doc = new.document
                conn.execute(_INSERT_VERSION, {
                    "article_id": article.id, "number": number, "created_at": new.created_at,
                    "title": doc.title, "byline": doc.byline, "published": doc.published,
                    "modified": doc.modified, "final_url": check.final_url or doc.url,
                    "fingerprint": new.fingerprint, "text_blob": ids[text.sha256],
                    "html_blob": ids[html.sha256], "size": len(doc.text)})
                changes["latest_version"] = number
                changes["fingerprint"] = new.fingerprint

        # The SET clause is the keys of `changes` (minus the WHERE's "article"): untouched columns stay.
        conn.execute(_UPDATE_ARTICLE, changes)
        conn.execute(_INSERT_CHECK, check_row(article.id, check, written))
        return number

    def _bases(self, urls: Sequence[str]) -> dict[str, tuple[Base | None, Base | None]]:
        """The (text, HTML) blobs of each article's latest version, which its next version's blobs are
        compressed against, read before the write transaction opens to keep that short.

        Another writer may add a version in between; a delta against the version before it is then
        a little larger, never wrong: its base is committed, and blobs never change."""
        found: dict[str, tuple[Base | None, Base | None]] = {}
        if not urls:
            return found
        with self._transaction("read the latest versions' blobs") as conn:
            wanted = list(dict.fromkeys(urls))
            for start in range(0, len(wanted), IN_CHUNK):
                for url, text_id, html_id in conn.execute(_LATEST_BLOBS, {"urls": wanted[start:start + IN_CHUNK]}):
                    found[url] = (_readable_base(conn, text_id), _readable_base(conn, html_id))
        return found

    def boilerplate(self, source: str, *, min_articles: int = 3, min_percent: int = 20) -> frozenset[str]:
        """The line keys learned as boilerplate of ``source``.

        A line is learned when it was recorded for at least ``min_articles`` distinct articles of the
        source and for at least ``min_percent`` per cent of its articles that have a version. Learning is
        kept: a line learned once stays boilerplate even when its share later falls (a retired sign-off
        in old versions of a growing source), so this call writes the newly learned lines.
        """
        with self._transaction(f"learn the boilerplate of source {source!r}", write=True) as conn:
            return learn_boilerplate(conn, source, min_articles, min_percent)

    def articles_with_versions(self, source: str) -> int:
        """How many articles of ``source`` have at least one version (boilerplate's share is of these)."""
        with self._transaction(f"count the articles of source {source!r}") as conn:
            return articles_with_versions(conn, source)

    # -- reading ---------------------------------------------------------------------------------

    def states(self, wanted: Sequence[str]) -> dict[str, ArticleState]:
        """``Store.states``, of distinct URLs."""
        found: dict[str, ArticleState] = {}
        with self._transaction("read article states") as conn:
            for start in range(0, len(wanted), IN_CHUNK):
                chunk = wanted[start:start + IN_CHUNK]
                for row in conn.execute(_STATE_QUERY.where(articles.c.url.in_(chunk))):
                    found[row.url] = _state(row)
        return found

    def articles(self, source: str | None = None) -> list[ArticleState]:
        """Every article (of one source if given), ordered by URL."""
        query = _STATE_QUERY.order_by(articles.c.url)
        if source is not None:
            query = query.where(sources.c.name == source)
        with self._transaction("list articles") as conn:
            return [_state(row) for row in conn.execute(query)]

    def latest_version(self, url: str) -> Version | None:
        """The newest version of an article, or None if it has none (or is unknown)."""
        with self._transaction(f"read the latest version of {url}") as conn:
            row = conn.execute(_LATEST_VERSION, {"url": url}).first()
            return None if row is None else _version(conn, url, row)

    def version_with_fingerprint(self, url: str, fingerprint: str) -> int | None:
        """The newest version of an article with this fingerprint (to recognise a revert), or None."""
        with self._transaction(f"look up a version of {url}") as conn:
            return conn.execute(_VERSION_WITH_FINGERPRINT, {"url": url, "fingerprint": fingerprint}).scalar()

    def version(self, url: str, number: int) -> Version:
        """Version ``number`` of an article; NotFound says which versions exist."""
        with self._transaction(f"read version {number} of {url}") as conn:
            row = conn.execute(_VERSION_QUERY.where(
                and_(articles.c.url == url, versions.c.number == number))).first()
            if row is None:
                raise _version_not_found(conn, url, number)
            return _version(conn, url, row)

    def history(self, url: str) -> list[VersionSummary]:
        """Every version of an article, oldest first."""
        with self._transaction(f"read the history of {url}") as conn:
            article_id = _article_id(conn, url)
            rows = conn.execute(
                select(versions.c.number, versions.c.created_at, versions.c.title, versions.c.size)
                .where(versions.c.article_id == article_id).order_by(versions.c.number))
            return [VersionSummary(number=r.number, created_at=r.created_at, title=r.title, size=r.size)
                    for r in rows]

    def raw_html(self, url: str, number: int) -> bytes:
        """The HTML that version ``number`` was extracted from, byte for byte."""
        with self._transaction(f"read the HTML of version {number} of {url}") as conn:
            blob = conn.execute(select(versions.c.html_blob).join(articles).where(
                and_(articles.c.url == url, versions.c.number == number))).scalar()
            if blob is None:
                raise _version_not_found(conn, url, number)
            return get_blob(conn, blob)

    def checks(self, url: str, limit: int = 50) -> list[CheckRecord]:
        """The last ``limit`` checks of an article, newest first."""
        with self._transaction(f"read the checks of {url}") as conn:
            article_id = _article_id(conn, url)
            rows = conn.execute(select(checks).where(checks.c.article_id == article_id)
                                .order_by(checks.c.checked_at.desc(), checks.c.id.desc()).limit(limit))
            return [CheckRecord(
                checked_at=r.checked_at, outcome=r.outcome, status=r.status,
                validators=Validators(etag=r.etag, last_modified=r.last_modified),
                wire_bytes=r.wire_bytes, body_bytes=r.body_bytes, duration=r.duration, error=r.error,
                final_url=r.final_url) for r in rows]

    # -- plumbing --------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, action: str, *, write: bool = False) -> Iterator[Connection]:
        """One transaction; database errors become a StoreError saying what was being done."""
        if self._closed:
            raise StoreError(f"cannot {action}: the store is closed")
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(sqlite_begin="IMMEDIATE")
                with conn.begin():
                    yield conn
        except (SQLAlchemyError, sqlite3.Error) as exc:     # sqlite3's own: from write_checks
            reason = getattr(exc, "orig", None) or exc
            raise StoreError(f"cannot {action}: {reason}") from exc


def _sqlite3_connection(conn: Connection) -> sqlite3.Connection:
    """The sqlite3 connection under a SQLAlchemy one (of the pysqlite driver, the one newsmon uses)."""
    dbapi = conn.connection.dbapi_connection
    assert isinstance(dbapi, sqlite3.Connection)
    return dbapi


def _readable_base(conn: Connection, blob_id: int) -> Base | None:
    """The blob as a base, or None if it cannot be read: a damaged latest version must not stop the
    next one from being stored (standalone, then)."""
    try:
        return get_base(conn, blob_id)
    except StoreError:
        return None


# The statements of the calls made for every changed article are built once, with parameters: building
# one (and SQLAlchemy's cache key of it) cost more than running it, about 0.15 ms a statement on SQLite.
_LATEST_BLOBS = (select(articles.c.url, versions.c.text_blob, versions.c.html_blob)
                 .join(versions, and_(versions.c.article_id == articles.c.id,
                                      versions.c.number == articles.c.latest_version))
                 .where(articles.c.url.in_(bindparam("urls", expanding=True))))


_SOURCE_ID = select(sources.c.id).where(sources.c.name == bindparam("name"))
_LOCK_ARTICLE = (select(articles.c.id, articles.c.latest_version, articles.c.fingerprint, articles.c.failures)
                 .where(articles.c.url == bindparam("url")).with_for_update())
_UPDATE_ARTICLE = update(articles).where(articles.c.id == bindparam("article"))
_INSERT_VERSION = insert(versions)
_INSERT_CHECK = insert(checks)


def _cached_source_id(conn: Connection, name: str, cache: dict[str, int]) -> int:
    if name not in cache:
        cache[name] = _source_id(conn, name)
    return cache[name]


def _article_ids(conn: Connection, urls: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(urls), IN_CHUNK):
        chunk = urls[start:start + IN_CHUNK]
        found.update((url, ident) for url, ident in
                     conn.execute(select(articles.c.url, articles.c.id).where(articles.c.url.in_(chunk))))
    return found


def _write_plain(conn: Connection, rows: Sequence[tuple[int, RecordItem]], source_ids: dict[str, int]) -> None:
    """Checks without a version or lines, of articles that exist: one statement per shape of update."""
    if not rows:
        return
    shapes: dict[tuple[bool, tuple[str, ...]], list[dict[str, Any]]] = {}
    for article_id, item in rows:
        changes = article_changes(item, article_id, source_ids[item.source])
        failed = item.check.outcome == "error"
        shapes.setdefault((failed, tuple(sorted(changes))), []).append(changes)
    for (failed, _), group in shapes.items():
        # The failure count is counted up in SQL, so the rows need not be read first.
        statement = _UPDATE_ARTICLE.values(failures=articles.c.failures + 1 if failed else 0)
        conn.execute(statement, group)
    conn.execute(_INSERT_CHECK, [check_row(article_id, item.check, None) for article_id, item in rows])


def _source_id(conn: Connection, name: str) -> int:
    insert_ignore(conn, sources, [{"name": name}], key="name")
    return int(conn.execute(_SOURCE_ID, {"name": name}).scalar_one())


def _lock_article(conn: Connection, url: str, source_id: int, check: CheckRecord) -> _AnyRow:
    """The article's id, latest version, fingerprint and failures, creating the row if new.

    FOR UPDATE (ignored by SQLite, whose IMMEDIATE transaction already excludes other writers) makes
    PostgreSQL workers that check the same article take turns, so both cannot claim number latest+1.
    """
    row = conn.execute(_LOCK_ARTICLE, {"url": url}).first()
    if row is None:
        insert_ignore(conn, articles, [{"url": url, "source_id": source_id, "first_seen": check.checked_at,
                                        "gone": False, "failures": 0}], key="url")
        row = conn.execute(_LOCK_ARTICLE, {"url": url}).one()
    return row


_STATE_QUERY = select(
    articles.c.url, sources.c.name.label("source"), articles.c.latest_version, articles.c.fingerprint,
    articles.c.etag, articles.c.last_modified, articles.c.gone, articles.c.body_sha256,
    articles.c.last_checked, articles.c.pending_fingerprint,
).join(sources, articles.c.source_id == sources.c.id)


def _state(row: _AnyRow) -> ArticleState:
    return ArticleState(
        url=row.url, source=row.source, latest_version=row.latest_version, fingerprint=row.fingerprint,
        validators=Validators(etag=row.etag, last_modified=row.last_modified), gone=bool(row.gone),
        body_sha256=row.body_sha256, last_checked=row.last_checked, pending_fingerprint=row.pending_fingerprint)


# A version's HTML is named by its blob's key (Version.html_sha256): the one join to blobs.
_VERSION_QUERY = select(
    versions.c.number, versions.c.created_at, versions.c.title, versions.c.byline, versions.c.published,
    versions.c.modified, versions.c.final_url, versions.c.fingerprint, versions.c.text_blob,
    blob_table.c.sha256.label("html_sha256"),
).join(articles, versions.c.article_id == articles.c.id).join(blob_table, blob_table.c.id == versions.c.html_blob)


_LATEST_VERSION = _VERSION_QUERY.where(articles.c.url == bindparam("url")).order_by(versions.c.number.desc()).limit(1)
_VERSION_WITH_FINGERPRINT = (
    select(versions.c.number).join(articles, versions.c.article_id == articles.c.id)
    .where(and_(articles.c.url == bindparam("url"), versions.c.fingerprint == bindparam("fingerprint")))
    .order_by(versions.c.number.desc()).limit(1))


def _version(conn: Connection, url: str, row: _AnyRow) -> Version:
    text = get_blob(conn, row.text_blob).decode("utf-8")
    return Version(
        url=url, number=row.number, created_at=row.created_at, title=row.title, text=text,
        byline=row.byline, published=row.published, modified=row.modified, final_url=row.final_url,
        html_sha256=row.html_sha256, text_sha256=row.fingerprint)


def _article_id(conn: Connection, url: str) -> int:
    article_id = conn.execute(select(articles.c.id).where(articles.c.url == url)).scalar()
    if article_id is None:
        raise NotFound(f"{url} is not in the store")
    return int(article_id)


def _version_not_found(conn: Connection, url: str, number: int) -> NotFound:
    article_id = _article_id(conn, url)  # raises the "not in the store" NotFound itself
    low, high = conn.execute(select(func.min(versions.c.number), func.max(versions.c.number))
                             .where(versions.c.article_id == article_id)).one()
    if low is None:
        return NotFound(f"no version {number} of {url}; it has no versions yet")
    span = f"version {low}" if low == high else f"versions {low}-{high}"
    return NotFound(f"no version {number} of {url}; it has {span}")

