"""Align the sentences of two versions: which are kept, moved, changed, added or removed.

Input is two lists of *comparable* sentences (see :mod:`monitor.normalise`); output is indices. The steps,
and why they keep the cost near linear even for a 5 MB article:

1. **Common prefix and suffix** are trimmed first (a plain O(n) walk). An edit in the middle of a long
   article leaves only the edited region for the expensive steps below.
2. **Anchors**: ``difflib.SequenceMatcher(autojunk=False)`` on the remaining sentence strings (hashable, so
   each comparison is a hash lookup) finds the sentences kept in order; :mod:`monitor.sequence` does
   steps 1 and 2 and guards against the matcher's quadratic case (heavily repeated sentences). What lies
   between two anchors is a *gap*: an old run and a new run of leftover sentences.
3. **Moved**: a leftover sentence whose exact text is also a leftover on the other side is ``moved``,
   never removed plus added. (Within one gap that cannot happen: the matcher would have anchored it.)
4. **Similar pairs within each gap**: word-token similarity (``SequenceMatcher.ratio`` over lower-cased
   words with every number masked, so "at least 1,000" -> "at least 1,500" is a near-perfect pair) of at
   least ``THRESHOLD``, paired greedily best first. A sentence split in two or three, or two or three
   merged into one, is a candidate too: one sentence against a run of up to ``MAX_RUN`` adjacent ones.
   The run's score is its ratio minus ``SPLIT_PENALTY`` per extra sentence, a tie-breaker only: the
   ratio itself already punishes a run that adds a sentence of new content (its words match nothing),
   and rewards one whose extra sentence carries words of the old sentence. With a larger penalty (it was
   0.05) a split that moves a short clause into a sentence of its own ("..., officials said." -> "...
   Officials said so.") lost to the plain pair, and the short sentence was reported as added.
   Comparisons per gap are capped at ``MAX_COMPARISONS``: beyond it each old sentence is only compared
   with the new sentences at a similar relative position in the gap.
5. **Similar pairs across gaps** (a sentence both moved and edited), only when few leftovers remain.
6. **Cosmetic twins**: a similar pair whose sides differ only in number formatting ("1,000" vs "1000")
   is not a change: dropped silently within a gap, reported as moved across gaps.
7. Whatever is left is added or removed.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from monitor.sequence import opcodes

THRESHOLD = 0.5
SPLIT_PENALTY = 0.01         # per extra sentence in a split or merge: a tie-breaker (see _pair_similar)
MAX_RUN = 3                  # a sentence split into (or merged from) at most this many
MAX_COMPARISONS = 2_000
MAX_RATIO_TOKENS = 4_000

_NUMBER = re.compile(r"\d[\d,.]*")
_WORD = re.compile(r"\w+")

Unit = tuple[int, ...]   # one sentence index, or a run of adjacent ones (a split or a merge)


@dataclass(frozen=True)
class Alignment:
    """Indices into the old and new sentence lists."""

    changed: tuple[tuple[Unit, Unit], ...]   # (old indices, new indices), in new order
    moved: tuple[int, ...]                   # new indices, in new order
    added: tuple[int, ...]                   # new indices
    removed: tuple[int, ...]                 # old indices


def similarity_tokens(sentence: str) -> list[str]:
    """Lower-cased words with every number masked: what sentence similarity is computed on."""
    return _WORD.findall(_NUMBER.sub("0", sentence.lower()))


def similarity(a: str, b: str) -> float:
    """The similarity of two sentences as alignment measures it (0 to 1; numbers masked)."""
    return SequenceMatcher(None, similarity_tokens(a), similarity_tokens(b), autojunk=False).ratio()


def align(old: Sequence[str], new: Sequence[str], cosmetic: Callable[[str], str]) -> Alignment:
    """Align comparable sentences ``old`` to ``new``; ``cosmetic`` maps a sentence to its cosmetic key."""
    gaps = [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in opcodes(old, new) if tag != "equal"]
    old_gap = {i: g for g, (i1, i2, _, _) in enumerate(gaps) for i in range(i1, i2)}
    new_gap = {j: g for g, (_, _, j1, j2) in enumerate(gaps) for j in range(j1, j2)}

    moved: list[int] = []
    changed: list[tuple[Unit, Unit]] = []

    # 3. exact moves
    for i, j in _pair_equal(old_gap, new_gap, lambda i: old[i], lambda j: new[j]):
        moved.append(j)
        del old_gap[i], new_gap[j]

    # 4. similar pairs within each gap, 6. twins dropped
    tokens: dict[tuple[str, int], list[str]] = {}

    def tok(side: str, index: int) -> list[str]:
        if (side, index) not in tokens:
            tokens[side, index] = similarity_tokens((old if side == "old" else new)[index])
        return tokens[side, index]

    by_gap_old: dict[int, list[int]] = defaultdict(list)
    by_gap_new: dict[int, list[int]] = defaultdict(list)
    for i, g in old_gap.items():
        by_gap_old[g].append(i)
    for j, g in new_gap.items():
        by_gap_new[g].append(j)
    for g in sorted(set(by_gap_old) & set(by_gap_new)):
        for pair in _pair_similar(sorted(by_gap_old[g]), sorted(by_gap_new[g]), tok, splits=True):
            for i in pair[0]:
                del old_gap[i]
            for j in pair[1]:
                del new_gap[j]
            if not _twins(pair, old, new, cosmetic):
                changed.append(pair)

    # 5. similar pairs across gaps: moved and edited (or moved and reformatted: then just moved)
    if old_gap and new_gap and len(old_gap) * len(new_gap) <= MAX_COMPARISONS:
        for pair in _pair_similar(sorted(old_gap), sorted(new_gap), tok, splits=False):
            del old_gap[pair[0][0]], new_gap[pair[1][0]]
            if _twins(pair, old, new, cosmetic):
                moved.append(pair[1][0])
            else:
                changed.append(pair)

    return Alignment(changed=tuple(sorted(changed, key=lambda p: (p[1][0], p[0][0]))),
                     moved=tuple(sorted(moved)), added=tuple(sorted(new_gap)), removed=tuple(sorted(old_gap)))


def _twins(pair: tuple[Unit, Unit], old: Sequence[str], new: Sequence[str],
           cosmetic: Callable[[str], str]) -> bool:
    """Do the two sides of a pair differ only in number formatting ("1,000" and "1000")?

    Checked on similar pairs only: twins are near-identical, so they always pair, and keying just the
    pairs spares keying every leftover sentence.
    """
    old_text = " ".join(old[i] for i in pair[0])
    new_text = " ".join(new[j] for j in pair[1])
    return cosmetic(old_text) == cosmetic(new_text)


def _pair_equal(old_left: dict[int, int], new_left: dict[int, int], old_key: Callable[[int], object],
                new_key: Callable[[int], object]) -> list[tuple[int, int]]:
    """Pairs of leftovers with equal keys, first come first served in document order."""
    waiting: dict[object, deque[int]] = defaultdict(deque)
    for j in sorted(new_left):
        waiting[new_key(j)].append(j)
    pairs = []
    for i in sorted(old_left):
        queue = waiting.get(old_key(i))
        if queue:
            pairs.append((i, queue.popleft()))
    return pairs


def _pair_similar(old_ids: list[int], new_ids: list[int], tok: Callable[[str, int], list[str]], *,
                  splits: bool) -> list[tuple[Unit, Unit]]:
    """Greedy best-first pairing of similar sentences (and splits/merges of adjacent ones)."""
    old_units: list[Unit] = [(i,) for i in old_ids]
    new_units: list[Unit] = [(j,) for j in new_ids]
    if splits:
        old_units += _runs(old_ids)
        new_units += _runs(new_ids)
        old_units.sort()
        new_units.sort()
    window = max(1, MAX_COMPARISONS // max(1, 2 * len(old_units)))
    candidates: list[tuple[float, int, Unit, Unit]] = []
    for n_pos, n_unit in enumerate(new_units):
        b = [t for j in n_unit for t in tok("new", j)]
        matcher = SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(b)                                 # seq2 is the one SequenceMatcher caches
        for o_pos, o_unit in enumerate(old_units):
            if len(o_unit) > 1 and len(n_unit) > 1:
                continue                                    # one sentence against a run, never run to run
            if len(old_units) * len(new_units) > MAX_COMPARISONS and \
                    abs(o_pos * len(new_units) / len(old_units) - n_pos) > window:
                continue
            a = [t for i in o_unit for t in tok("old", i)]
            matcher.set_seq1(a)
            if matcher.real_quick_ratio() < THRESHOLD or matcher.quick_ratio() < THRESHOLD:
                continue
            # ratio() can be quadratic; beyond a few thousand words (a whole article without full stops)
            # the order-blind quick_ratio() has to do.
            ratio = matcher.ratio() if len(a) + len(b) <= MAX_RATIO_TOKENS else matcher.quick_ratio()
            score = ratio - SPLIT_PENALTY * (len(o_unit) + len(n_unit) - 2)
            if score >= THRESHOLD:
                candidates.append((-score, abs(o_unit[0] - n_unit[0]), o_unit, n_unit))
    used_old: set[int] = set()
    used_new: set[int] = set()
    pairs: list[tuple[Unit, Unit]] = []
    for _, _, o_unit, n_unit in sorted(candidates):
        if used_old.isdisjoint(o_unit) and used_new.isdisjoint(n_unit):
            used_old.update(o_unit)
            used_new.update(n_unit)
            pairs.append((o_unit, n_unit))
    return pairs


def _runs(ids: list[int]) -> list[Unit]:
    """Runs of 2 to ``MAX_RUN`` consecutive sentence indices among ``ids`` (sorted)."""
    runs: list[Unit] = []
    for k, first in enumerate(ids):
        for length in range(2, MAX_RUN + 1):
            run = tuple(ids[k:k + length])
            if len(run) < length or run[-1] != first + length - 1:
                break
            runs.append(run)
    return runs
