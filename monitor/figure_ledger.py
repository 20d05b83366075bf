"""The figure ledger: every figure of every stored version, and the quantities they track across sources.

**Recording.** ``update_ledger(store)`` parses each version not yet in the ledger (headline, then every
sentence of the text, through :func:`monitor.figures.find_figures`) and writes one ``figure_occurrences``
row per figure: value, unit, qualifier, kind, the counted noun or subject the parser found (``context``),
its ``subject`` key as of recording (see ``subject_key``) and the sentence. A version is parsed once:
``ledger_versions`` marks it done.

**Linking.** Occurrences describing the same quantity are linked when the ledger is read
(``tracked_quantities``), per story: two occurrences can be one quantity only when their subject keys are
equal (same counted noun, after a small synonym table, the same predicate such as "killed", and the same
unit), and among those, pairs are taken by how alike their context is (the words of the noun phrase and of
the sentence) and how close their values are. One version contributes at most one occurrence to a
quantity. Linking is computed, not stored, because stories change: an article that moves to another story
takes its figures along, and a better linking rule applies to old versions at once.

**Discrepancies.** Each source's latest value is read as an interval from its qualifier ("at least 1,000"
is [1000, inf), "about 1,000" is 1000 +- 5%, "1,000" is [1000, 1000]); sources whose intervals have no
point in common disagree: 11,000 and 12,000 are not compatible, "more than 10,000" and 11,000 are. One value
however hedged is one claim: "at least 1,000" and "about 1,000" are compatible.

**Leads.** For every value a quantity was revised to, the source that reported it first and when, and the
sources that followed.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from monitor.figures import QUANTITY_KINDS, Figure, find_figures
from monitor.sentences import split_sentences
from monitor.store import Store
from monitor.store.blobs import get_blob
from monitor.store.schema import articles, sources, versions
from monitor.stories.tables import (
    ensure_tables,
    figure_occurrences,
    ledger_versions,
    story_members,
    transaction,
)

__all__ = ["Quantity", "Reading", "compatible", "subject_key", "tracked_quantities", "update_ledger"]

BATCH = 200                    # versions parsed per write transaction: a first run over a big store commits as it goes
MIN_LINK_SCORE = 0.15          # below this, an occurrence with the same subject key starts a quantity of its own
ABOUT = 0.05                   # "about 1,000" means 950-1,050: "about 11,000" and "12,000" still disagree

# Counted nouns that name the same people in news copy. Kept tiny on purpose: a wrong synonym links two
# different quantities, a missing one only leaves two quantities apart.
_SYNONYMS = {"soldier": "troop", "force": "troop", "serviceman": "troop", "servicemen": "troop",
             "dead": "killed", "died": "killed", "slain": "killed", "wounded": "injured", "hurt": "injured"}
# Durations ("four months ago", "within three months") date the events; they are not what a story counts.
_DURATIONS = frozenset({"seconds", "minutes", "hours", "days", "weeks", "months", "years", "decades"})
_PREDICATES = frozenset({"killed", "injured", "captured", "missing", "arrested", "displaced", "evacuated",
                         "rescued", "detained", "fled", "drowned", "perished", "surrendered"})
# Verbs that only say where the counted things are: "11,000 troops deployed" is the 11,000 troops.
_NEUTRAL = frozenset({"deployed", "sent", "stationed", "based"})
_WORD = re.compile(r"[a-z]+")


def _split(text: str) -> list[str]:
    """Word lists are written as one string for readability."""
    return text.split()



_SENTENCE_STOP = frozenset(_split("the a an of in on at to for and or but by with from that this is are was were "
                                  "has have had been be it its their they he she said says"))


def subject_key(context: str | None, unit: str | None, kind: str) -> str | None:
    """The key two figures must share to be one quantity: counted noun or predicate, unit, kind of figure.

    "11,000 North Korean troops" and "12,000 North Korean soldiers" share "troop||count"; "1,000 of the
    troops had been killed" and "at least 1,000 have been killed" share "|killed|count" (a predicate is
    what the count is of; who was killed is context, weighed when occurrences are paired); "$2.4 billion
    in military aid" is "aid||USD".
    """
    if kind not in QUANTITY_KINDS or not context or unit in _DURATIONS:
        return None
    words = [_canonical(w) for w in _WORD.findall(context.lower())]
    while len(words) > 1 and words[-1] in _NEUTRAL:
        words.pop()
    if not words:
        return None
    measure = unit or ("percent" if kind == "percent" else "count")
    if words[-1] in _PREDICATES:
        return f"|{words[-1]}|{measure}"
    return f"{words[-1]}||{measure}"


def _canonical(word: str) -> str:
    word = _SYNONYMS.get(word, word)
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return _SYNONYMS.get(word, word)


# -- recording -------------------------------------------------------------------------------------------


def update_ledger(store: Store) -> int:
    """Record the figures of every version not yet in the ledger; returns how many versions were parsed.

    Versions are read and parsed outside the write transaction, ``BATCH`` at a time, so the store's write
    lock is held only while rows are inserted; a version another refresh recorded meanwhile is skipped."""
    ensure_tables(store)
    done = 0
    while True:
        with transaction(store, "read versions for the figure ledger") as conn:
            rows = conn.execute(
                select(versions.c.id, versions.c.article_id, versions.c.title, versions.c.text_blob)
                .outerjoin(ledger_versions, ledger_versions.c.version_id == versions.c.id)
                .where(ledger_versions.c.version_id.is_(None)).order_by(versions.c.id).limit(BATCH)).all()
            texts = {row.id: get_blob(conn, row.text_blob).decode("utf-8") for row in rows}
        parsed = {row.id: list(_occurrences(row.title, texts[row.id])) for row in rows}
        with transaction(store, "record figures in the ledger", write=True) as conn:
            ids = [row.id for row in rows]
            recorded = set(conn.execute(select(ledger_versions.c.version_id)
                                        .where(ledger_versions.c.version_id.in_(ids))).scalars())
            for row in rows:
                if row.id in recorded:
                    continue
                found = parsed[row.id]
                conn.execute(insert(ledger_versions).values(version_id=row.id, figures=len(found)))
                if found:
                    conn.execute(insert(figure_occurrences), [
                        {"version_id": row.id, "article_id": row.article_id, "position": i, "text": f.text,
                         "value": float(f.value), "unit": f.unit, "qualifier": f.qualifier, "kind": f.kind,
                         "context": f.context, "subject": subject_key(f.context, f.unit, f.kind),
                         "sentence": sentence} for i, (f, sentence) in enumerate(found)])
                done += 1
        if len(rows) < BATCH:
            return done


def _occurrences(title: str, text: str) -> Iterable[tuple[Figure, str]]:
    for sentence in [title, *split_sentences(text)]:
        for figure in find_figures(sentence):
            if math.isfinite(float(figure.value)):
                yield figure, sentence


# -- reading ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One occurrence of a quantity: what one version of one article said."""

    article_id: int
    source: str
    url: str
    version: int
    seen_at: datetime
    value: float
    text: str
    unit: str | None
    qualifier: str | None
    context: str | None
    sentence: str
    position: int
    latest: bool = False         # from the article's latest version

    def to_dict(self) -> dict[str, Any]:
        value: float | int = int(self.value) if self.value.is_integer() else self.value
        return {"source": self.source, "url": self.url, "value": value, "unit": self.unit,
                "qualifier": self.qualifier, "version": self.version, "seen_at": self.seen_at.isoformat(),
                "sentence": self.sentence, "text": self.text, "current": self.latest}

    def when(self) -> dict[str, Any]:
        return {"source": self.source, "url": self.url, "version": self.version, "at": self.seen_at.isoformat()}


