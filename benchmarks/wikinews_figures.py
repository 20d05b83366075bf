"""Figure changes on real, human-labelled news edits (Wikinews revisions via IteraTeR).

    python benchmarks/wikinews_figures.py            # --data PATH/sentences.jsonl, --quiet

Reads ``../shared/data/wikinews-revisions/sentences.jsonl`` (relative to the project root; the data is
never copied into the repository). Each row is one edit of one sentence: ``before_sent``, ``after_sent``
and a human label (fluency, clarity, coherence, style, meaning-changed, others). The text is pre-split as
in the source: spaces before punctuation ("Serbia today , the ...", "$ 30.000 USD"). It is passed to
``diff_texts(before, after)`` exactly as it is.

What is measured
----------------
(a) **False alarms.** Among pairs labelled fluency or style whose numbers keep their value (equal value
    multisets, below), the share for which the diff reports any figure change. Target 0. Every false
    alarm is listed. Fluency/style pairs whose values do differ (a mislabel, or a number dropped) are
    listed apart, for inspection.
(b) **Misses.** Among pairs labelled meaning-changed that *replace* a number, the share for which the diff
    reports a figure change. Target >= 95%. Every miss is listed. "Replace" means: the multiset of values
    loses at least one value AND gains at least one (before - after and after - before both non-empty).
    A number only added ("a nine-year old girl") or only removed is not a replaced figure: newsmon reports
    it as changed wording by design, never as a figure change (the count of such pairs, and of those for
    which a figure change is nevertheless reported, is printed too). A reported change whose values are
    not among the lost/gained values is flagged "(other values)". A miss read by hand and found not to
    be a figure change (the old and the new number count different things) is listed with its reason
    from ``_EXPLAINED``, and the share is printed both with and without those.
(c) **Other labels** (clarity, coherence, others): every figure change reported, for inspection.
(d) **Qualifier changes** ("at least" -> "more than" on the same value) found by
    :func:`monitor.qualifiers.qualifier_changes`, for inspection.

The independent number reader
-----------------------------
So that the benchmark does not grade the parser with itself, the value multisets come from this small
reader, which shares no code with monitor/figures.py:

1. LaTeX escapes of the source ("150\\%") are undone.
2. Calendar and clock expressions are blanked first, because the contract says a changed time or date is
   never a figure change: month-name dates ("May 22nd 2006", "16 May 2005", "(May 17)", "July , 20",
   "March 2001"), ISO and slashed dates, clock times ("15:13", "02:00", "0200 local time", "1430 GMT",
   "3 p.m.", and any four-digit number with a leading zero, "0900": a count is never written so), bare
   years (1900-2099 not followed by a scale word or a separator; so "2000 troops" is missed as a count,
   on both sides alike), decades ("the 1990s") and digit ordinals ("11th", "2nd").
3. Numerals: digits with "," thousands separators (a comma followed by exactly three digits), decimals
   with ".", "30.000" (one dot, exactly three digits, nothing after) read as thirty thousand, and the
   pre-split thousands "70 , 725" (a space on both sides of the comma, as only a tokeniser writes it).
   "258, 753" (no space before the comma) stays two numbers, as in a list. A numeral glued to letters
   ("A607", "300px", "I-35W", "3G") is an identifier, not a number, unless the letters are a unit
   ("2000km", "9mm"); one followed by a hyphen ("23-year-old") is a number.
4. Scale words and suffixes multiply: "1.5 million" and "1,500,000" are both 1500000, "$2.4bn"
   2400000000. A bare "m" multiplies only after a currency sign ("$5m"; "4.6m" stays 4.6).
5. Number words: zero to nineteen, the tens, hyphenated compounds ("twenty-five"), "hundred",
   "thousand", "million", "billion" as multipliers, "a dozen" = 12, and the vague plurals dozens = 12,
   hundreds = 100, thousands = 1000, millions, billions (the contract's values). A units word right
   after a units word starts a new number ("one One" is 1 and 1). "one" counts as 1 wherever it stands
   ("no one" included): both sides of a pair are read alike, so it cancels out unless it is edited.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.diff import diff_texts  # noqa: E402
from monitor.qualifiers import qualifier_changes  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "wikinews-revisions" / "sentences.jsonl"

# --- the independent number reader --------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """Word lists are written as one string for readability."""
    return text.split()


_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
          r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?")
_CALENDAR = re.compile(
    "|".join([
        _MONTH + r"\s*,?\s*\(?\s*\d{1,2}(?:st|nd|rd|th)?\)?(?:\s*,?\s*\d{4})?\b",  # May 22nd 2006, July , 20
        r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"(?:\s*,?\s*\d{4})?",  # 16 May 2005
        _MONTH + r"\s*,?\s*\d{4}\b",                                                # March 2001
        r"\b\d{4}-\d{2}-\d{2}\b",                                                   # 2008-05-17
        r"\b\d{1,2}/\d{1,2}/\d{2,4}\b",                                             # 5/17/2008
        r"\b\d{1,2}[:.]\d{2}\s*(?:[ap]\.?m\b\.?|GMT|UTC|BST|CET|hrs)",              # 3.30 pm, 01:00 UTC
        r"\b\d{1,2}:\d{2}\b",                                                        # 15:13
        r"\b\d{3,4}\s*(?:local time|GMT|UTC|hrs|hours local)",                      # 1430 GMT, 0200 local time
        r"\b0\d[0-5]\d\b",                                                           # 0900: a count has no 0
        r"\b\d{1,2}\s*[ap]\.?m\b\.?",                                                # 3 p.m., 3pm
        r"(?<![\d,.$£€])\b(?:19|20)\d\d\b(?!\s*(?:thousand|million|billion|[,.]\d))",  # a bare year
        r"\b\d+(?:st|nd|rd|th)\b",                                                   # ordinals
        r"\b(?:1[5-9]|20)\d0s\b",                                                    # the 1990s
    ]),
    re.IGNORECASE,
)
_SCALE = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000, "trillion": 10**12,
          "k": 1_000, "mn": 1_000_000, "bn": 1_000_000_000, "m": 1_000_000}
# Letters glued to digits that still leave a quantity ("2000km", "9mm"); any other letters make the
# numeral an identifier ("A607", "300px", "3G").
_GLUED_UNITS = frozenset(_words("km m cm mm kg g mph kph ft lb lbs mi hrs h s"))
_NUMERAL = re.compile(
    r"(?P<cur>[$£€]\s*)?(?<![\w.,])(?<![A-Za-z]-)"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d|,\d)"       # 1,500 and 99,999,999 (also before a comma)
    r"|\d{1,3}(?:\s,\s\d{3})+(?!\d)"                        # 70 , 725: pre-split thousands (space both sides)
    r"|\d{1,3}\.\d{3}(?![\d.,])"                           # 30.000: a continental thousands separator
    r"|\d+(?:\.\d+)?)"
    r"(?P<scale>\s*(?:thousand|million|billion|trillion)\b|(?:k|mn|bn|m)\b)?"
    r"(?P<glued>[A-Za-z]\w*)?",
    re.IGNORECASE,
)
_UNITS = {w: i for i, w in enumerate(_words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"))}
_TENS = {w: 10 * i for i, w in enumerate(_words("twenty thirty forty fifty sixty seventy eighty ninety"), 2)}
_VAGUE = {"dozens": 12, "hundreds": 100, "thousands": 1_000, "millions": 1_000_000, "billions": 10**9}
_WORD = "|".join([*_UNITS, *_TENS, *_VAGUE, "hundred", "thousand", "million", "billion", "dozen"])
_WORDS = re.compile(rf"\b(?:a\s+)?(?:{_WORD})(?:(?:\s+|-)(?:and\s+)?(?:{_WORD}))*\b", re.IGNORECASE)


def _word_values(words: str) -> list[Decimal]:
    """Values of a run of number words: "twenty-five" is 25, "two hundred and fifty" 250, "one One" is
    two numbers (a units word after a units word starts a new number), "hundreds" is 100."""
    values: list[Decimal] = []
    total = current = Decimal(0)
    seen = False

    def flush() -> None:
        nonlocal total, current, seen
        if seen:
            values.append(total + current)
        total = current = Decimal(0)
        seen = False

    for word in re.findall(r"[a-z]+", words.lower()):
        if word in ("a", "and"):
            continue
        if word in _VAGUE:
            flush()
            values.append(Decimal(_VAGUE[word]))
            continue
        below_hundred = current % 100
        if (word in _UNITS and below_hundred and not (below_hundred >= 20 and below_hundred % 10 == 0)) \
                or (word in _TENS and below_hundred):
            flush()                                           # "one one", "twenty thirty": two numbers
        seen = True
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "dozen":
            current = (current or Decimal(1)) * 12
        elif word == "hundred":
            current = (current or Decimal(1)) * 100
        else:
            total += (current or Decimal(1)) * _SCALE[word]
            current = Decimal(0)
    flush()
    return values


def number_values(text: str) -> Counter[str]:
    """The multiset of quantity values in ``text`` (canonical decimal strings), as documented above."""
    text = text.replace("\\%", "%").replace("\\$", "$")
    text = _CALENDAR.sub(" ", text)
    values: Counter[str] = Counter()
    for m in _NUMERAL.finditer(text):
        glued = (m.group("glued") or "").lower()
        scale = (m.group("scale") or "").strip().lower()
        if glued and glued not in _GLUED_UNITS and not scale:
            continue                                          # A607, 300px, 3G: identifiers
        if scale == "m" and not m.group("cur"):
            scale = ""                                        # "4.6m" is metres; "$5m" is millions
        raw = re.sub(r"\s", "", m.group("num"))
        if re.fullmatch(r"\d{1,3}\.\d{3}", raw):
            raw = raw.replace(".", "")                        # 30.000: a continental thousands separator
        value = Decimal(raw.replace(",", "")) * _SCALE.get(scale, 1)
        values[format(value.normalize(), "f")] += 1
    text = _NUMERAL.sub(" ", text)
    for m in _WORDS.finditer(text):
        for word_value in _word_values(m.group()):
            values[format(word_value.normalize(), "f")] += 1
    return values


# --- the benchmark ------------------------------------------------------------------------------------

def _changes(before: str, after: str) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """The kind, the figure changes and the qualifier changes ``diff_texts`` reports for one pair."""
    diff = diff_texts(before, after)
    qualifiers = getattr(diff, "qualifiers", None)            # the Diff field, once models.py has it
    if qualifiers is None:
        qualifiers = [q for c in diff.changed for q in qualifier_changes(c.old, c.new)]
    return diff.kind, [f.to_dict() for f in diff.figures], [q.to_dict() for q in qualifiers]


def _short(text: str, width: int = 150) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _show_figures(figures: Iterable[dict[str, Any]]) -> str:
    return "; ".join(f"{f['old']!r} -> {f['new']!r} ({f['old_value']} -> {f['new_value']}, "
                     f"context {f['context']!r})" for f in figures)


def _window(before: str, after: str, width: int = 170) -> tuple[str, str]:
    """The differing middle of two long sentences (with some context), so the listing shows the edit."""
    before, after = " ".join(before.split()), " ".join(after.split())
    head = 0
    while head < min(len(before), len(after)) and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < min(len(before), len(after)) - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    start = max(0, head - 60)

    def cut(s: str) -> str:
        end = min(len(s), max(len(s) - tail, head) + 40)
        return ("..." if start else "") + _short(s[start:end], width) + ("..." if end < len(s) else "")

    return cut(before), cut(after)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="path of sentences.jsonl")
    parser.add_argument("--quiet", action="store_true", help="totals only, no listings")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"{len(rows)} sentence pairs from {args.data}")
    print("labels:", dict(Counter(r["labels"] for r in rows).most_common()))

    style_same: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    style_diff: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    replaced: list[tuple[dict[str, Any], list[dict[str, Any]], Counter[str], Counter[str]]] = []
    meaning_one_sided: list[list[dict[str, Any]]] = []
    others: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    qualifiers: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    style_kinds: Counter[str] = Counter()
    for row in rows:
        before, after, label = row["before_sent"], row["after_sent"], row["labels"]
        old_values, new_values = number_values(before), number_values(after)
        lost, gained = old_values - new_values, new_values - old_values
        kind, figures, quals = _changes(before, after)
        if quals:
            qualifiers.append((row, quals))
        if label in ("fluency", "style"):
            style_kinds[kind] += 1
            (style_same if not lost and not gained else style_diff).append((row, figures))
        elif label == "meaning-changed":
            if lost and gained:
                replaced.append((row, figures, lost, gained))
            elif lost or gained:
                meaning_one_sided.append(figures)
        elif figures:
            others.append((row, figures))

    false_alarms = [(r, f) for r, f in style_same if f]
    misses = [(r, f, lost, gained) for r, f, lost, gained in replaced if not f]
    found = len(replaced) - len(misses)
    explained = [m for m in misses if _explanation(m[0])]
    genuine = len(replaced) - len(explained)
    n_style = len(style_same) + len(style_diff)
    print()
    print(f"(a) fluency/style pairs: {n_style}; numbers keep their value in {len(style_same)}")
    print(f"    figure change reported (false alarms): {len(false_alarms)} / {len(style_same)} = "
          f"{len(false_alarms) / max(1, len(style_same)):.2%}")
    print(f"    fluency/style pairs whose values differ: {len(style_diff)}, figure change reported in "
          f"{sum(1 for _, f in style_diff if f)}")
    print(f"    kinds of the fluency/style diffs: {dict(style_kinds.most_common())}")
    one_sided_reported = sum(1 for f in meaning_one_sided if f)
    print(f"(b) meaning-changed pairs that replace a number: {len(replaced)} "
          f"(another {len(meaning_one_sided)} only add or only drop a number: figure change reported in "
          f"{one_sided_reported}, by design 0)")
    print(f"    figure change reported: {found} / {len(replaced)} = {found / max(1, len(replaced)):.2%}; "
          f"misses: {len(misses)}")
    print(f"    misses explained as no figure change (listed with the reason): {len(explained)}; "
          f"reported among the rest: {found} / {genuine} = {found / max(1, genuine):.2%}")
    print(f"(c) other labels: figure changes reported in {len(others)} pairs "
          f"({sum(len(f) for _, f in others)} changes)")
    print(f"(d) qualifier changes reported in {len(qualifiers)} pairs")
    if args.quiet:
        return 0

    print("\n== (a) false alarms: fluency/style, values kept, figure change reported ==")
    for row, figures in false_alarms:
        b, a = _window(row["before_sent"], row["after_sent"])
        print(f"- [{row['labels']}] {_show_figures(figures)}\n    before: {b}\n    after:  {a}")
    print("\n== (a') fluency/style pairs whose values differ (for inspection) ==")
    for row, figures in style_diff:
        lost = number_values(row["before_sent"]) - number_values(row["after_sent"])
        gained = number_values(row["after_sent"]) - number_values(row["before_sent"])
        b, a = _window(row["before_sent"], row["after_sent"])
        print(f"- [{row['labels']}] values {sorted(lost.elements())} -> {sorted(gained.elements())}; "
              f"reported: {_show_figures(figures) or 'nothing'}\n    before: {b}\n    after:  {a}")
    print("\n== (b) meaning-changed number replacements ==")
    for row, figures, lost, gained in replaced:
        b, a = _window(row["before_sent"], row["after_sent"])
        status = "MISS" if not figures else "found"
        reason = _explanation(row) if not figures else None
        status += f" (explained: {reason})" if reason else ""
        if figures and not any(_canon(f["old_value"]) in lost and _canon(f["new_value"]) in gained
                               for f in figures):
            status = "found (other values)"
        print(f"- {status}: values {sorted(lost.elements())} -> {sorted(gained.elements())}; "
              f"reported: {_show_figures(figures) or 'nothing'}\n    before: {b}\n    after:  {a}")
    print("\n== (c) other labels: figure changes reported ==")
    for row, figures in others:
        b, a = _window(row["before_sent"], row["after_sent"])
        print(f"- [{row['labels']}] {_show_figures(figures)}\n    before: {b}\n    after:  {a}")
    print("\n== (d) qualifier changes ==")
    for row, quals in qualifiers:
        b, a = _window(row["before_sent"], row["after_sent"])
        print(f"- [{row['labels']}] " + "; ".join(f"{q['figure']!r}: {q['old']!r} -> {q['new']!r}" for q in quals)
              + f"\n    before: {b}\n    after:  {a}")
    return 0


# Misses read one by one and found not to be figure changes: the old number and the new one count
# different things. Keyed by (doc_id, start of before_sent, start of after_sent) so that a change of the
# data shows up as an unexplained miss.
_EXPLAINED: dict[tuple[str, str, str], str] = {
    ("100534", "70 , 725 Large photos can be zoomed ", "70 , 000 photos, maps, pronunciation"):
        "sentence rewritten: 70,725 zoomable photos became 70,000 photos, maps, pronunciations and "
        "definitions in 13 languages, another count; similarity 0.42 < 0.5, so removed + added",
    ("115079", "More than 1200 people have been evac", "More than 1200 people . Furthermore,"):
        "'one' (fatality) deleted and a new clause 'at least 30 mobile homes were destroyed' inserted: "
        "two different quantities",
    ("71313", "\"The authorities made necessary prep", "\"The authorities made necessary prep"):
        "'These 11 people had been holding prayers' replaced by 'Three of the patients were given ARV "
        "treatment': a different statement about a subset, not a new value of the 11",
}


def _explanation(row: dict[str, Any]) -> str | None:
    key = (row["doc_id"], row["before_sent"].strip()[:36], row["after_sent"].strip()[:36])
    return _EXPLAINED.get(key)


def _canon(value: float | int) -> str:
    return format(Decimal(str(value)).normalize(), "f")


if __name__ == "__main__":
    sys.exit(main())
