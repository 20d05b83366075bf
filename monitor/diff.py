"""The diff of two versions of an article: the ``Diff`` object of the contract (docs: ARCHITECTURE).

``diff_texts(old_text, new_text, old_title=..., new_title=...)`` decides, in order:

1. ``unchanged`` when the comparable titles and texts are equal (:func:`monitor.normalise.comparable`).
2. ``cosmetic`` when their cosmetic keys are equal (typography, white space, paragraph breaks or number
   formatting only). Nothing is listed and significance is "none".
3. ``modified`` otherwise: a ``TitleChange`` when the titles differ beyond cosmetics; sentences aligned by
   :mod:`monitor.align` into ``moved``, ``changed`` (with a word diff), ``added`` and ``removed``;
   ``figures``, the numbers whose value changed inside each changed sentence and inside the headline
   (:mod:`monitor.figure_pairs`); and the qualifier changes, figures whose value stayed while "at least"
   became "more than" (:mod:`monitor.qualifiers`).

Significance: a figure or title change is "high", an added or removed sentence or a changed qualifier
"medium", changed wording or moved sentences "low".

Cost: an edit deep inside a 5 MB article costs the normalisation of both texts plus work proportional to
the edited region. Only paragraphs between the common leading and trailing ones are compared; of those,
paragraphs kept verbatim stand in as single units, and of a long paragraph replaced by another only the
window around the difference is split and keyed (``_edit_window``); sequences are matched by
:func:`monitor.sequence.opcodes`, which stays near-linear on heavily repeated text.

Sentences are reported as written (``display_paragraphs``: invisible characters removed, white space
collapsed), never in their folded comparable form.
"""

from __future__ import annotations

from monitor.align import THRESHOLD as ALIGN_THRESHOLD
from monitor.align import align, similarity
from monitor.figure_pairs import changed_values, figure_changes, pair_figures
from monitor.figures import find_figures
from monitor.models import ChangedSentence, Diff, Document, FigureChange, Significance, TitleChange
from monitor.normalise import comparable_paragraph, display_paragraphs, figure_key
from monitor.qualifiers import QualifierChange, changed_qualifiers, qualifier_changes
from monitor.sentences import sentence_start, split_sentences
from monitor.sequence import common_prefix_length, opcodes
from monitor.word_diff import word_diff

_KEPT_MARK = "\x00\ue001"    # prefixes the key standing in for text kept verbatim
_BIG = 20_000                # characters: a changed paragraph this long is diffed through an edit window
_MARGIN = 200                # characters of unchanged text kept in the window on each side of an edit

__all__ = ["diff_documents", "diff_texts", "figure_changes", "qualifier_changes", "word_diff"]


def diff_documents(old: Document, new: Document) -> Diff:
    """``diff_texts`` of two extracted documents, titles included."""
    return diff_texts(old.text, new.text, old_title=old.title, new_title=new.title)