@dataclass
class Quantity:
    """A tracked quantity of a story: every reading of it, per source and version."""

    story: int
    key: str
    readings: list[Reading] = field(default_factory=list)

    @property
    def subject(self) -> str:
        """The context most readings give it ("North Korean troops"), the first of equals."""
        counts: dict[str, int] = defaultdict(int)
        for r in self.readings:
            counts[r.context or ""] += 1
        return max(counts, key=lambda c: (counts[c], -self._first_index(c)))

    def _first_index(self, context: str) -> int:
        return next(i for i, r in enumerate(self.readings) if (r.context or "") == context)

    def latest(self) -> list[Reading]:
        """Each article's last reading, oldest article first."""
        last: dict[int, Reading] = {}
        for r in self.readings:
            last[r.article_id] = r            # insertion order is the order articles first reported it
        return list(last.values())

    def discrepancy(self) -> bool:
        """Do the sources' current values contradict each other, their qualifiers considered?"""
        current = [r for r in self.latest() if r.latest]
        return len({r.source for r in current}) > 1 and not compatible(current)

    def revisions(self) -> list[dict[str, Any]]:
        """Every value this quantity was revised to: who reported it first and when, and who followed."""
        revised: dict[tuple[float, str | None], Reading] = {}     # new value -> a reading that revised to it
        previous: dict[int, Reading] = {}
        for r in self.readings:
            before = previous.get(r.article_id)
            if before is not None and (before.value, before.unit) != (r.value, r.unit):
                revised.setdefault((r.value, r.unit), before)
            previous[r.article_id] = r
        leads = []
        for (value, unit), was in revised.items():
            reporters: dict[int, Reading] = {}
            for r in self.readings:
                if (r.value, r.unit) == (value, unit) and r.article_id not in reporters:
                    reporters[r.article_id] = r
            ordered = sorted(reporters.values(), key=lambda r: (r.seen_at, r.version, r.url))
            leads.append({"from": _plain(was.value), "to": _plain(value), "unit": unit,
                          "first": ordered[0].when(), "followed": [r.when() for r in ordered[1:]]})
        return sorted(leads, key=lambda lead: (lead["first"]["at"], str(lead["to"])))

    def to_dict(self) -> dict[str, Any]:
        latest = self.latest()
        current = [r for r in latest if r.latest]
        return {"story": self.story, "subject": self.subject, "key": self.key,
                "values": [r.to_dict() for r in latest], "discrepancy": self.discrepancy(),
                "differs": len({(r.value, r.unit) for r in current}) > 1,
                "sources": sorted({r.source for r in self.readings}),
                "history": [r.to_dict() for r in self.readings], "revisions": self.revisions()}

    def describe(self) -> str:
        """Each source's latest reading as written, for the terminal: "wire: at least 1,000 (v2); ..."."""
        parts = []
        for r in self.latest():
            qualifier = f"{r.qualifier} " if r.qualifier else ""
            parts.append(f"{r.source}: {qualifier}{r.text} (v{r.version})")
        return "; ".join(parts)


