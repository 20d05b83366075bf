"""What a check asks of a SQLite store, in plain SQL through the standard library's ``sqlite3``.

Most of a cycle is unchanged articles: a read of their states before fetching, then one bulk write of
their checks. Importing SQLAlchemy costs a start of ``newsmon check`` about 0.15 s, half its start-up and
more than checking a thousand unchanged articles, so ``PlainSqlite`` does these two on a connection of its
own, and ``monitor.store.Store`` opens its SQLAlchemy engine only when anything else is asked of it.

A changed article costs more: its previous version and whether its new text is an older version's are
read, its source's boilerplate is learned (once per run), then its check is written with the new
version's blobs. Through SQLAlchemy every transaction and statement of that cost about ten times what
SQLite takes to run it, most of the store's CPU besides compression, and importing SQLAlchemy costs each
checking process about 0.2 s of CPU; so ``PlainSqlite`` does all of it, each write in a transaction of
its own (BEGIN IMMEDIATE), and a process checking a SQLite store at the current revision never imports
SQLAlchemy. The report pages it then draws read through the same connection (monitor/store/reporting.py).
``SqlStore`` runs ``write_checks`` too, on the connection of its own write transaction, for a SQLite store
opened without this connection (a new or just upgraded file).

Nothing else hooks the engine's transactions but ``newsmon serve``, which makes every transaction of its
store read-only; ``refuse_writes`` does the same here, so its guarantee covers this connection as well.

The statements mean exactly what ``monitor.store.sql_store`` and ``monitor.store.lines`` do for the same
calls, in the same order, values included (dates and hashes as monitor.store.schema's column types store
them on SQLite, by the functions of monitor/store/sqlite_values.py); blobs are made and decoded by
monitor/store/blob_codec.py for both. tests/test_plain_sqlite.py holds the two to the same rows and results,
and tests/test_store.py runs on a store opened each way.

Only an existing file at the current revision is opened here; anything else (a new, older, foreign or
damaged database, PostgreSQL, a URL with options) is left to the full open, which creates, upgrades or
refuses it with its reason.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.errors import StoreError
from monitor.models import Validators, Version
from monitor.store.records import IN_CHUNK, ArticleState, RecordItem, article_changes, check_row, is_plain
from monitor.store.revision import SCHEMA_REVISION, SCHEMA_VERSION, TABLE_COLUMNS, VERSION_TABLE
from monitor.store.sqlite_file import check_sqlite_file, configure_connection
from monitor.store.sqlite_values import read_time, sha256_bytes, sha256_text, sqlite_time

# monitor.store.blob_codec is imported where blobs are made or read, not here: zstandard costs about 8 ms of
# CPU to import, and a cycle of unchanged articles never touches a blob.
if TYPE_CHECKING:
    from monitor.store.blob_codec import Base, Blob, BlobCache

_PREFIX = "sqlite:///"

_STATES = ("SELECT a.url, s.name, a.latest_version, a.fingerprint, a.etag, a.last_modified, a.gone, "
           "a.body_sha256, a.last_checked, a.pending_fingerprint "
           "FROM articles AS a JOIN sources AS s ON a.source_id = s.id WHERE a.url IN ({})")
_LATEST_VERSION = ("SELECT v.number, v.created_at, v.title, v.byline, v.published, v.modified, v.final_url, "
                   "v.fingerprint, v.text_blob, h.sha256 FROM versions AS v JOIN articles AS a "
                   "ON v.article_id = a.id JOIN blobs AS h ON h.id = v.html_blob "
                   "WHERE a.url = ? ORDER BY v.number DESC LIMIT 1")
_VERSION_WITH_FINGERPRINT = ("SELECT v.number FROM versions AS v JOIN articles AS a ON v.article_id = a.id "
                             "WHERE a.url = ? AND v.fingerprint = ? ORDER BY v.number DESC LIMIT 1")
_LATEST_BLOBS = ("SELECT a.url, v.text_blob, v.html_blob FROM articles AS a JOIN versions AS v "
                 "ON v.article_id = a.id AND v.number = a.latest_version WHERE a.url IN ({})")
# A blob's row and its bases' rows, as monitor.store.blobs reads them (its _chain_query).
_CHAIN = ("WITH RECURSIVE chain(id, sha256, codec, base, data, hop) AS ("
          "SELECT id, sha256, codec, base, data, 0 FROM blobs WHERE id = :id "
          "UNION ALL SELECT b.id, b.sha256, b.codec, b.base, b.data, chain.hop + 1 FROM blobs AS b "
          "JOIN chain ON b.id = chain.base WHERE chain.codec = :delta AND chain.hop < :limit) "
          "SELECT id, sha256, codec, base, data FROM chain")
# Boilerplate learning, as monitor.store.lines makes it (its _SOURCE_ID, _learn_statement, _LEARNED and
# _ARTICLES_WITH_VERSIONS): the share compared in integers, see _learn_statement.
_SOURCE_ID = "SELECT id FROM sources WHERE name = ?"
_ARTICLES_WITH_VERSIONS = "SELECT count(*) FROM articles WHERE source_id = ? AND latest_version IS NOT NULL"
_LEARN_BOILERPLATE = ("INSERT INTO source_boilerplate (source_id, line_key) SELECT source_id, line_key "
                      "FROM source_lines WHERE source_id = :source_id GROUP BY source_id, line_key "
                      "HAVING count(*) >= :min_articles AND count(*) * 100 >= (SELECT count(*) FROM articles "
                      "WHERE source_id = :source_id AND latest_version IS NOT NULL) * :min_percent "
                      "ON CONFLICT (source_id, line_key) DO NOTHING")
_LEARNED = "SELECT line_key FROM source_boilerplate WHERE source_id = ?"
# A check's writes, as SqlStore makes them (its _LOCK_ARTICLE, insert_ignore of the article, the lines and
# the blobs, _INSERT_VERSION).
_ARTICLE = "SELECT id, latest_version, fingerprint, failures FROM articles WHERE url = ?"
_INSERT_ARTICLE = ("INSERT INTO articles (url, source_id, first_seen, gone, failures) VALUES (?, ?, ?, 0, 0) "
                   "ON CONFLICT (url) DO NOTHING")
_INSERT_LINE = ("INSERT INTO source_lines (source_id, line_key, article_id) VALUES (?, ?, ?) "
                "ON CONFLICT (source_id, line_key, article_id) DO NOTHING")
_INSERT_BLOB = ("INSERT INTO blobs (sha256, size, codec, base, data) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (sha256) DO NOTHING")
_BLOB_ID = "SELECT id FROM blobs WHERE sha256 = ?"
_VERSION_COLUMNS = ("article_id", "number", "created_at", "title", "byline", "published", "modified", "final_url",
                    "fingerprint", "text_blob", "html_blob", "size")
_INSERT_VERSION = (f"INSERT INTO versions ({', '.join(_VERSION_COLUMNS)}) "
                   f"VALUES ({', '.join(':' + c for c in _VERSION_COLUMNS)})")
_CHECK_COLUMNS = ("article_id", "checked_at", "outcome", "status", "etag", "last_modified", "wire_bytes",
                  "body_bytes", "duration", "error", "final_url", "version")
_INSERT_CHECK = (f"INSERT INTO checks ({', '.join(_CHECK_COLUMNS)}) "
                 f"VALUES ({', '.join(':' + c for c in _CHECK_COLUMNS)})")


def database_path(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL, or None for anything this module leaves to SQLAlchemy
    (PostgreSQL, ``:memory:``, URL options or escapes, whose meaning SQLAlchemy's parser decides)."""
    if not url.startswith(_PREFIX):
        return None
    database = url[len(_PREFIX):]
    if not database or database == ":memory:" or any(c in database for c in "?%#"):
        return None
    return Path(database)


