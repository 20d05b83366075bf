"""Leases: how a queued check is neither lost nor run for nothing.

Before the dispatcher queues an article's check it moves the article's ``next_check_at`` forward by a lease
(``lease``, 10 minutes by default), in one conditional UPDATE: only articles still due are leased, so a plan a
worker saved in the meantime is never overwritten, and the next round does not queue the article again.
The task carries the lease's time as a fencing token. The worker checks an article only while its
``next_check_at`` still equals that token; the check then saves the real next plan, which ends the lease.

- A task delivered twice (a redelivery after a worker was killed, a broker hiccup): the copy that comes
  after the plan was saved finds another ``next_check_at`` and skips the article without a request.
- A task lost outright (a broker flushed, a dispatcher killed between its commit and the publish): the
  lease expires, the article is due again, and the dispatcher queues it with a new lease; the old task,
  should it surface, no longer matches.
- Two copies running at once (a redelivery while the first is still running) both check; the store
  makes that harmless (a version is inserted under the article row's lock only when its fingerprint
  differs from the latest, UNIQUE(article_id, number); the outbox ignores a repeated dedup key).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select, update

from monitor.store import Store
from monitor.store import scheduling as sched
from monitor.store.schema import articles, sources

__all__ = ["claim", "lease"]


def lease(store: Store, due: Sequence[sched.DueArticle], *, now: datetime, until: datetime) -> list[str]:
    """Lease the articles of ``due`` that are still due at ``now`` until ``until``; the URLs leased."""
    if not due:
        return []
    urls = [a.url for a in due]
    still_due = or_(articles.c.next_check_at.is_(None), articles.c.next_check_at <= now)
    with store.engine.begin() as conn:
        rows = conn.execute(update(articles).where(and_(articles.c.url.in_(urls), still_due))
                            .values(next_check_at=until).returning(articles.c.url))
        leased = {row.url for row in rows}
    return [url for url in urls if url in leased]


def claim(store: Store, items: Sequence[tuple[str, datetime]]) -> tuple[dict[str, sched.DueArticle], list[str]]:
    """The articles of ``(url, lease)`` items whose lease still stands, as the daemon's batch (URL ->
    schedule), and the URLs skipped (checked already, or leased again since: another task has them)."""
    wanted = dict(items)
    query = (
        select(articles.c.url, sources.c.name, articles.c.first_seen, articles.c.latest_version,
               articles.c.next_check_at, sched.article_schedule.c.born, sched.article_schedule.c.streak,
               sched.article_schedule.c.discovered, sched.article_schedule.c.stopped)
        .join(sources, articles.c.source_id == sources.c.id)
        .outerjoin(sched.article_schedule, sched.article_schedule.c.article_id == articles.c.id)
        .where(articles.c.url.in_(list(wanted)))
    )
    batch: dict[str, sched.DueArticle] = {}
    with store.engine.connect() as conn:
        for r in conn.execute(query):
            if r.next_check_at != wanted[r.url] or r.stopped:
                continue
            batch[r.url] = sched.DueArticle(url=r.url, source=r.name, born=r.born or r.first_seen,
                                            streak=r.streak or 0, discovered=bool(r.discovered),
                                            latest_version=r.latest_version)
    return batch, [url for url in wanted if url not in batch]
