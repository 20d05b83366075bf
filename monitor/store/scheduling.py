"""The daemon's state in the database: when each article is due, what discovery found, per-source figures.

Everything the daemon knows between two starts lives here, so a restart (or a crash) loses nothing:
``articles.next_check_at`` says when an article is due (NULL: as soon as possible), ``article_schedule``
keeps what the schedule needs besides (the unchanged streak, the article's age reference, whether it
was discovered, and a stop mark once it is too old), and ``feed_state`` keeps each feed's validators
for conditional GET and its last error.

The two tables are defined on the store's ``MetaData``, so ``open_store`` creates them with the rest
(``create_all`` is run at every open and adds tables a database lacks); this module must be imported
before the store is opened, which ``monitor.daemon`` and the CLI do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    Table,
    Text,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from monitor.models import Validators
from monitor.store.schema import UTCDateTime, articles, checks, insert_ignore, metadata, sources
from monitor.store.store import Store

__all__ = ["DueArticle", "FeedState", "Plan", "SourceStatus", "add_articles", "due_articles", "feed_validators",
           "move_article", "postpone", "record_feed", "save_plan", "save_plans", "source_status"]

article_schedule = Table(
    "article_schedule", metadata,
    Column("article_id", Integer, ForeignKey("articles.id"), primary_key=True),
    Column("streak", Integer, nullable=False, default=0),    # unchanged checks in a row
    Column("born", UTCDateTime),                             # publication date, else first seen
    Column("discovered", Boolean, nullable=False, default=False),   # from a feed: untrusted
    Column("stopped", Boolean, nullable=False, default=False),      # too old: never due again
)

feed_state = Table(
    "feed_state", metadata,
    Column("url", Text, primary_key=True),
    Column("source", Text, nullable=False),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_read", UTCDateTime),
    Column("found", Integer, nullable=False, default=0),     # articles listed at the last read
    Column("error", Text),                                   # the last read's error, NULL when it worked
    Column("error_at", UTCDateTime),
)


@dataclass(frozen=True)
class DueArticle:
    url: str
    source: str
    born: datetime              # age reference: publication date, else first seen
    streak: int
    discovered: bool
    latest_version: int | None


@dataclass(frozen=True)
class FeedState:
    url: str
    validators: Validators


@dataclass(frozen=True)
class SourceStatus:
    name: str
    articles: int               # known articles
    tracked: int                # of which still scheduled (not stopped for age)
    versions: int
    failing: int                # articles whose last check failed
    last_check: datetime | None
    next_check: datetime | None
    recent_errors: tuple[tuple[datetime, str, str], ...]   # (time, url, error), newest first
    feed_errors: tuple[tuple[str, str], ...]               # (feed URL, error)

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {"source": self.name, "articles": self.articles, "tracked": self.tracked,
                "versions": self.versions, "failing": self.failing, "last_check": iso(self.last_check),
                "next_check": iso(self.next_check),
                "recent_errors": [{"time": iso(t), "url": u, "error": e} for t, u, e in self.recent_errors],
                "feed_errors": [{"url": u, "error": e} for u, e in self.feed_errors]}


def _write(store: Store) -> Any:
    conn = store.engine.connect()
    conn.execution_options(sqlite_begin="IMMEDIATE")   # take SQLite's write lock at BEGIN (see engine.py)
    return conn


def _source_ids(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(names))
    insert_ignore(conn, sources, [{"name": n} for n in wanted], key="name")
    rows = conn.execute(select(sources.c.name, sources.c.id).where(sources.c.name.in_(wanted)))
    return {name: ident for name, ident in rows}


def add_articles(store: Store, items: Sequence[tuple[str, str, datetime | None]], *, now: datetime,
                 discovered: bool) -> int:
    """Track ``(url, source, published)`` items; returns how many were new. Known URLs keep their owner.

    A new article is due at once (``next_check_at`` NULL). ``published`` (None: unknown) sets its age;
    without it the age counts from now.
    """
    if not items:
        return 0
    with _write(store) as conn, conn.begin():
        ids = _source_ids(conn, (source for _, source, _ in items))
        urls = list(dict.fromkeys(url for url, _, _ in items))
        known = {row.url for row in conn.execute(select(articles.c.url).where(articles.c.url.in_(urls)))}
        fresh = {url: (source, published) for url, source, published in items if url not in known}
        insert_ignore(conn, articles, [{"url": url, "source_id": ids[source], "first_seen": now, "gone": False,
                                        "failures": 0} for url, (source, _) in fresh.items()], key="url")
        rows = conn.execute(select(articles.c.id, articles.c.url).where(articles.c.url.in_(list(fresh))))
        insert_ignore(conn, article_schedule, [
            {"article_id": ident, "streak": 0, "born": min(fresh[url][1] or now, now), "discovered": discovered,
             "stopped": False} for ident, url in rows], key="article_id")
        return len(fresh)


def due_articles(store: Store, *, now: datetime, sources_wanted: Sequence[str], limit: int) -> list[DueArticle]:
    """Articles of ``sources_wanted`` due at ``now`` (never planned ones first, then the most overdue)."""
    if not sources_wanted:
        return []
    query = (
        select(articles.c.url, sources.c.name, articles.c.first_seen, articles.c.latest_version,
               article_schedule.c.born, article_schedule.c.streak, article_schedule.c.discovered)
        .join(sources, articles.c.source_id == sources.c.id)
        .outerjoin(article_schedule, article_schedule.c.article_id == articles.c.id)
        .where(sources.c.name.in_(list(sources_wanted)))
        .where(or_(articles.c.next_check_at.is_(None), articles.c.next_check_at <= now))
        .where(or_(article_schedule.c.stopped.is_(None), article_schedule.c.stopped.is_(False)))
        .order_by(articles.c.next_check_at.asc().nulls_first(), articles.c.id)
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [DueArticle(url=r.url, source=r.name, born=r.born or r.first_seen, streak=r.streak or 0,
                           discovered=bool(r.discovered), latest_version=r.latest_version)
                for r in conn.execute(query)]


@dataclass(frozen=True)
class Plan:
    """An article's next check: ``at`` (None: stop checking it) and its unchanged ``streak``.
    ``streak`` None only moves the next check (a host backing off, robots.txt) and keeps the streak."""

    url: str
    at: datetime | None
    streak: int | None


def save_plans(store: Store, plans: Sequence[Plan]) -> None:
    """Store the next check of many articles in one transaction (the daemon writes a batch's at once)."""
    if not plans:
        return
    with _write(store) as conn, conn.begin():
        urls = list(dict.fromkeys(p.url for p in plans))
        ids = {url: ident for url, ident in conn.execute(
            select(articles.c.url, articles.c.id).where(articles.c.url.in_(urls)))}
        known = [p for p in plans if p.url in ids]
        if not known:
            return
        conn.execute(update(articles).where(articles.c.id == bindparam("b_id"))
                     .values(next_check_at=bindparam("b_at")),
                     [{"b_id": ids[p.url], "b_at": p.at} for p in known])
        planned = [p for p in known if p.streak is not None]
        if planned:
            insert_ignore(conn, article_schedule, [{"article_id": ids[p.url], "streak": 0, "born": None,
                                                    "discovered": False, "stopped": False} for p in planned],
                          key="article_id")
            conn.execute(update(article_schedule).where(article_schedule.c.article_id == bindparam("b_id"))
                         .values(streak=bindparam("b_streak"), stopped=bindparam("b_stopped")),
                         [{"b_id": ids[p.url], "b_streak": p.streak, "b_stopped": p.at is None} for p in planned])


def save_plan(store: Store, url: str, *, at: datetime | None, streak: int) -> None:
    """Store the next check of ``url`` (``at`` None: stop checking it) and its unchanged streak."""
    save_plans(store, [Plan(url, at, streak)])


def move_article(store: Store, alias: str, canonical: str) -> None:
    """Track ``canonical`` in place of ``alias`` (a discovered URL whose page names another as its own).

    ``canonical`` takes the alias's source, first sighting and age reference, unless it is already known;
    the alias stays in the table, stopped, so that the feed listing it again does not bring it back.
    """
    with _write(store) as conn, conn.begin():
        row = conn.execute(
            select(articles.c.id, articles.c.source_id, articles.c.first_seen, article_schedule.c.born,
                   article_schedule.c.discovered)
            .outerjoin(article_schedule, article_schedule.c.article_id == articles.c.id)
            .where(articles.c.url == alias)).first()
        if row is None:
            return
        insert_ignore(conn, articles, [{"url": canonical, "source_id": row.source_id, "first_seen": row.first_seen,
                                        "gone": False, "failures": 0}], key="url")
        ident = conn.execute(select(articles.c.id).where(articles.c.url == canonical)).scalar_one()
        insert_ignore(conn, article_schedule, [{"article_id": ident, "streak": 0, "born": row.born or row.first_seen,
                                                "discovered": bool(row.discovered), "stopped": False}],
                      key="article_id")
        conn.execute(update(articles).where(articles.c.id == row.id).values(next_check_at=None))
        insert_ignore(conn, article_schedule, [{"article_id": row.id, "streak": 0, "born": None,
                                                "discovered": True, "stopped": True}], key="article_id")
        conn.execute(update(article_schedule).where(article_schedule.c.article_id == row.id).values(stopped=True))


def postpone(store: Store, urls: Sequence[str], until: datetime) -> None:
    """Move articles' next check to ``until`` without touching their streak (a host backing off)."""
    if urls:
        with _write(store) as conn, conn.begin():
            conn.execute(update(articles).where(articles.c.url.in_(list(urls))).values(next_check_at=until))


def feed_validators(store: Store) -> dict[str, Validators]:
    with store.engine.connect() as conn:
        return {r.url: Validators(etag=r.etag, last_modified=r.last_modified)
                for r in conn.execute(select(feed_state.c.url, feed_state.c.etag, feed_state.c.last_modified))}


def record_feed(store: Store, url: str, source: str, *, now: datetime, validators: Validators | None = None,
                found: int | None = None, error: str | None = None) -> None:
    """Remember a feed's read: its validators and article count when it worked, its error when not."""
    with _write(store) as conn, conn.begin():
        insert_ignore(conn, feed_state, [{"url": url, "source": source, "found": 0}], key="url")
        values: dict[str, Any] = {"source": source}
        if error is None:
            values.update(last_read=now, error=None, error_at=None)
            if validators is not None:
                values.update(etag=validators.etag, last_modified=validators.last_modified)
            if found is not None:
                values["found"] = found
        else:
            values.update(error=error, error_at=now)
        conn.execute(update(feed_state).where(feed_state.c.url == url).values(**values))


def source_status(store: Store, names: Sequence[str], *, errors: int = 3) -> list[SourceStatus]:
    """Health figures of each named source (configured sources without articles included)."""
    result = []
    with store.engine.connect() as conn:
        for name in names:
            source_id = conn.execute(select(sources.c.id).where(sources.c.name == name)).scalar()
            feeds = tuple((r.url, r.error) for r in conn.execute(
                select(feed_state.c.url, feed_state.c.error)
                .where(and_(feed_state.c.source == name, feed_state.c.error.is_not(None)))))
            if source_id is None:
                result.append(SourceStatus(name, 0, 0, 0, 0, None, None, (), feeds))
                continue
            mine = articles.c.source_id == source_id
            stopped = func.coalesce(article_schedule.c.stopped, False)
            row = conn.execute(
                select(func.count(articles.c.id),
                       func.sum(func.coalesce(articles.c.latest_version, 0)),
                       func.sum((articles.c.failures > 0).cast(Integer)),
                       func.max(articles.c.last_checked),
                       func.sum(stopped.cast(Integer)))
                .select_from(articles.outerjoin(article_schedule, article_schedule.c.article_id == articles.c.id))
                .where(mine)).one()
            next_check = conn.execute(
                select(func.min(func.coalesce(articles.c.next_check_at, articles.c.first_seen)))
                .select_from(articles.outerjoin(article_schedule, article_schedule.c.article_id == articles.c.id))
                .where(and_(mine, stopped.is_(False)))).scalar()
            recent = tuple((r.checked_at, r.url, r.error or "") for r in conn.execute(
                select(checks.c.checked_at, articles.c.url, checks.c.error)
                .join(articles, checks.c.article_id == articles.c.id)
                .where(and_(mine, checks.c.outcome == "error"))
                .order_by(checks.c.checked_at.desc(), checks.c.id.desc()).limit(errors)))
            count = int(row[0] or 0)
            result.append(SourceStatus(
                name=name, articles=count, tracked=count - int(row[4] or 0), versions=int(row[1] or 0),
                failing=int(row[2] or 0), last_check=row[3], next_check=next_check, recent_errors=recent,
                feed_errors=feeds))
    return result
