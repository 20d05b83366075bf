"""Qualifier changes: the same figure, hedged differently ("at least 1,000" -> "more than 1,000").

A changed qualifier is not a figure change (the value is the same) and not mere wording either: "at
least" becoming "more than", or "about" becoming "at least", changes what the article claims. It is its
own class, reported at significance "medium".

``qualifier_changes(old_sentence, new_sentence)`` pairs the figures of two aligned sentences as
:mod:`monitor.figure_pairs` does and reports each pair whose value (and unit) is equal and whose
qualifier differs, a qualifier added ("1,000" -> "at least 1,000") or dropped included.

Interchangeable spellings are not a change: "about", "around", "roughly", "approximately" and "some";
"more than" and "over"; "fewer than" and "less than"; "nearly" and "almost"; "estimated" and "an
estimated". (Style guides argue over "over" against "more than"; readers do not.) Nor is a qualifier
that only moved: "they only received 56" -> "they received only 56".
"""

from __future__ import annotations

import re

from monitor.figure_pairs import pair_figures
from monitor.figures import Figure
from monitor.models import QualifierChange, WordOp

_NEAR = 30                   # characters before a figure where a qualifier that moved may still stand
_SAME_MEANING: dict[str, str] = {
    "around": "about", "roughly": "about", "approximately": "about", "some": "about",
    "over": "more than",
    "less than": "fewer than",
    "almost": "nearly",
    "an estimated": "estimated",
}


def qualifier_changes(old_sentence: str, new_sentence: str, old_figures: list[Figure] | None = None,
                      new_figures: list[Figure] | None = None, words: tuple[WordOp, ...] | None = None
                      ) -> list[QualifierChange]:
    """Figures of two aligned sentences whose value is equal and whose qualifier changed, in the order of
    the new sentence. The figures (with context) and the word diff may be passed in when the caller has
    them."""
    pairs = pair_figures(old_sentence, new_sentence, old_figures, new_figures, words)
    return changed_qualifiers(pairs, old_sentence, new_sentence)


def changed_qualifiers(pairs: list[tuple[Figure, Figure]], old_sentence: str, new_sentence: str
                       ) -> list[QualifierChange]:
    """The pairs of :func:`monitor.figure_pairs.pair_figures` whose qualifier alone changed."""
    changes = []
    for o, n in pairs:
        if o.key != n.key or _meaning(o.qualifier) == _meaning(n.qualifier):
            continue
        if (o.qualifier is None and _just_before(old_sentence, o, n.qualifier)) or \
                (n.qualifier is None and _just_before(new_sentence, n, o.qualifier)):
            continue                            # "they only received 56" -> "received only 56": moved
        changes.append(QualifierChange(figure=n.text, value=n.value, old=o.qualifier, new=n.qualifier,
                                       context=n.context or o.context, old_sentence=old_sentence,
                                       new_sentence=new_sentence))
    return changes


def _meaning(qualifier: str | None) -> str | None:
    return None if qualifier is None else _SAME_MEANING.get(qualifier, qualifier)


def _just_before(sentence: str, figure: Figure, qualifier: str | None) -> bool:
    """Does ``qualifier`` stand among the few words before ``figure``, though not right before it?"""
    if qualifier is None:
        return False
    pattern = r"\b" + r"\s+".join(map(re.escape, qualifier.split())) + r"\b"
    return re.search(pattern, sentence[max(0, figure.start - _NEAR):figure.start], re.IGNORECASE) is not None
