"""Grouping articles into stories, incrementally, as their versions are stored.

``refresh_stories(store)`` regroups every article whose latest version is not the one it was grouped by
(new articles included), in one write transaction:

1. Its signature (monitor.stories.similarity.terms of the headline and opening) replaces the stored one.
2. Every signature in the store gives the inverse document frequencies, and each regrouped article is
   compared (TF-IDF cosine) with every other article sharing a term with it.
3. It stays in its story while some other member is still at least ``threshold`` alike (stability: a
   rewrite that keeps the story's subject never reshuffles ids); otherwise it joins the story of the most
   alike article at or above the threshold; otherwise it stands alone in a story of its own.
4. A story that lost members is split if its remaining members no longer hold together (connected
   components of the "alike" graph; the largest keeps the id), and deleted when empty.

Every article with a version is in exactly one story; a story of one article is a story too (it is
listed with ``include_single``). Single-link grouping is deliberate: outlets paraphrase each other, so an
article may resemble the story's first article less than it resembles a third one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.engine import Connection

from monitor.store import Store
from monitor.store.blobs import get_blob
from monitor.store.schema import articles, sources, versions
from monitor.stories.similarity import idf, terms, weigh
from monitor.stories.tables import ensure_tables, stories, story_members, transaction

# Measured with benchmarks/story_grouping.py (TF-IDF cosine of headline + 80 words; 543 articles, 244
# same-event pairs): single-link groups at 0.30 have precision 0.954 and recall 0.930 (F1 0.942; 0.35 gives
# 0.987/0.906, F1 0.944). 0.30 is kept for recall on paraphrased cross-outlet copies while staying above
# every hand-written near miss (another North Korea story, another budget vote: 0.25-0.27). Word pairs and
# MinHash miss paraphrase: at their best thresholds they reach grouped F1 0.919 and 0.899, finding 87% and
# 82% of the same-event pairs (TF-IDF over words: 93% at 0.30). Configurable: refresh_stories(threshold=...).
DEFAULT_THRESHOLD = 0.3


@dataclass(frozen=True)
class Regrouped:
    """What one refresh did: articles (URLs) regrouped, those that changed story, versions whose figures
    were recorded in the ledger."""

    regrouped: tuple[str, ...]
    moved: tuple[str, ...]
    versions_recorded: int = 0


@dataclass
class _Member:
    article_id: int
    story_id: int | None
    bag: dict[str, int]


def refresh_stories(store: Store, urls: Iterable[str] | None = None, *, threshold: float = DEFAULT_THRESHOLD,
                    now: datetime | None = None) -> Regrouped:
    """Bring stories and the figure ledger up to date: the one call a check (or the daemon) makes after
    storing versions, with the URLs it stored versions of. See ``regroup`` and
    ``monitor.figure_ledger.update_ledger``."""
    from monitor.figure_ledger import update_ledger  # deferred: the ledger imports this package

    done = regroup(store, urls, threshold=threshold, now=now)
    return Regrouped(done.regrouped, done.moved, update_ledger(store))


def regroup(store: Store, urls: Iterable[str] | None = None, *, threshold: float = DEFAULT_THRESHOLD,
            now: datetime | None = None) -> Regrouped:
    """Regroup the articles whose latest version has not been grouped yet, or was grouped at another
    threshold (only those of ``urls`` when given: the URLs a check stored new versions of). Cheap when
    nothing is stale: one query. A changed threshold thus regroups every article at the next refresh."""
    if not 0 < threshold <= 1:
        raise ValueError(f"story threshold {threshold} is outside (0, 1]")
    now = now or datetime.now(UTC)
    ensure_tables(store)
    wanted = None if urls is None else set(urls)
    # Texts are read and their terms computed before the write transaction, so the store's write lock
    # (which the daemon's checks wait for) is held only for the comparison and the few rows written.
    with transaction(store, "read the articles to group into stories") as conn:
        stale = [row for row in conn.execute(_STALE, {"threshold": threshold})
                 if wanted is None or row.url in wanted]
        texts = {row.article_id: get_blob(conn, row.text_blob).decode("utf-8") for row in stale}
    if not stale:
        return Regrouped((), ())
    bags = {row.article_id: dict(terms(row.title, texts[row.article_id])) for row in stale}
    with transaction(store, "group articles into stories", write=True) as conn:
        # Only what is still stale: another refresh may have grouped some meanwhile, or a newer version
        # may have arrived (it is grouped by the next refresh).
        still = {row.article_id: row.number for row in conn.execute(_STALE, {"threshold": threshold})}
        stale = [row for row in stale if still.get(row.article_id) == row.number]
        members = _load_members(conn)
        fresh: dict[int, tuple[str, int]] = {}
        for row in stale:
            old = members.get(row.article_id)
            members[row.article_id] = _Member(row.article_id, old.story_id if old else None, bags[row.article_id])
            fresh[row.article_id] = (row.title, row.number)
        moved = _assign(conn, members, fresh, threshold, now) if fresh else []
        urls_of = {row.article_id: row.url for row in stale}
        return Regrouped(tuple(urls_of[a] for a in fresh), tuple(urls_of[a] for a in moved))


_STALE = (
    select(articles.c.id.label("article_id"), articles.c.url, versions.c.number, versions.c.title,
           versions.c.text_blob)
    .join(versions, and_(versions.c.article_id == articles.c.id, versions.c.number == articles.c.latest_version))
    .outerjoin(story_members, story_members.c.article_id == articles.c.id)
    .where(or_(story_members.c.version.is_(None), story_members.c.version != articles.c.latest_version,
               story_members.c.threshold != bindparam("threshold")))
    .order_by(articles.c.id)
)


def _load_members(conn: Connection) -> dict[int, _Member]:
    rows = conn.execute(select(story_members.c.article_id, story_members.c.story_id, story_members.c.terms))
    return {r.article_id: _Member(r.article_id, r.story_id, json.loads(r.terms)) for r in rows}


def _assign(conn: Connection, members: dict[int, _Member], fresh: Mapping[int, tuple[str, int]],
            threshold: float, now: datetime) -> list[int]:
    weights = idf(m.bag for m in members.values())
    vectors = {a: weigh(m.bag, weights, 1.0) for a, m in members.items()}
    # Term -> (article, weight): a cosine is accumulated over shared terms only, which keeps a refresh
    # of 543 articles at about a second instead of eight.
    index: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for a, vector in vectors.items():
        for term, weight in vector.items():
            index[term].append((a, weight))

    def alike(a: int) -> dict[int, float]:
        scores: dict[int, float] = defaultdict(float)
        for term, weight in vectors[a].items():
            for b, other in index[term]:
                scores[b] += weight * other
        return {b: score for b, score in scores.items() if b != a and score >= threshold}

    before = {a: m.story_id for a, m in members.items() if a in fresh}
    left: set[int] = set()
    for a in fresh:
        member, matches = members[a], alike(a)
        same_story = [b for b in matches if member.story_id is not None and members[b].story_id == member.story_id]
        if same_story:
            continue                                          # still alike its story: stays
        if member.story_id is not None:
            left.add(member.story_id)
        grouped = [b for b in matches if members[b].story_id is not None]
        if grouped:
            member.story_id = members[max(grouped, key=lambda b: (matches[b], -b))].story_id
        elif member.story_id is None or any(m.story_id == member.story_id for b, m in members.items() if b != a):
            member.story_id = _new_story(conn, fresh[a][0], now)
    _split_broken(conn, members, left, alike, fresh, now)

    for a in fresh:
        row = {"story_id": members[a].story_id, "version": fresh[a][1], "threshold": threshold,
               "terms": json.dumps(members[a].bag, sort_keys=True), "joined_at": now}
        done = conn.execute(update(story_members).where(story_members.c.article_id == a).values(**row))
        if done.rowcount == 0:
            conn.execute(insert(story_members).values(article_id=a, **row))
    touched = {m.story_id for a, m in members.items() if a in fresh and m.story_id is not None} | left
    _tidy(conn, touched, now)
    return [a for a in fresh if before[a] is not None and before[a] != members[a].story_id]


def _split_broken(conn: Connection, members: dict[int, _Member], left: set[int],
                  alike: Callable[[int], dict[int, float]], fresh: Mapping[int, tuple[str, int]],
                  now: datetime) -> None:
    """A story whose members no longer hold together after some left is split into its components."""
    for story_id in left:
        group = [a for a, m in members.items() if m.story_id == story_id]
        components: list[set[int]] = []
        seen: set[int] = set()
        for start in group:
            if start in seen:
                continue
            component, todo = set(), [start]
            while todo:
                a = todo.pop()
                if a in component:
                    continue
                component.add(a)
                todo.extend(b for b in alike(a) if members[b].story_id == story_id and b not in component)
            seen |= component
            components.append(component)
        components.sort(key=lambda c: (-len(c), min(c)))
        for component in components[1:]:
            title = _title_of(conn, min(component), fresh)
            new_id = _new_story(conn, title, now)
            for a in component:
                members[a].story_id = new_id
                if a not in fresh:
                    conn.execute(update(story_members).where(story_members.c.article_id == a)
                                 .values(story_id=new_id))


def _title_of(conn: Connection, article_id: int, fresh: Mapping[int, tuple[str, int]]) -> str:
    if article_id in fresh:
        return fresh[article_id][0]
    title = conn.execute(select(versions.c.title).join(articles, and_(
        versions.c.article_id == articles.c.id, versions.c.number == articles.c.latest_version))
        .where(articles.c.id == article_id)).scalar()
    return str(title or "")


def _new_story(conn: Connection, title: str, now: datetime) -> int:
    result = conn.execute(insert(stories).values(title=title, created_at=now, updated_at=now))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _tidy(conn: Connection, story_ids: set[int], now: datetime) -> None:
    """Delete stories left empty; retitle the others after their earliest article's latest headline."""
    for story_id in story_ids:
        first = conn.execute(
            select(versions.c.title).select_from(story_members)
            .join(articles, articles.c.id == story_members.c.article_id)
            .join(versions, and_(versions.c.article_id == articles.c.id,
                                 versions.c.number == articles.c.latest_version))
            .where(story_members.c.story_id == story_id).order_by(articles.c.first_seen, articles.c.id).limit(1)
        ).scalar()
        if first is None:
            conn.execute(delete(stories).where(stories.c.id == story_id))
        else:
            conn.execute(update(stories).where(stories.c.id == story_id).values(title=first, updated_at=now))