def read_blob(conn: sqlite3.Connection, blob_id: int, cache: BlobCache | None = None) -> Base:
    """A blob decompressed, with its depth, as ``blobs.get_base`` reads it; ``cache``: the blobs already
    decompressed in this transaction, which it gains those decompressed here."""
    from monitor.store.blob_codec import CHAIN_LIMIT, DELTA_CODEC, decode_chain

    below = cache.get(blob_id) if cache is not None else None
    if below is not None:
        return below
    rows = {ident: (sha256.hex(), codec, base, data) for ident, sha256, codec, base, data in
            conn.execute(_CHAIN, {"id": blob_id, "delta": DELTA_CODEC, "limit": CHAIN_LIMIT})}
    return decode_chain(blob_id, rows, cache)


class PlainSqlite:
    """One connection to a SQLite store at the current revision: what a check reads and writes."""

    def __init__(self, connection: sqlite3.Connection, where: str) -> None:
        self._connection = connection
        self._where = where
        self._lock = threading.Lock()     # one statement sequence at a time: the daemon shares its store
        # Source name -> id, of committed rows only (sources are never deleted): a cycle of many small
        # writes need not insert-or-select its sources in every transaction.
        self._source_ids: dict[str, int] = {}

    @classmethod
    def open(cls, url: str) -> PlainSqlite | None:
        """The store at ``url`` if it is an existing SQLite file at the current revision, else None.

        A file that is not a SQLite database at all is refused here as the full open refuses it; the
        checks of the schema only read, before the connection's settings write anything (WAL mode)."""
        path = database_path(url)
        if path is None or not path.is_file():
            return None
        check_sqlite_file(path)
        try:
            connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error:
            return None
        try:
            if not _is_current(connection):
                connection.close()
                return None
            configure_connection(connection)
        except sqlite3.Error:
            connection.close()
            return None
        return cls(connection, str(path))

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def states(self, urls: Sequence[str]) -> dict[str, ArticleState]:
        """``Store.states``."""
        found: dict[str, ArticleState] = {}
        with self._transaction("read article states", "BEGIN") as conn:
            for start in range(0, len(urls), IN_CHUNK):
                chunk = urls[start:start + IN_CHUNK]
                for row in conn.execute(_STATES.format(", ".join("?" * len(chunk))), chunk):
                    url, source, latest, fingerprint, etag, last_modified, gone, body, checked, pending = row
                    found[url] = ArticleState(
                        url=url, source=source, latest_version=latest, fingerprint=sha256_text(fingerprint),
                        validators=Validators(etag=etag, last_modified=last_modified), gone=bool(gone),
                        body_sha256=sha256_text(body), last_checked=None if checked is None else read_time(checked),
                        pending_fingerprint=sha256_text(pending))
        return found

    def latest_version(self, url: str) -> Version | None:
        """``Store.latest_version``."""
        with self._transaction(f"read the latest version of {url}", "BEGIN") as conn:
            row = conn.execute(_LATEST_VERSION, (url,)).fetchone()
            if row is None:
                return None
            number, created_at, title, byline, published, modified, final_url, fingerprint, text_blob, html_key = row
            return Version(url=url, number=number, created_at=read_time(created_at),
                           title=title, text=read_blob(conn, text_blob).raw.decode("utf-8"), byline=byline,
                           published=published, modified=modified, final_url=final_url, html_sha256=html_key.hex(),
                           text_sha256=fingerprint.hex())

    def version_with_fingerprint(self, url: str, fingerprint: str) -> int | None:
        """``Store.version_with_fingerprint``."""
        with self._transaction(f"look up a version of {url}", "BEGIN") as conn:
            row = conn.execute(_VERSION_WITH_FINGERPRINT, (url, sha256_bytes(fingerprint))).fetchone()
        return None if row is None else int(row[0])

    def bases(self, urls: Sequence[str]) -> dict[str, tuple[Base | None, Base | None]]:
        """What ``SqlStore._bases`` reads: the (text, HTML) blobs of each article's latest version, None for
        one that cannot be read (the next version is then stored standalone)."""
        found: dict[str, tuple[Base | None, Base | None]] = {}
        if not urls:
            return found
        wanted = list(dict.fromkeys(urls))
        with self._transaction("read the latest versions' blobs", "BEGIN") as conn:
            for start in range(0, len(wanted), IN_CHUNK):
                chunk = wanted[start:start + IN_CHUNK]
                for url, text_id, html_id in conn.execute(_LATEST_BLOBS.format(", ".join("?" * len(chunk))),
                                                          chunk).fetchall():
                    found[url] = (_readable_base(conn, text_id), _readable_base(conn, html_id))
        return found

    def record_many(self, items: Sequence[RecordItem]) -> list[int | None]:
        """``Store.record_many`` of validated items, as ``SqlStore.record_many`` does it on SQLite: the blobs
        of new versions compressed against the latest ones (read first, in a transaction of their own, to
        keep the write short), then every row in one write transaction (``write_checks``)."""
        blobs: dict[int, tuple[Blob, Blob]] = {}
        if any(item.new_version is not None for item in items):
            from monitor.store.blob_codec import version_blobs

            bases = self.bases([item.url for item in items if item.new_version is not None])
            blobs = {i: version_blobs(item.new_version, bases.get(item.url))
                     for i, item in enumerate(items) if item.new_version is not None}
        sources = dict(self._source_ids)     # kept only once this transaction commits
        with self._transaction("record checks", "BEGIN IMMEDIATE") as conn:
            numbers = write_checks(conn, items, blobs, sources)
        self._source_ids = sources
        return numbers

    def boilerplate(self, source: str, min_articles: int, min_percent: int) -> frozenset[str]:
        """``Store.boilerplate``: the statements of ``lines.learn_boilerplate``, in a write transaction."""
        with self._transaction(f"learn the boilerplate of source {source!r}", "BEGIN IMMEDIATE") as conn:
            row = conn.execute(_SOURCE_ID, (source,)).fetchone()
            if row is None:
                return frozenset()
            conn.execute(_LEARN_BOILERPLATE, {"source_id": row[0], "min_articles": min_articles,
                                              "min_percent": min_percent})
            return frozenset(key.hex() for (key,) in conn.execute(_LEARNED, (row[0],)))

    def articles_with_versions(self, source: str) -> int:
        """``Store.articles_with_versions``."""
        with self._transaction(f"count the articles of source {source!r}", "BEGIN") as conn:
            row = conn.execute(_SOURCE_ID, (source,)).fetchone()
            if row is None:
                return 0
            return int(conn.execute(_ARTICLES_WITH_VERSIONS, (row[0],)).fetchone()[0])

    @contextmanager
    def reading(self, action: str) -> Iterator[sqlite3.Connection]:
        """A read transaction on this connection, for the report's reads (monitor/store/reporting.py);
        a database error becomes a StoreError saying ``cannot {action}``."""
        with self._transaction(action, "BEGIN") as conn:
            yield conn

    def refuse_writes(self) -> None:
        """Make this connection read-only from now on (``PRAGMA query_only``): any write fails."""
        with self._lock:
            self._connection.execute("PRAGMA query_only = ON")

    @contextmanager
    def _transaction(self, action: str, begin: str) -> Iterator[sqlite3.Connection]:
        """One transaction; database errors become a StoreError saying what was being done, as in SqlStore."""
        with self._lock:
            conn = self._connection
            try:
                conn.execute(begin)
                try:
                    yield conn
                except BaseException:
                    # SQLite may have rolled back already: after some errors (a full disk, SQLITE_FULL) it
                    # ends the transaction itself, and a ROLLBACK would hide that error behind its own.
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreError(f"cannot {action}: {exc}") from exc


