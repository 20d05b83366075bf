"""The store: what a check writes (checks, versions, blobs) and what readers ask for (versions, history).

``Store`` is what the rest of newsmon uses. Its work is done by ``SqlStore`` (monitor/store/sql_store.py,
SQLAlchemy, either dialect), opened on first need; on a SQLite file at the current revision, everything a
check asks goes through plain ``sqlite3`` instead (monitor/store/plain_sqlite.py): the states of its
articles, their checks and new versions, a changed article's previous version and the version with its
fingerprint, and the source's boilerplate. A checking process then never imports SQLAlchemy, nor does
drawing the pages of the articles it changed (monitor/store/reporting.py reads through the same
connection), and a changed article costs the store far less CPU. The other reads (``version``,
``history``, ``checks``, ...) and the modules that keep their own tables (``engine``) use SQLAlchemy.

Every ``record`` is one transaction: the check row, the article's new state, the version and its blobs
are all committed or none is, so a process killed at any moment leaves only complete versions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from monitor.errors import StoreError
from monitor.models import Validators, Version, VersionSummary
from monitor.store.plain_sqlite import PlainSqlite
from monitor.store.records import ArticleState, CheckRecord, NewVersion, RecordItem, is_sha256, validate

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from monitor.store.sql_store import SqlStore


def open_store(url: str) -> Store:
    """Open (and create if needed) the store at a SQLAlchemy URL: ``sqlite:///PATH`` or PostgreSQL."""
    plain = PlainSqlite.open(url)
    store = Store(url, plain)
    if plain is None:
        store.engine     # noqa: B018 -- opens (creates, upgrades or refuses) the database now, not at first use
    return store


class Store:
    """Articles, their versions and checks in one database. A context manager; ``close()`` when done."""

    def __init__(self, url: str, plain: PlainSqlite | None = None) -> None:
        self._url = url
        self._plain = plain
        self._sql_store: SqlStore | None = None
        self._closed = False

    @property
    def engine(self) -> Engine:
        """The underlying engine, for modules that keep their own tables in the same database."""
        return self._sql.engine

    @property
    def _sql(self) -> SqlStore:
        if self._closed:
            raise StoreError("cannot use the store: it is closed")
        if self._sql_store is None:
            from monitor.store.engine import open_engine
            from monitor.store.sql_store import SqlStore

            self._sql_store = SqlStore(open_engine(self._url))
        return self._sql_store

    @property
    def plain_sqlite(self) -> PlainSqlite | None:
        """The plain-SQLite connection, if there is one (a SQLite file at the current revision) and the store
        is open, for the reads that go around SQLAlchemy (here, and monitor/store/reporting.py); None sends
        them to SQLAlchemy, which refuses them on a closed store."""
        return None if self._closed else self._plain

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._plain is not None:
                self._plain.close()
            if self._sql_store is not None:
                self._sql_store.close()

    def refuse_writes(self) -> None:
        """Make the store read-only from now on, whichever connection a call goes through (``newsmon
        serve``): its plain-SQLite connection, and each transaction of its engine (opened here if not yet).
        A write then fails with a StoreError."""
        self._sql.refuse_writes()        # first: refuses a closed store
        if self._plain is not None:
            self._plain.refuse_writes()

    # -- writing ---------------------------------------------------------------------------------

    def record(self, url: str, source: str, check: CheckRecord, *, new_version: NewVersion | None = None,
               validators: Validators | None = None, body_sha256: str | None = None,
               gone: bool | None = None, pending_fingerprint: str | None = None,
               line_keys: Sequence[str] = ()) -> int | None:
        """Record one check, and its new version if given. Returns the version number written, the
        latest number if ``new_version`` has the latest version's fingerprint, or None.

        ``line_keys`` (the page's short paragraphs, see monitor.boilerplate) are kept for the article's
        source in the same transaction, for ``boilerplate``."""
        item = RecordItem(url=url, source=source, check=check, new_version=new_version,
                          validators=validators, body_sha256=body_sha256, gone=gone,
                          pending_fingerprint=pending_fingerprint, line_keys=tuple(line_keys))
        return self.record_many([item])[0]

    def record_many(self, items: Sequence[RecordItem]) -> list[int | None]:
        """``record`` for each item, all in one transaction: if one fails, none is stored.

        Checks that only touch an existing article's row (no version, no lines: an unchanged or failed
        check, most of a cycle) are written with one UPDATE and one INSERT for all of them; the rest one
        by one."""
        for item in items:
            validate(item)
        if not items:
            return []
        plain = self.plain_sqlite
        return plain.record_many(items) if plain is not None else self._sql.record_many(items)

    def boilerplate(self, source: str, *, min_articles: int = 3, min_percent: int = 20) -> frozenset[str]:
        """The line keys learned as boilerplate of ``source``.

        A line is learned when it was recorded for at least ``min_articles`` distinct articles of the
        source and for at least ``min_percent`` per cent of its articles that have a version. Learning is
        kept: a line learned once stays boilerplate even when its share later falls (a retired sign-off
        in old versions of a growing source), so this call writes the newly learned lines.
        """
        plain = self.plain_sqlite
        if plain is not None:
            return plain.boilerplate(source, min_articles, min_percent)
        return self._sql.boilerplate(source, min_articles=min_articles, min_percent=min_percent)

    def articles_with_versions(self, source: str) -> int:
        """How many articles of ``source`` have at least one version (boilerplate's share is of these)."""
        plain = self.plain_sqlite
        return plain.articles_with_versions(source) if plain is not None else self._sql.articles_with_versions(source)

    # -- reading ---------------------------------------------------------------------------------

    def states(self, urls: Iterable[str]) -> dict[str, ArticleState]:
        """The state of each known URL; unknown URLs are absent from the result."""
        wanted = list(dict.fromkeys(urls))
        plain = self.plain_sqlite
        return plain.states(wanted) if plain is not None else self._sql.states(wanted)

    def articles(self, source: str | None = None) -> list[ArticleState]:
        """Every article (of one source if given), ordered by URL."""
        return self._sql.articles(source)

    def latest_version(self, url: str) -> Version | None:
        """The newest version of an article, or None if it has none (or is unknown)."""
        plain = self.plain_sqlite
        return plain.latest_version(url) if plain is not None else self._sql.latest_version(url)

    def version_with_fingerprint(self, url: str, fingerprint: str) -> int | None:
        """The newest version of an article with this fingerprint (to recognise a revert), or None."""
        if not is_sha256(fingerprint):
            return None                     # stored fingerprints are sha256 digests: no version has it
        plain = self.plain_sqlite
        return (plain.version_with_fingerprint(url, fingerprint) if plain is not None
                else self._sql.version_with_fingerprint(url, fingerprint))

    def version(self, url: str, number: int) -> Version:
        """Version ``number`` of an article; NotFound says which versions exist."""
        return self._sql.version(url, number)

    def history(self, url: str) -> list[VersionSummary]:
        """Every version of an article, oldest first."""
        return self._sql.history(url)

    def raw_html(self, url: str, number: int) -> bytes:
        """The HTML that version ``number`` was extracted from, byte for byte."""
        return self._sql.raw_html(url, number)

    def checks(self, url: str, limit: int = 50) -> list[CheckRecord]:
        """The last ``limit`` checks of an article, newest first."""
        return self._sql.checks(url, limit)