def _plain(value: float) -> float | int:
    return int(value) if value.is_integer() else value


# Qualifier -> (low factor, high factor) around the value; None stands for "no bound on that side".
_INTERVALS: dict[str, tuple[float | None, float | None]] = {
    **dict.fromkeys(("at least", "no fewer than", "no less than", "upwards of", "more than", "over",
                     "in excess of", "well over", "just over", "another", "a further"), (1.0, None)),
    **dict.fromkeys(("at most", "no more than", "up to", "as many as", "as much as", "less than", "fewer than",
                     "under", "just under"), (None, 1.0)),
    **dict.fromkeys(("nearly", "almost", "close to"), (1 - 2 * ABOUT, 1.0)),
    **dict.fromkeys(("about", "around", "roughly", "approximately", "some", "an estimated", "estimated"),
                    (1 - ABOUT, 1 + ABOUT)),
}


def interval(value: float, qualifier: str | None) -> tuple[float, float]:
    """What a hedged figure claims: "at least 1,000" -> (1000, inf), "about 1,000" -> (950, 1050)."""
    low, high = _INTERVALS.get(qualifier or "", (1.0, 1.0))
    return (-math.inf if low is None else value * low, math.inf if high is None else value * high)


def compatible(readings: Sequence[Reading]) -> bool:
    """Can every reading be true at once? Units must agree; then one value however hedged ("at least
    1,000", "about 1,000", "more than 1,000") is one claim, and different values must have intervals that
    share a point."""
    if len({r.unit for r in readings}) > 1:
        return False
    if len({r.value for r in readings}) == 1:
        return True
    spans = [interval(r.value, r.qualifier) for r in readings]
    return max(low for low, _ in spans) <= min(high for _, high in spans)