def _is_current(connection: sqlite3.Connection) -> bool:
    """Whether the database is newsmon's, at the current revision, with every table and column of it (a
    missing table is made, a missing column refused, by the full open)."""
    tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {VERSION_TABLE, *TABLE_COLUMNS} <= tables:
        return False
    stored = connection.execute("SELECT value FROM newsmon_meta WHERE key = 'schema_version'").fetchone()
    revision = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    if stored != (str(SCHEMA_VERSION),) or revision != [(SCHEMA_REVISION,)]:
        return False
    for table, wanted in TABLE_COLUMNS.items():
        have = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        if not wanted <= have:
            return False
    return True


def write_checks(conn: sqlite3.Connection, items: Sequence[RecordItem], blobs: dict[int, tuple[Blob, Blob]],
                 sources: dict[str, int]) -> list[int | None]:
    """What ``SqlStore.record_many`` writes, by the same statements in the same order, in plain SQL on the
    connection of a write transaction: plain checks (``records.is_plain``) of stored articles with one
    UPDATE per shape of change and one INSERT, the rest one by one (``_write``); ``blobs`` holds the (HTML,
    text) blobs of the new version of ``items[i]``, by i. ``sources`` maps source names to the ids known,
    and gains the ones made here. Returns the version number of each item, as ``Store.record_many``."""
    numbers: list[int | None] = [None] * len(items)
    plain = [i for i, item in enumerate(items) if is_plain(item)]
    ids = _article_ids(conn, [items[i].url for i in plain])
    bulk = [i for i in plain if items[i].url in ids]
    for name in {items[i].source for i in bulk}:
        _source_id(conn, name, sources)
    _write_plain(conn, [(ids[items[i].url], items[i]) for i in bulk], sources)
    in_bulk = set(bulk)
    for i, item in enumerate(items):
        if i not in in_bulk:
            numbers[i] = _write(conn, item, blobs.get(i), sources)
    return numbers


