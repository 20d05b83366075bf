"""Normalised forms of article text: what counts as "the same" text.

Three levels, each coarser than the last:

- ``display_paragraphs(text)``: the text as people read it, paragraph by paragraph: invisible characters
  removed and white space collapsed, but quotes, dashes and digits as written. The diff reports sentences in
  this form.
- ``comparable(text)``: typography folded (NFKC, curly quotes, dashes, minus signs, exotic spaces). Two
  versions with the same comparable title and text are the same version: ``fingerprint`` hashes it.
- ``cosmetic_key(text)``: comparable text with every figure spelled canonically ("1,500" and "1500",
  "4.5 per cent" and "4.5%", "$1.2bn" and "$1,200m", "11th" and "eleventh"), paragraph breaks folded to
  spaces, white space before punctuation dropped ("today , the" as tokenised text writes it) and hyphens
  between words made spaces ("23-year-old", "23 year old"). Texts with the same key differ only in
  typography, white space or number formatting: a ``cosmetic`` change. Case and wording are never folded.

Every function is pure and idempotent: ``comparable(comparable(t)) == comparable(t)``. Paragraphs are
normalised one at a time (``comparable`` is the join of ``comparable_paragraph`` over
``display_paragraphs``) so the diff can normalise only the paragraphs that differ.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from monitor.figures import find_figures

# Invisible characters that editors and CMSs sprinkle into text: ZWSP, ZWNJ, ZWJ, word joiner, BOM,
# soft hyphen. Removing ZWJ breaks emoji sequences into their parts, which is harmless for comparison.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_TYPOGRAPHY: dict[str, str] = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2035\u02bc", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u2036", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d", "-"),
}
# Regular expressions rather than str.translate: translate runs a Python-level lookup per character on
# non-ASCII text, about eight times slower on a typical paragraph with one curly apostrophe.
_TYPOGRAPHY_RE = re.compile("[" + "".join(_TYPOGRAPHY) + "]")
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")


def _fold_typography(text: str) -> str:
    return _TYPOGRAPHY_RE.sub(lambda m: _TYPOGRAPHY[m.group()], text)


def display_paragraphs(text: str) -> list[str]:
    """The non-empty paragraphs of ``text`` with invisible characters removed and white space collapsed.

    A paragraph ends at a blank line; a single newline inside a paragraph is a line wrap and becomes a
    space. Characters are otherwise kept as written.
    """
    if not text.isascii():
        text = _INVISIBLE.sub("", text)
        text = text.replace("\u2029", "\n\n").replace("\u2028", "\n").replace("\x85", "\n")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = (" ".join(part.split()) for part in _PARAGRAPH_BREAK.split(text))
    return [p for p in paragraphs if p]


def comparable_paragraph(paragraph: str) -> str:
    """``comparable`` of one paragraph (or sentence): no newlines in the result.

    Typography is folded before NFKC (which would turn the double prime into two primes) and after it
    (NFKC maps fullwidth and small-form variants onto the curly characters).
    """
    if paragraph.isascii():                     # ASCII is NFKC-stable and has no typography to fold
        return " ".join(paragraph.split())
    folded = _fold_typography(_INVISIBLE.sub("", paragraph))
    if not unicodedata.is_normalized("NFKC", folded):
        folded = _INVISIBLE.sub("", _fold_typography(unicodedata.normalize("NFKC", folded)))
    return " ".join(folded.split())


def comparable(text: str) -> str:
    """Text with typography folded, paragraphs separated by exactly one blank line. Idempotent."""
    return "\n\n".join(c for c in map(comparable_paragraph, display_paragraphs(text)) if c)


def fingerprint(title: str, text: str) -> str:
    """sha256 (hex) of the comparable title and text: equal fingerprints mean the same version."""
    data = comparable(title) + "\n\n" + comparable(text)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


# White space before closing punctuation or after an opening bracket ("Serbia today , the", "( 0900 )",
# as tokenised text writes them) and a hyphen between two words or figures ("23-year-old" and "23 year
# old") are typography: both folded in the cosmetic key only. A hyphen after a space ("-5") is kept.
# Comparable text has single spaces only, so plain str.replace does it (a regex tried at every position
# doubled the cost of the cosmetic check).
_SPACED_PUNCT = tuple((" " + c, c) for c in ",.;:!?%)]") + (("( ", "("), ("[ ", "["))
_WORD_HYPHEN = re.compile("(?<=[\\w\ue001])-(?=[\\w\ue000])")


def figure_key(paragraph: str) -> str:
    """A comparable paragraph with each figure replaced by its canonical spelling, and the white space
    before punctuation and the hyphens between words folded (see above).

    The replacement is wrapped in private-use characters so that a canonical "1500" can never merge with
    the words around it or be confused with the same digits written in the text.
    """
    parts: list[str] = []
    pos = 0
    for figure in find_figures(paragraph, with_context=False):
        parts.append(paragraph[pos:figure.start])
        parts.append(f"\ue000{figure.key}\ue001")
        pos = figure.end
    parts.append(paragraph[pos:])
    key = "".join(parts)
    if "-" in key:
        key = _WORD_HYPHEN.sub(" ", key)
    for spaced, tight in _SPACED_PUNCT:
        if spaced in key:
            key = key.replace(spaced, tight)
    return key


def cosmetic_key(text: str) -> str:
    """Texts with equal keys differ only in typography, white space (paragraph breaks included) or the
    formatting of numbers. Figures keep their value: "1.5 million" and "15 million" differ."""
    return " ".join(figure_key(p) for p in comparable(text).split("\n\n") if p)
