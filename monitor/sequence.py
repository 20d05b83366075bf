"""Opcodes between two sequences of strings (paragraphs or sentences), in near-linear time.

``opcodes(a, b)`` returns what ``difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()``
returns for ordinary articles, with two guards against its worst case:

1. The common prefix and suffix are trimmed first: an edit in the middle of a 5 MB article leaves a
   handful of items for the matcher.
2. ``SequenceMatcher`` without autojunk costs, per search, the number of (old item, equal new item) pairs.
   That is the length of the text when items are unique, but quadratic when the same paragraph or
   sentence repeats hundreds of times (boilerplate, a feed of near-identical updates, or a benchmark built
   by repetition). Past ``MAX_MATCH_COST`` pairs the region is anchored instead on items that occur
   exactly once on each side (as in patience diff: the longest run of such items in the same order), each
   gap between anchors is handled the same way, and a gap that is still too costly and has no unique item
   is walked greedily, each side looking ``LOOKAHEAD`` items ahead for the other's next item.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from difflib import SequenceMatcher

MAX_MATCH_COST = 1_000_000
LOOKAHEAD = 64

Opcode = tuple[str, int, int, int, int]
Block = tuple[int, int, int]          # (start in a, start in b, length), like difflib's matching blocks


def opcodes(a: Sequence[str], b: Sequence[str]) -> list[Opcode]:
    """difflib-style opcodes ("equal", "replace", "delete", "insert") turning ``a`` into ``b``."""
    prefix = 0
    while prefix < min(len(a), len(b)) and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(a), len(b)) - prefix and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    blocks: list[Block] = [(0, 0, prefix)] if prefix else []
    blocks += _blocks(a, b, prefix, len(a) - suffix, prefix, len(b) - suffix)
    if suffix:
        blocks.append((len(a) - suffix, len(b) - suffix, suffix))
    return _to_opcodes(blocks, len(a), len(b))


def common_prefix_length(a: str, b: str) -> int:
    """Length of the longest common prefix, comparing 64 kB slices at C speed before narrowing down."""
    n = min(len(a), len(b))
    lo, step = 0, 1 << 16
    while lo + step <= n and a[lo:lo + step] == b[lo:lo + step]:
        lo += step
    hi = min(n, lo + step)
    while lo < hi:                                  # invariant: a[:lo] == b[:lo]
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _blocks(a: Sequence[str], b: Sequence[str], a_lo: int, a_hi: int, b_lo: int, b_hi: int) -> list[Block]:
    """Matching blocks of ``a[a_lo:a_hi]`` and ``b[b_lo:b_hi]``, in absolute positions and order."""
    found: list[Block] = []
    pending = [(a_lo, a_hi, b_lo, b_hi)]
    while pending:                                  # regions are processed right to left: pop the last
        a_lo, a_hi, b_lo, b_hi = pending.pop()
        if a_lo >= a_hi or b_lo >= b_hi:
            continue
        sub_a, sub_b = a[a_lo:a_hi], b[b_lo:b_hi]
        counts = Counter(sub_b)
        if sum(counts[x] for x in sub_a) <= MAX_MATCH_COST:
            matcher = SequenceMatcher(None, sub_a, sub_b, autojunk=False)
            found += [(a_lo + i, b_lo + j, n) for i, j, n in matcher.get_matching_blocks() if n]
            continue
        anchors = _unique_anchors(sub_a, sub_b, counts)
        if not anchors:
            found += _greedy(a, b, a_lo, a_hi, b_lo, b_hi)
            continue
        prev_a, prev_b = a_lo, b_lo
        for i, j in anchors:
            pending.append((prev_a, a_lo + i, prev_b, b_lo + j))
            found.append((a_lo + i, b_lo + j, 1))
            prev_a, prev_b = a_lo + i + 1, b_lo + j + 1
        pending.append((prev_a, a_hi, prev_b, b_hi))
    return sorted(found)


def _unique_anchors(a: Sequence[str], b: Sequence[str], counts_b: Counter[str]) -> list[tuple[int, int]]:
    """Items occurring once in ``a`` and once in ``b``, as the longest list of pairs in the same order."""
    counts_a = Counter(a)
    where_b = {x: j for j, x in enumerate(b) if counts_b[x] == 1}
    pairs = [(i, where_b[x]) for i, x in enumerate(a) if counts_a[x] == 1 and x in where_b]
    # Longest increasing subsequence of the b positions (pairs are already in a order), O(k log k).
    tails: list[int] = []                           # tails[k]: smallest b position ending a run of k + 1
    tail_index: list[int] = []
    previous: list[int] = [-1] * len(pairs)
    for n, (_, j) in enumerate(pairs):
        k = bisect.bisect_left(tails, j)
        if k == len(tails):
            tails.append(j)
            tail_index.append(n)
        else:
            tails[k] = j
            tail_index[k] = n
        previous[n] = tail_index[k - 1] if k else -1
    run: list[tuple[int, int]] = []
    n = tail_index[-1] if tail_index else -1
    while n >= 0:
        run.append(pairs[n])
        n = previous[n]
    return run[::-1]


def _greedy(a: Sequence[str], b: Sequence[str], a_lo: int, a_hi: int, b_lo: int, b_hi: int) -> list[Block]:
    """Walk both sides in step; on a mismatch skip whichever side reaches the other's item sooner."""
    found: list[Block] = []
    i, j = a_lo, b_lo
    while i < a_hi and j < b_hi:
        if a[i] == b[j]:
            found.append((i, j, 1))
            i, j = i + 1, j + 1
            continue
        skip_b = next((d for d in range(1, LOOKAHEAD) if j + d < b_hi and b[j + d] == a[i]), None)
        skip_a = next((d for d in range(1, LOOKAHEAD) if i + d < a_hi and a[i + d] == b[j]), None)
        if skip_a is None and skip_b is None:
            i, j = i + 1, j + 1
        elif skip_b is None or (skip_a is not None and skip_a <= skip_b):
            i += skip_a or 1
        else:
            j += skip_b
    return found


def _to_opcodes(blocks: list[Block], len_a: int, len_b: int) -> list[Opcode]:
    ops: list[Opcode] = []
    i = j = 0
    for a_start, b_start, size in [*blocks, (len_a, len_b, 0)]:
        tag = "replace" if i < a_start and j < b_start else "delete" if i < a_start else \
            "insert" if j < b_start else ""
        if tag:
            ops.append((tag, i, a_start, j, b_start))
        if size:
            if ops and ops[-1][0] == "equal":      # adjacent blocks of one item each: merge
                _, i1, _, j1, _ = ops[-1]
                ops[-1] = ("equal", i1, a_start + size, j1, b_start + size)
            else:
                ops.append(("equal", a_start, a_start + size, b_start, b_start + size))
        i, j = a_start + size, b_start + size
    return ops