def _write(conn: sqlite3.Connection, item: RecordItem, blobs: tuple[Blob, Blob] | None,
           sources: dict[str, int]) -> int | None:
    """One check, with its lines and its new version if any: ``SqlStore._write``."""
    check = item.check
    source_id = _source_id(conn, item.source, sources)
    row = conn.execute(_ARTICLE, (item.url,)).fetchone()
    if row is None:
        conn.execute(_INSERT_ARTICLE, (item.url, source_id, sqlite_time(check.checked_at)))
        row = conn.execute(_ARTICLE, (item.url,)).fetchone()
    article_id, latest, stored_key, failures = row
    stored_fingerprint = sha256_text(stored_key)
    conn.executemany(_INSERT_LINE, [(source_id, sha256_bytes(key), article_id)
                                    for key in dict.fromkeys(item.line_keys)])

    changes = article_changes(item, article_id, source_id)
    # Consecutive failed checks, for the scheduler's backoff; any other outcome resets it.
    changes["failures"] = failures + 1 if check.outcome == "error" else 0

    number: int | None = None
    written: int | None = None
    new = item.new_version
    if new is not None and blobs is not None:
        if latest is not None and stored_fingerprint == new.fingerprint:
            number = latest  # the caller's dedup missed it (a retry): no duplicate
        else:
            html, text = blobs
            ids = _put_blobs(conn, blobs)
            number = written = (latest or 0) + 1
            doc = new.document
            conn.execute(_INSERT_VERSION, _bound({
                "article_id": article_id, "number": number, "created_at": new.created_at,
                "title": doc.title, "byline": doc.byline, "published": doc.published,
                "modified": doc.modified, "final_url": check.final_url or doc.url,
                "fingerprint": new.fingerprint, "text_blob": ids[text.sha256], "html_blob": ids[html.sha256],
                "size": len(doc.text)}))
            changes["latest_version"] = number
            changes["fingerprint"] = new.fingerprint

    # The SET clause is the keys of `changes` (minus the WHERE's "article"): untouched columns stay.
    assignments = ", ".join(f"{key} = :{key}" for key in changes if key != "article")
    conn.execute(f"UPDATE articles SET {assignments} WHERE id = :article", _bound(changes))
    conn.execute(_INSERT_CHECK, _bound(check_row(article_id, check, written)))
    return number