def diff_texts(old_text: str, new_text: str, *, old_title: str | None = None,
               new_title: str | None = None) -> Diff:
    """What changed from ``old_text`` to ``new_text``. Titles are compared only when both are given."""
    old_paras, new_paras = _paragraphs(old_text), _paragraphs(new_text)
    old_keys, new_keys = [c for _, c in old_paras], [c for _, c in new_paras]
    titles = old_title is not None and new_title is not None
    old_t = comparable_paragraph(old_title or "") if titles else ""
    new_t = comparable_paragraph(new_title or "") if titles else ""
    if old_t == new_t and old_keys == new_keys:
        return Diff(kind="unchanged", significance="none")

    lo = 0
    while lo < min(len(old_keys), len(new_keys)) and old_keys[lo] == new_keys[lo]:
        lo += 1
    hi = 0
    while hi < min(len(old_keys), len(new_keys)) - lo and old_keys[-1 - hi] == new_keys[-1 - hi]:
        hi += 1
    old_mid, new_mid = old_keys[lo:len(old_keys) - hi], new_keys[lo:len(new_keys) - hi]
    title_cosmetic = old_t == new_t or figure_key(old_t) == figure_key(new_t)
    if title_cosmetic and _same_key_stream(old_mid, new_mid):
        return Diff(kind="cosmetic", significance="none")

    title = None
    figures: list[FigureChange] = []
    qualifiers: list[QualifierChange] = []
    if not title_cosmetic:
        title = TitleChange(old=" ".join((old_title or "").split()), new=" ".join((new_title or "").split()))
        # A headline is a sentence too: "1,000 killed in ..." -> "1,500 killed in ..." is a figure change,
        # reported (with the titles as its sentences) when the two headlines are similar enough to be
        # one headline edited, by the same measure the sentence alignment uses.
        if similarity(old_t, new_t) >= ALIGN_THRESHOLD:
            pairs = pair_figures(title.old, title.new)
            figures += changed_values(pairs, title.old, title.new)
            qualifiers += changed_qualifiers(pairs, title.old, title.new)
    old_sents, new_sents = _units(old_paras[lo:len(old_paras) - hi], new_paras[lo:len(new_paras) - hi])
    alignment = align([k for _, k in old_sents], [k for _, k in new_sents], figure_key)

    changed: list[ChangedSentence] = []
    for old_ids, new_ids in alignment.changed:
        old_s = " ".join(old_sents[i][0] for i in old_ids)
        new_s = " ".join(new_sents[j][0] for j in new_ids)
        old_f, new_f = find_figures(old_s), find_figures(new_s)
        words = word_diff(old_s, new_s, old_f, new_f)
        changed.append(ChangedSentence(old=old_s, new=new_s, words=words))
        pairs = pair_figures(old_s, new_s, old_f, new_f, words)
        figures += changed_values(pairs, old_s, new_s)
        qualifiers += changed_qualifiers(pairs, old_s, new_s)
    added = tuple(new_sents[j][0] for j in alignment.added)
    removed = tuple(old_sents[i][0] for i in alignment.removed)
    moved = tuple(sentence for j in alignment.moved for sentence in
                  (split_sentences(new_sents[j][0]) if new_sents[j][1].startswith(_KEPT_MARK)
                   else [new_sents[j][0]]))

    significance: Significance = "low"
    if figures or title:
        significance = "high"
    elif added or removed or qualifiers:
        significance = "medium"
    return Diff(kind="modified", significance=significance, title=title, figures=tuple(figures),
                added=added, removed=removed, changed=tuple(changed), moved=moved, qualifiers=tuple(qualifiers))


def _same_key_stream(old: list[str], new: list[str]) -> bool:
    """``" ".join(map(figure_key, old)) == " ".join(map(figure_key, new))``, computed lazily.

    The streams are compared as text, not paragraph by paragraph, because a cosmetic change may also move
    paragraph breaks. Paragraphs are keyed one at a time as the streams grow and the comparison stops at
    the first difference, so texts that differ early (a moved paragraph, an edit) cost one or two
    ``figure_key`` calls. Identical paragraphs met at the same point of both streams are skipped unkeyed,
    and of two long paragraphs only the window around their difference is keyed (``_edit_window``).
    """
    a = b = ""                             # the part of each stream not yet matched by the other
    i = j = 0
    while i < len(old) or j < len(new):
        if not a and not b and i < len(old) and j < len(new):
            if old[i] == new[j]:
                i, j = i + 1, j + 1
                continue
            window = _edit_window(old[i], new[j])
            if window is not None:
                # Keys of text cut at sentence starts concatenate, and the texts outside the window are
                # equal, so the paragraphs' keys are equal exactly when the windows' keys are.
                start, old_end, new_end = window
                key_old, key_new = figure_key(old[i][start:old_end]), figure_key(new[j][start:new_end])
                if key_old == key_new:
                    i, j = i + 1, j + 1
                    continue
                if not (key_old.startswith(key_new) or key_new.startswith(key_old)):
                    return False
        if (len(a) <= len(b) and i < len(old)) or j == len(new):
            a += (" " if i else "") + figure_key(old[i])
            i += 1
        else:
            b += (" " if j else "") + figure_key(new[j])
            j += 1
        n = min(len(a), len(b))
        if a[:n] != b[:n]:
            return False
        a, b = a[n:], b[n:]
    return a == b


