"""Which figure of an old sentence became which figure of its new version.

``pair_figures(old_sentence, new_sentence)`` pairs the quantities (counts, vague quantities, percentages,
money) of two aligned sentences; :func:`figure_changes` reports the pairs whose value changed and
:mod:`monitor.qualifiers` the pairs whose value stayed but whose qualifier changed.

Old and new figures of the same family (counts and vague quantities together, percentages, money) are
scored pairwise:

- an equal value: +3;
- the same context: +2, or +1 for a shared word ("case" and "cases" are the same word: plurals are
  folded, so "one case" -> "two cases" pairs);
- the same word before the figure and its qualifier: +1; the same word after it (after its unit word,
  if it has one): +1;
- the same unit: +1, different units: -2 (a context that is just the unit word adds nothing more);
- the same *slot*: +1. Two figures share a slot when the word-level diff of the sentences replaces a
  short run of words containing one with a short run containing the other ("Sasha, 24 , who" ->
  "Terry, 14 , who"; "Over 400 Palestinians ," -> "Hundreds ,"): the edit put one number where the
  other was. A run of up to ``SLOT_WORDS`` words on each side qualifies, so a clause rewritten around a
  number does not.

Pairs scoring at least 2 are taken greedily, best first. A figure with no partner is new or dropped
wording, not a change of value. Times, dates, years and ordinals are never paired.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from monitor.figure_context import preceding_words
from monitor.figures import QUANTITY_KINDS, Figure, find_figures
from monitor.models import FigureChange, WordOp
from monitor.word_diff import word_diff

MIN_SCORE = 2
SLOT_WORDS = 4               # at most this many words on each side of a replaced run for a shared slot
_FIGURE_WINDOW = 20          # in huge sentences, figures are only paired this close in sentence order
_FIGURE_GROUP = {"number": "count", "vague": "count", "percent": "percent", "money": "money"}
_NEXT_WORD = re.compile(r"\W{0,20}(\w+)")
_WORD = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*")    # "1,000", "2.4" and "don't" are one word each


def figure_changes(old_sentence: str, new_sentence: str, old_figures: list[Figure] | None = None,
                   new_figures: list[Figure] | None = None, words: tuple[WordOp, ...] | None = None
                   ) -> list[FigureChange]:
    """Figures of two aligned sentences whose value changed, in the order of the new sentence.

    A changed qualifier with an equal value ("at least 1,000" -> "more than 1,000") is not a figure
    change: :func:`monitor.qualifiers.qualifier_changes` reports it. The figures (with context) and the
    word diff of the two sentences may be passed in when the caller has them.
    """
    pairs = pair_figures(old_sentence, new_sentence, old_figures, new_figures, words)
    return changed_values(pairs, old_sentence, new_sentence)


def changed_values(pairs: list[tuple[Figure, Figure]], old_sentence: str, new_sentence: str
                   ) -> list[FigureChange]:
    """The pairs of :func:`pair_figures` whose value changed, as ``FigureChange``."""
    return [
        FigureChange(old=o.text, new=n.text, old_value=o.value, new_value=n.value, unit=n.unit or o.unit,
                     qualifier_old=o.qualifier, qualifier_new=n.qualifier, context=n.context or o.context,
                     old_sentence=old_sentence, new_sentence=new_sentence)
        for o, n in pairs if o.value != n.value
    ]


def pair_figures(old_sentence: str, new_sentence: str, old_figures: list[Figure] | None = None,
                 new_figures: list[Figure] | None = None, words: tuple[WordOp, ...] | None = None
                 ) -> list[tuple[Figure, Figure]]:
    """The quantities of ``old_sentence`` paired with those of ``new_sentence`` (see the module
    docstring), in the order of the new sentence. The figures (with context: the context is part of the
    score) and the word diff of the sentences (it gives the slots) may be passed in."""
    if old_figures is None:
        old_figures = find_figures(old_sentence)
    if new_figures is None:
        new_figures = find_figures(new_sentence)
    olds = [f for f in old_figures if f.kind in QUANTITY_KINDS]
    news = [f for f in new_figures if f.kind in QUANTITY_KINDS]
    if not olds or not news:
        return []
    windowed = len(olds) * len(news) > _FIGURE_WINDOW ** 2
    kept: list[tuple[Figure, Figure]] = []
    slots: set[tuple[int, int]] = set()
    if windowed:
        # A huge "sentence" (a table, an article without full stops): figures written the same, with the
        # same context, at both ends pair off unscored, and the rest is scored within a window (and
        # without slots), so one edited number does not cost a score for every pair of figures.
        def same(o: Figure, n: Figure) -> bool:
            return (o.text, o.context) == (n.text, n.context)

        head = 0
        while head < min(len(olds), len(news)) and same(olds[head], news[head]):
            head += 1
        tail = 0
        while tail < min(len(olds), len(news)) - head and same(olds[-1 - tail], news[-1 - tail]):
            tail += 1
        kept = list(zip(olds[:head], news[:head], strict=True)) + \
            list(zip(olds[len(olds) - tail:], news[len(news) - tail:], strict=True))
        olds, news = olds[head:len(olds) - tail], news[head:len(news) - tail]
    else:
        if words is None:
            words = word_diff(old_sentence, new_sentence, old_figures, new_figures)
        slots = _slots(words, old_figures, new_figures)
    old_features = [_features(old_sentence, o) for o in olds]
    new_features = [_features(new_sentence, n) for n in news]
    candidates: list[tuple[int, int, int, int]] = []
    for i, o in enumerate(olds):
        near = range(max(0, i - _FIGURE_WINDOW), min(len(news), i + _FIGURE_WINDOW + 1)) if windowed \
            else range(len(news))
        for j in near:
            n = news[j]
            if _FIGURE_GROUP[o.kind] != _FIGURE_GROUP[n.kind]:
                continue
            score = _pair_score(old_features[i], new_features[j]) + ((o.start, n.start) in slots)
            if score >= MIN_SCORE:
                candidates.append((-score, abs(i - j), i, j))
    used_old: set[int] = set()
    used_new: set[int] = set()
    pairs = kept
    for _, _, i, j in sorted(candidates):
        if i in used_old or j in used_new:
            continue
        used_old.add(i)
        used_new.add(j)
        pairs.append((olds[i], news[j]))
    return sorted(pairs, key=lambda p: p[1].start)


class _Features(NamedTuple):
    """What a figure is scored on, computed once per figure rather than once per candidate pair."""

    key: str
    context: tuple[str, ...]       # stems of the context words
    before: str | None             # the word before the figure and its qualifier, stemmed
    after: str | None
    unit: str | None


def _features(sentence: str, figure: Figure) -> _Features:
    context = tuple(_stem(w) for w in figure.context.split()) if figure.context else ()
    if figure.unit and context == (_stem(figure.unit),):
        # "one week earlier" -> "for 27 weeks": a context that only repeats the unit is no evidence
        # beyond the unit's own point; durations of different things share it all the time.
        context = ()
    return _Features(figure.key, context, _word_before(sentence, figure), _word_after(sentence, figure),
                     figure.unit)


def _pair_score(o: _Features, n: _Features) -> int:
    score = 3 if o.key == n.key else 0
    if o.context and n.context:
        score += 2 if o.context == n.context else 1 if set(o.context) & set(n.context) else 0
    if o.before == n.before:
        score += 1
    if o.after == n.after:
        score += 1
    if o.unit and n.unit:
        score += 1 if o.unit == n.unit else -2
    return score


def _stem(word: str) -> str:
    """A crude singular, enough to see that "case" and "cases", "casualty" and "casualties" agree."""
    lower = word.lower()
    if len(lower) > 4 and lower.endswith("ies"):
        return lower[:-3] + "y"
    if len(lower) > 3 and lower.endswith("s") and not lower.endswith(("ss", "us", "is")):
        return lower[:-1]
    return lower


def _word_before(sentence: str, figure: Figure) -> str | None:
    skip = len(figure.qualifier.split()) if figure.qualifier else 0
    words = preceding_words(sentence, figure.start, skip + 1)
    return _stem(words[0]) if len(words) == skip + 1 else None


def _word_after(sentence: str, figure: Figure) -> str | None:
    m = _NEXT_WORD.match(sentence, figure.end)
    if m and figure.kind == "number" and figure.unit:
        # The unit word ("four months ago") already scores as the unit: the word after it is the evidence.
        m = _NEXT_WORD.match(sentence, m.end())
    return _stem(m.group(1)) if m else None


def _slots(words: tuple[WordOp, ...], old_figures: list[Figure], new_figures: list[Figure]
           ) -> set[tuple[int, int]]:
    """(old start, new start) of quantities that the word diff ``words`` puts in the same place.

    The word diff's parts rebuild both sentences ("=" and "-" the old, "=" and "+" the new), so walking
    them gives the span of every edit in each sentence; an edit that removes a short run and inserts a
    short run holding as many quantities each pairs them in order.
    """
    old_starts = sorted(f.start for f in old_figures if f.kind in QUANTITY_KINDS)
    new_starts = sorted(f.start for f in new_figures if f.kind in QUANTITY_KINDS)
    slots: set[tuple[int, int]] = set()
    old_pos = new_pos = k = 0
    while k < len(words):
        op, text = words[k]
        k += 1
        if op == "=":
            old_pos, new_pos = old_pos + len(text), new_pos + len(text)
            continue
        removed = text if op == "-" else ""
        added = text if op == "+" else ""
        if op == "-" and k < len(words) and words[k][0] == "+":
            added = words[k][1]
            k += 1
        if removed and added and len(_WORD.findall(removed)) <= SLOT_WORDS \
                and len(_WORD.findall(added)) <= SLOT_WORDS:
            old_here = [s for s in old_starts if old_pos <= s < old_pos + len(removed)]
            new_here = [s for s in new_starts if new_pos <= s < new_pos + len(added)]
            if len(old_here) == len(new_here):    # one number for one number (or two for two, in order)
                slots.update(zip(old_here, new_here, strict=True))
        old_pos, new_pos = old_pos + len(removed), new_pos + len(added)
    return slots