def _article_ids(conn: sqlite3.Connection, urls: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(urls), IN_CHUNK):
        chunk = urls[start:start + IN_CHUNK]
        found.update(conn.execute(f"SELECT url, id FROM articles WHERE url IN ({', '.join('?' * len(chunk))})",
                                  chunk).fetchall())
    return found


def _source_id(conn: sqlite3.Connection, name: str, sources: dict[str, int]) -> int:
    """The source's id, its row made if new; ``sources`` keeps the ids known in this transaction."""
    if name not in sources:
        conn.execute("INSERT INTO sources (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,))
        sources[name] = conn.execute(_SOURCE_ID, (name,)).fetchone()[0]
    return sources[name]


def _write_plain(conn: sqlite3.Connection, rows: Sequence[tuple[int, RecordItem]], sources: dict[str, int]) -> None:
    """Checks without a version or lines, of articles that exist: one statement per shape of update."""
    if not rows:
        return
    shapes: dict[tuple[bool, tuple[str, ...]], list[dict[str, Any]]] = {}
    for article_id, item in rows:
        changes = _bound(article_changes(item, article_id, sources[item.source]))
        failed = item.check.outcome == "error"
        shapes.setdefault((failed, tuple(sorted(changes))), []).append(changes)
    for (failed, keys), group in shapes.items():
        # Consecutive failed checks, for the scheduler's backoff, counted up in SQL; others reset it.
        assignments = [f"{key} = :{key}" for key in keys if key != "article"]
        assignments.append("failures = failures + 1" if failed else "failures = 0")
        conn.executemany(f"UPDATE articles SET {', '.join(assignments)} WHERE id = :article", group)
    conn.executemany(_INSERT_CHECK, [_bound(check_row(article_id, item.check, None)) for article_id, item in rows])


def _put_blobs(conn: sqlite3.Connection, blobs: tuple[Blob, Blob]) -> dict[str, int]:
    """``blobs.put_blobs``: the blobs stored unless they are already, and their ids by key."""
    ids: dict[str, int] = {}
    for blob in blobs:                  # HTML and text may be the same bytes
        if blob.sha256 not in ids:
            key = sha256_bytes(blob.sha256)
            conn.execute(_INSERT_BLOB, (key, blob.size, blob.codec, blob.base, blob.data))
            ids[blob.sha256] = conn.execute(_BLOB_ID, (key,)).fetchone()[0]
    return ids


def _readable_base(conn: sqlite3.Connection, blob_id: int) -> Base | None:
    try:
        return read_blob(conn, blob_id)
    except StoreError:
        return None


# The columns holding a sha256 among those written through _bound, whose hex digests are stored as bytes.
_HASH_COLUMNS = frozenset({"fingerprint", "body_sha256", "pending_fingerprint"})


def _bound(row: dict[str, Any]) -> dict[str, Any]:
    """Values as SQLAlchemy binds them on SQLite (monitor.store.schema's types): datetimes and hashes as
    monitor/store/sqlite_values.py stores them, booleans as 0 or 1."""
    return {key: sqlite_time(value) if isinstance(value, datetime) else int(value) if isinstance(value, bool)
            else sha256_bytes(value) if key in _HASH_COLUMNS and value is not None
            else value for key, value in row.items()}