def _edit_window(old: str, new: str) -> tuple[int, int, int] | None:
    """``(start, old_end, new_end)`` around where two long texts differ, or None for short texts.

    ``old[:start] == new[:start]`` and ``old[old_end:] == new[new_end:]``, and the cuts are sentence
    starts (:func:`monitor.sentences.sentence_start`) at least ``_MARGIN`` characters from the
    difference, so no sentence and no figure (nor the words a figure's reading depends on) straddles a
    cut: splitting or keying the three parts gives what splitting or keying the whole would.
    """
    if len(old) < _BIG or len(new) < _BIG:
        return None
    prefix = common_prefix_length(old, new)
    suffix = min(common_prefix_length(old[::-1], new[::-1]), len(old) - prefix, len(new) - prefix)
    start = sentence_start(old, prefix - _MARGIN, forward=False) if prefix > 2 * _MARGIN else None
    end = sentence_start(old, len(old) - suffix + _MARGIN, forward=True) if suffix > 2 * _MARGIN else None
    start = start or 0
    old_end = len(old) if end is None or end <= start else end
    if start == 0 and old_end == len(old):
        return None
    return start, old_end, old_end + len(new) - len(old)


def _units(old_paras: list[tuple[str, str]], new_paras: list[tuple[str, str]]
           ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The (text, key) sequences the sentence aligner works on.

    Paragraphs kept verbatim and in order (found by :func:`monitor.sequence.opcodes`) stand in as one
    unit each, with the same marker key on both sides: they anchor the alignment, keep every leftover
    sentence in its place relative to them (so a moved paragraph is still seen to move) and spare
    splitting and keying the text that did not change. Every other paragraph is split into sentences,
    except that of one long paragraph replaced by another only the edit window is, the text around it
    standing in as two more kept units.
    """
    old_units: list[tuple[str, str]] = []
    new_units: list[tuple[str, str]] = []
    markers = 0

    def kept(old_text: str, new_text: str) -> None:
        nonlocal markers
        if old_text.strip():
            old_units.append((old_text, f"{_KEPT_MARK}{markers}"))
            new_units.append((new_text, f"{_KEPT_MARK}{markers}"))
            markers += 1

    for tag, i1, i2, j1, j2 in opcodes([c for _, c in old_paras], [c for _, c in new_paras]):
        if tag == "equal":
            for k in range(i2 - i1):
                kept(old_paras[i1 + k][0], new_paras[j1 + k][0])
            continue
        window = _edit_window(old_paras[i1][0], new_paras[j1][0]) if i2 - i1 == j2 - j1 == 1 else None
        if window is None:
            old_units += _sentences(old_paras[i1:i2])
            new_units += _sentences(new_paras[j1:j2])
            continue
        (old_text, _), (new_text, _) = old_paras[i1], new_paras[j1]
        start, old_end, new_end = window
        kept(old_text[:start], new_text[:start])
        old_units += _sentences([(old_text[start:old_end], "")])
        new_units += _sentences([(new_text[start:new_end], "")])
        kept(old_text[old_end:], new_text[new_end:])
    return old_units, new_units


def _paragraphs(text: str) -> list[tuple[str, str]]:
    """(as written, comparable) for each paragraph with comparable content."""
    pairs = ((p, comparable_paragraph(p)) for p in display_paragraphs(text))
    return [(p, c) for p, c in pairs if c]


def _sentences(paragraphs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(as written, comparable) for each sentence of the given paragraphs."""
    pairs = ((s, comparable_paragraph(s)) for p, _ in paragraphs for s in split_sentences(p))
    return [(s, c) for s, c in pairs if c]