# -- reading ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryArticle:
    url: str
    source: str
    title: str


@dataclass(frozen=True)
class Story:
    id: int
    title: str
    why: tuple[str, ...]                  # terms the articles share, the most telling first
    articles: tuple[StoryArticle, ...]

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "why": list(self.why),
                "articles": [{"url": a.url, "source": a.source, "title": a.title} for a in self.articles]}


def list_stories(store: Store, *, include_single: bool = False) -> list[Story]:
    """Every story of two articles or more (all of them with ``include_single``), newest first."""
    from monitor.stories.similarity import shared_terms

    ensure_tables(store)
    with transaction(store, "list stories") as conn:
        rows = conn.execute(
            select(story_members.c.story_id, story_members.c.terms, articles.c.url, sources.c.name,
                   versions.c.title, stories.c.title.label("story_title"), stories.c.created_at)
            .join(stories, stories.c.id == story_members.c.story_id)
            .join(articles, articles.c.id == story_members.c.article_id)
            .join(sources, sources.c.id == articles.c.source_id)
            .join(versions, and_(versions.c.article_id == articles.c.id,
                                 versions.c.number == articles.c.latest_version))
            .order_by(stories.c.created_at.desc(), stories.c.id.desc(), articles.c.first_seen, articles.c.url)
        ).all()
    bags = [json.loads(r.terms) for r in rows]
    weights = idf(bags)
    grouped: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        grouped[r.story_id].append(i)
    found = []
    for story_id, indexes in grouped.items():
        if len(indexes) < 2 and not include_single:
            continue
        first = rows[indexes[0]]
        found.append(Story(
            id=story_id, title=first.story_title,
            why=tuple(shared_terms([bags[i] for i in indexes], weights)),
            articles=tuple(StoryArticle(rows[i].url, rows[i].name, rows[i].title) for i in indexes)))
    return found


def story_of(store: Store, story_id: int) -> list[int]:
    """The article ids of a story (empty when there is no such story)."""
    with transaction(store, f"read story {story_id}") as conn:
        return list(conn.execute(select(story_members.c.article_id)
                                 .where(story_members.c.story_id == story_id)).scalars())