def tracked_quantities(store: Store, *, story: int | None = None, include_single: bool = False) -> list[Quantity]:
    """The quantities of every story of two articles or more (every story with ``include_single``; only
    story ``story`` when given), discrepancies first. Reads the ledger; call update_ledger before."""
    ensure_tables(store)
    query = (
        select(story_members.c.story_id, figure_occurrences.c.article_id, articles.c.url,
               sources.c.name.label("source"), versions.c.number, versions.c.created_at,
               articles.c.latest_version, figure_occurrences.c.position, figure_occurrences.c.text,
               figure_occurrences.c.value, figure_occurrences.c.unit, figure_occurrences.c.qualifier,
               figure_occurrences.c.context, figure_occurrences.c.kind, figure_occurrences.c.sentence)
        .join(versions, versions.c.id == figure_occurrences.c.version_id)
        .join(articles, articles.c.id == figure_occurrences.c.article_id)
        .join(sources, sources.c.id == articles.c.source_id)
        .join(story_members, story_members.c.article_id == articles.c.id)
        .where(figure_occurrences.c.context.is_not(None), figure_occurrences.c.kind.in_(sorted(QUANTITY_KINDS)))
        .order_by(story_members.c.story_id, versions.c.created_at, articles.c.id, versions.c.number,
                  figure_occurrences.c.position))
    if story is not None:
        query = query.where(story_members.c.story_id == story)
    with transaction(store, "read the figure ledger") as conn:
        rows = conn.execute(query).all()
        members = {story_id: count for story_id, count in conn.execute(   # story -> articles in it
            select(story_members.c.story_id, func.count()).group_by(story_members.c.story_id))}
    by_story: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        if story is not None or include_single or members.get(row.story_id, 0) > 1:
            by_story[row.story_id].append(row)
    quantities = [q for story_id, story_rows in by_story.items() for q in _link(story_id, story_rows)]
    quantities.sort(key=lambda q: (not q.discrepancy(), -len({r.source for r in q.readings}), q.story,
                                   q.readings[0].seen_at, q.readings[0].position))
    return quantities


def _link(story_id: int, rows: Sequence[Any]) -> list[Quantity]:
    """Link a story's occurrences (in time order) into quantities; see the module docstring."""
    quantities: list[Quantity] = []
    # Keys are derived again here rather than read from the stored ``subject``: a better rule then applies
    # to figures recorded long ago.
    by_version: dict[tuple[int, int], list[tuple[str, Any]]] = defaultdict(list)
    for row in rows:
        key = subject_key(row.context, row.unit, row.kind)
        if key is not None:
            by_version[(row.article_id, row.number)].append((key, row))
    for group in by_version.values():
        pairs = []
        for i, (key, row) in enumerate(group):
            for j, quantity in enumerate(quantities):
                if quantity.key == key:
                    pairs.append((_score(row, quantity), i, j))
        pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
        taken_rows: set[int] = set()
        taken_quantities: set[int] = set()
        for score, i, j in pairs:
            if score >= MIN_LINK_SCORE and i not in taken_rows and j not in taken_quantities:
                taken_rows.add(i)
                taken_quantities.add(j)
                quantities[j].readings.append(_reading(group[i][1]))
        for i, (key, row) in enumerate(group):
            if i not in taken_rows:
                quantities.append(Quantity(story=story_id, key=key, readings=[_reading(row)]))
    return quantities


def _reading(row: Any) -> Reading:
    return Reading(article_id=row.article_id, source=row.source, url=row.url, version=row.number,
                   seen_at=row.created_at, value=row.value, text=row.text, unit=row.unit, qualifier=row.qualifier,
                   context=row.context, sentence=row.sentence, position=row.position,
                   latest=row.number == row.latest_version)


def _score(row: Any, quantity: Quantity) -> float:
    """How alike an occurrence is to a quantity's latest reading (of the same article, if it has one):
    the noun phrase's words, the sentence's words, how close the values are, and a bonus for continuing
    the same article.

    Closeness matters when one story counts the same noun twice: "about 1,000 additional soldiers" and
    "12,000 soldiers" in one outlet, "at least 1,000 additional soldiers" and "11,000 North Korean
    troops" in another. Outlets and revisions disagree by a fraction (11,000 or 12,000; 1,000 raised to
    1,500), rarely by a factor of ten.
    """
    same_article = [r for r in quantity.readings if r.article_id == row.article_id]
    last = (same_article or quantity.readings)[-1]
    modifiers = _jaccard(_context_words(row.context), _context_words(last.context), empty=0.5)
    sentence = _jaccard(_sentence_words(row.sentence), _sentence_words(last.sentence), empty=0.0)
    low, high = sorted((abs(row.value), abs(last.value)))
    closeness = low / high if high else 1.0
    return 0.3 * modifiers + 0.4 * sentence + 0.3 * closeness + (0.2 if same_article else 0.0)


def _context_words(context: str | None) -> set[str]:
    return {_canonical(w) for w in _WORD.findall((context or "").lower())}


def _sentence_words(sentence: str) -> set[str]:
    return {_canonical(w) for w in _WORD.findall(sentence.lower()) if w not in _SENTENCE_STOP}


def _jaccard(a: set[str], b: set[str], *, empty: float) -> float:
    if not a or not b:
        return empty if a or b else 1.0
    return len(a & b) / len(a | b)
