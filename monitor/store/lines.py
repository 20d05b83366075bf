"""Lines per source, for learning boilerplate (the rules are in monitor/boilerplate.py).

A check hands the store the keys of the short paragraphs ("lines") of the page it extracted; they are
kept once per line and article (``source_lines``). A line found in at least ``min_articles`` distinct
articles of a source, and in at least ``min_percent`` per cent of the source's articles that have a
version, is boilerplate. Once learned it stays learned (``source_boilerplate``).

On a SQLite store at the current revision, ``Store`` learns and counts with the same statements in plain
SQL (monitor/store/plain_sqlite.py); a change here is made there too, and tests/test_plain_sqlite.py holds
the two to the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Executable

from monitor.store.schema import articles, dialect_insert, insert_ignore, source_boilerplate, source_lines, sources

_LINE_COLUMNS = ("source_id", "line_key", "article_id")


def record_lines(conn: Connection, source_id: int, article_id: int, keys: Sequence[str]) -> None:
    """Note that this article of this source has these lines (already noted lines are skipped)."""
    rows = [{"source_id": source_id, "line_key": key, "article_id": article_id} for key in dict.fromkeys(keys)]
    insert_ignore(conn, source_lines, rows, key=_LINE_COLUMNS)


_SOURCE_ID = select(sources.c.id).where(sources.c.name == bindparam("name"))
_ARTICLES_WITH_VERSIONS = (select(func.count()).select_from(articles)
                           .where(and_(articles.c.source_id == bindparam("source_id"),
                                       articles.c.latest_version.is_not(None))))
_LEARNED = select(source_boilerplate.c.line_key).where(source_boilerplate.c.source_id == bindparam("source_id"))


def articles_with_versions(conn: Connection, source: str) -> int:
    source_id = conn.execute(_SOURCE_ID, {"name": source}).scalar()
    if source_id is None:
        return 0
    return int(conn.execute(_ARTICLES_WITH_VERSIONS, {"source_id": source_id}).scalar_one())


def learn_boilerplate(conn: Connection, source: str, min_articles: int, min_percent: int) -> frozenset[str]:
    """Keep the lines that qualify now as learned, and return every line learned for the source."""
    source_id = conn.execute(_SOURCE_ID, {"name": source}).scalar()
    if source_id is None:
        return frozenset()
    conn.execute(_learn_statement(conn.dialect.name),
                 {"source_id": source_id, "min_articles": min_articles, "min_percent": min_percent})
    return frozenset(conn.execute(_LEARNED, {"source_id": source_id}).scalars())


@cache
def _learn_statement(dialect: str) -> Executable:
    """INSERT INTO source_boilerplate SELECT the qualifying lines ... ON CONFLICT DO NOTHING: one statement.

    The share is compared in integers (count * 100 >= percent * articles): 0.2 * 15 is 3.0000000000000004
    in floating point, which would make a line found in 3 of 15 articles miss the 20% it has.
    """
    articles_count = _ARTICLES_WITH_VERSIONS.scalar_subquery()
    found_in = func.count()
    qualifying = (
        select(source_lines.c.source_id, source_lines.c.line_key)
        .where(source_lines.c.source_id == bindparam("source_id"))   # a WHERE: SQLite's upsert needs one
        .group_by(source_lines.c.source_id, source_lines.c.line_key)
        .having(and_(found_in >= bindparam("min_articles"),
                     found_in * 100 >= articles_count * bindparam("min_percent"))))
    insert = dialect_insert(dialect)
    return (insert(source_boilerplate).from_select(["source_id", "line_key"], qualifying)
            .on_conflict_do_nothing(index_elements=["source_id", "line_key"]))
