"""Word-level diff of two sentences: the ``words`` of a ``ChangedSentence``.

Tokens are words, white space and punctuation, except that every figure (numbers with separators,
currency and scale, percentages, clock times, dates: see :mod:`monitor.figures`) is one token, so "1,000"
-> "1,500" is one replacement, not a digit edit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher
from itertools import groupby
from typing import NamedTuple

from monitor.figures import Figure, find_figures
from monitor.models import WordOp
from monitor.normalise import comparable_paragraph
from monitor.sequence import opcodes

FIGURE_MARK = "\ue000"       # prefixes the comparison key of a figure token
_WORD_TOKEN = re.compile(r"\w+(?:['’]\w+)*|\s+|[^\w\s]")
_MAX_MATCHER_TOKENS = 20_000


def word_diff(old: str, new: str, old_figures: list[Figure] | None = None,
              new_figures: list[Figure] | None = None) -> tuple[WordOp, ...]:
    """Word-level diff of two sentences.

    Tokens are words, white space and punctuation, except that every figure (numbers with separators,
    currency and scale, percentages, clock times, dates) is one token, so "1,000" -> "1,500" is one
    replacement, not a digit edit. Tokens are aligned on their comparable form (figures on their canonical
    value); an aligned token written differently on each side is still shown as "-"/"+" so the parts
    rebuild both sentences exactly: the "=" and "-" parts concatenate to ``old``, "=" and "+" to ``new``.
    The figures of each sentence may be passed in when the caller already has them.
    """
    a = word_tokens(old, find_figures(old, with_context=False) if old_figures is None else old_figures)
    b = word_tokens(new, find_figures(new, with_context=False) if new_figures is None else new_figures)
    # Trim the common ends first: most edits touch a few words, and SequenceMatcher is the costly part.
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    segments = [_Run(True, x, x, False) for x, _ in a[:head]]
    a_mid, b_mid = a[head:len(a) - tail], b[head:len(b) - tail]
    keys_a, keys_b = [k for _, k in a_mid], [k for _, k in b_mid]
    codes: Sequence[tuple[str, int, int, int, int]]
    if len(keys_a) + len(keys_b) <= _MAX_MATCHER_TOKENS:
        # White space as junk: it may extend a match but never start one, which keeps edits in one piece.
        codes = SequenceMatcher(lambda key: key == " ", keys_a, keys_b, autojunk=False).get_opcodes()
    else:
        codes = opcodes(keys_a, keys_b)        # a huge "sentence": the guarded, near-linear matcher
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal":
            segments.extend(_Run(x == y, x, y, k.startswith(FIGURE_MARK))
                            for (x, k), (y, _) in zip(a_mid[i1:i2], b_mid[j1:j2], strict=True))
        else:
            old_part, new_part = a_mid[i1:i2], b_mid[j1:j2]
            figures_only = bool(old_part and new_part) and all(
                k.startswith(FIGURE_MARK) or k == " " for _, k in old_part + new_part)
            segments.append(_Run(False, "".join(t for t, _ in old_part), "".join(t for t, _ in new_part),
                                 figures_only))
    segments += [_Run(True, x, x, False) for x, _ in a[len(a) - tail:]]
    ops: list[WordOp] = []
    for run in _fold_short_equalities(segments):
        if run.equal:
            ops.append(("=", run.old))
            continue
        if run.old:
            ops.append(("-", run.old))
        if run.new:
            ops.append(("+", run.new))
    return tuple(ops)


class _Run(NamedTuple):
    equal: bool
    old: str
    new: str
    figure: bool          # an edit that only replaces figures: "1,000" -> "1,500"


def _fold_short_equalities(segments: list[_Run]) -> list[_Run]:
    """Merge adjacent segments of the same kind, then fold an equal run into the edits around it when it
    is no longer than the edit on either side (the rule of diff-match-patch's semantic clean-up):
    "-were ill-prepared" "+lacked" reads better than an island "= were " between two edits. Edits that
    only replace figures are never merged with their neighbours, so each changed number stays visible
    on its own ("-$1.2bn" "+$1.5bn" "= at " "-10 a.m." "+11 a.m.")."""
    runs: list[_Run] = []
    for equal, group in groupby(segments, key=lambda s: s.equal):
        parts = list(group)
        figure = not equal and all(p.figure for p in parts)
        runs.append(_Run(equal, "".join(p.old for p in parts), "".join(p.new for p in parts), figure))
    stack: list[_Run] = []
    for run in runs:
        stack.append(run)
        while len(stack) >= 3:
            left, middle, right = stack[-3:]
            if not (middle.equal and not left.equal and not right.equal) or left.figure or right.figure \
                    or len(middle.old) > max(len(left.old), len(left.new)) \
                    or len(middle.old) > max(len(right.old), len(right.new)):
                break
            stack[-3:] = [_Run(False, left.old + middle.old + right.old, left.new + middle.new + right.new,
                               False)]
    return stack


def word_tokens(sentence: str, figures: list[Figure]) -> list[tuple[str, str]]:
    """(text, comparison key) tokens covering ``sentence`` exactly; a figure is one token."""
    tokens: list[tuple[str, str]] = []

    def plain(text: str) -> None:
        for m in _WORD_TOKEN.finditer(text):
            t = m.group()
            if t.isspace():
                tokens.append((t, " "))
            else:                           # ASCII is already comparable: skip the normaliser
                tokens.append((t, t if t.isascii() else comparable_paragraph(t) or t))

    pos = 0
    for figure in figures:
        plain(sentence[pos:figure.start])
        tokens.append((figure.text, FIGURE_MARK + figure.key))
        pos = figure.end
    plain(sentence[pos:])
    return tokens
