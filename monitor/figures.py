"""Find the figures in a sentence: numbers with their value, scale, unit, qualifier and counted noun.

``find_figures(sentence)`` returns one :class:`Figure` per quantity, time, date or ordinal, left to right.
The parser is a handful of regular expressions tried in priority order (dates, clock times, numerals,
vague quantities, ordinal words, number words); a later pattern never takes characters an earlier one
already claimed, so "February 24, 2022" is one date and not a date plus the numbers 24 and 2022. Dates,
times and ordinal words live in :mod:`monitor.figure_calendar`.

How values are read (all heuristics are deliberate and tested in tests/cases/figure_pairs.yaml):

- ``1,500`` and ``1500`` are 1500; ``1,500.25`` is 1500.25. ``30.000`` (one dot, three digits, no scale, not
  a percentage) is read as the European 30000, because in news copy a three-decimal count is far rarer than
  a continental thousands separator; ``1.234.567`` and ``1.234,5`` are unambiguous European forms.
- Tokenised (pre-split) text, as in corpora built from news edits, writes "70,725" as ``70 , 725`` and
  "$5" as ``$ 5``: a comma with a space on both sides between a group of one to three digits and one of
  exactly three is a thousands separator (prose never spaces a comma so; "258, 753" stays a list of two
  numbers, as "On May 3, 150 people" must), and a space may follow a currency sign.
- Scale words and suffixes multiply: ``1.5 million`` is 1500000, ``$2.4bn`` is 2400000000. The suffix
  ``m`` is a million after a currency ("$5m") or before a plural noun ("100m people") and metres otherwise
  ("100m sprint").
- Currency symbols and codes become ISO codes in ``unit`` ("$" -> "USD", "£" -> "GBP"); ``%``, "per cent"
  and "percent" give unit "%"; "percentage points" gives "percentage points"; measure words right after the
  number give a unit ("four months" -> "months", "5km" -> "km").
- Number words: "four" is 4, "twenty-five" 25, "two hundred and fifty" 250, "a dozen" 12, "half a million"
  500000. Vague quantities get the value of their base: "dozens" 12, "hundreds" 100, "tens of thousands"
  10000 (kind "vague").
- A bare four-digit number is a ``year`` when it follows "in", "since", "by", ... (1000-2100), or when it
  is 1900-2100 and nothing marks it as a count: a qualifier or "to"/"at"/"reached" before it, or a plural
  noun after it ("2000 troops"). Numbers glued to letters that are not a unit ("5G", "3D") are no figures.
- Numerals longer than 30 characters are not figures (identifiers, not quantities).
- Times are HHMM on a 24-hour clock (``3 p.m.`` -> 1500, ``0600`` -> 600), dates are YYYYMMDD with unknown
  parts 0 (``February 24`` -> 224) and ordinals have their number ("11th" and "eleventh" are 11); they only
  exist so the diff can treat them as single tokens and compare their spellings, they are never reported
  as figure changes.

The qualifier ("at least", "more than", ...) is kept apart from ``text``: "at least 1,000" gives text
"1,000", qualifier "at least"; an article may stand between them ("at least an 8.5 GPA"), and "upto" is
read as "up to". ``context`` (the counted noun or the predicate) comes from :mod:`monitor.figure_context`.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from monitor.figure_calendar import DATE_RE, TIME_RE, date_value, ordinal_words, time_value
from monitor.figure_context import figure_context, preceding_words

FigureKind = Literal["number", "percent", "money", "vague", "time", "date", "year", "ordinal"]
QUANTITY_KINDS: frozenset[str] = frozenset({"number", "percent", "money", "vague"})


@dataclass(frozen=True)
class Figure:
    """One figure in a sentence. ``start``/``end`` delimit ``text`` (qualifier excluded) in the sentence."""

    text: str
    value: float | int
    unit: str | None
    qualifier: str | None
    context: str | None
    start: int
    end: int
    kind: FigureKind

    @property
    def key(self) -> str:
        """A canonical spelling: two figures share it exactly when they differ only in formatting."""
        value = _canonical(self.value)
        if self.kind in ("number", "year"):
            return value            # a bare "1000" read as a year still equals "1,000"
        if self.kind == "vague":
            return "~" + value      # "hundreds" is not "100"
        if self.kind == "percent":
            return value + ("pp" if self.unit == "percentage points" else "%")
        if self.kind == "money":
            return f"{self.unit}{value}"
        if self.kind == "ordinal":
            return value + "th"
        return self.kind[0] + value  # time, date: "t1500", "d20220224"


# --- vocabularies --------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """Word lists are written as one string for readability."""
    return text.split()


_SCALES: dict[str, int] = {
    "hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000,
    "trillion": 1_000_000_000_000, "k": 1_000, "m": 1_000_000, "mn": 1_000_000, "mln": 1_000_000,
    "bn": 1_000_000_000, "bln": 1_000_000_000, "tn": 1_000_000_000_000,
}
_CURRENCIES: dict[str, str] = {
    "$": "USD", "us$": "USD", "a$": "AUD", "c$": "CAD", "nz$": "NZD", "hk$": "HKD", "s$": "SGD",
    "£": "GBP", "€": "EUR", "¥": "JPY", "₹": "INR", "₽": "RUB",
    "usd": "USD", "eur": "EUR", "gbp": "GBP", "jpy": "JPY", "chf": "CHF", "cny": "CNY", "aud": "AUD",
    "cad": "CAD", "inr": "INR", "rub": "RUB", "dollars": "USD", "euros": "EUR",
}
_UNITS: dict[str, str] = {
    **{w: "seconds" for w in ("second", "seconds", "sec", "secs")},
    **{w: "minutes" for w in ("minute", "minutes", "min", "mins")},
    **{w: "hours" for w in ("hour", "hours", "hrs")},
    **{w: "days" for w in ("day", "days")},
    **{w: "weeks" for w in ("week", "weeks")},
    **{w: "months" for w in ("month", "months")},
    **{w: "years" for w in ("year", "years")},
    **{w: "decades" for w in ("decade", "decades")},
    **{w: "km" for w in ("km", "kilometre", "kilometres", "kilometer", "kilometers")},
    **{w: "miles" for w in ("mile", "miles")},
    **{w: "mph" for w in ("mph",)},
    **{w: "km/h" for w in ("kph", "kmh", "km/h")},
    **{w: "m" for w in ("metre", "metres", "meter", "meters")},
    **{w: "kg" for w in ("kg", "kilogram", "kilograms", "kilo", "kilos")},
    **{w: "tonnes" for w in ("tonne", "tonnes", "ton", "tons")},
    **{w: "pounds" for w in ("lb", "lbs", "pound", "pounds")},
    **{w: "km2" for w in ("sq km", "square kilometre", "square kilometres", "square kilometer",
                           "square kilometers")},
    **{w: "sq miles" for w in ("square mile", "square miles", "sq miles")},
}
_WORD_VALUES: dict[str, int] = {
    w: i for i, w in enumerate(_words(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen"))
} | {w: 10 * i for i, w in enumerate(_words("twenty thirty forty fifty sixty seventy eighty ninety"), 2)}
_VAGUE: dict[str, int] = {"tens": 10, "dozens": 12, "scores": 20, "hundreds": 100, "thousands": 1_000,
                          "millions": 1_000_000, "billions": 1_000_000_000, "dozen": 12, "hundred": 100,
                          "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_QUALIFIERS = (
    "no fewer than", "no more than", "no less than", "as many as", "as few as", "as much as", "upwards of",
    "in excess of", "an estimated", "at least", "at most", "more than", "less than", "fewer than", "up to",
    "upto", "close to", "just over", "just under", "well over", "nearly", "almost", "about", "around", "roughly",
    "approximately", "some", "over", "under", "estimated", "only", "just", "exactly", "another",
    "a further",
)
# Before a four-digit number these words make it a year ("in 2022"), never a count.
_YEAR_WORDS = frozenset(_words("in since of by until till from during before after early late mid year "
                               "summer winter spring autumn fall"))
# ... and these make it a count ("rose to 2000", "estimated at 1500").
_COUNT_WORDS = frozenset(_words("to at reached estimated totalled totaled numbered than"))

# --- patterns ------------------------------------------------------------------------------------------

_WS = r"[^\S\n]"  # white space that never crosses a line (sentences and paragraphs stay apart)
_NUMERAL_RE = re.compile(
    # a cheap first-character filter, because the pattern is tried at every position of the sentence
    r"(?=[\d$£€¥₹₽.]|(?-i:[ACEGHIJNRSU][A-Z$]))"
    # "$ 5" with a space is how pre-split (tokenised) text writes "$5"
    r"(?P<cur>(?-i:(?:(?:US|A|C|NZ|HK|S)\$|[$£€¥₹₽])" + _WS + r"?|\b(?:USD|EUR|GBP|JPY|CHF|CNY|AUD|CAD|INR|RUB)"
    + _WS + "?))?"
    r"(?<![\w.,])(?<![A-Za-z]-)"  # not part of a word, a longer number or a code such as "Su-57"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?:\.\d{3})+,\d+|\d{1,3}(?:\.\d{3}){2,}"
    # "70 , 725": a tokeniser's "70,725" (a space on both sides of the comma, which prose never has)
    + rf"|\d{{1,3}}(?:{_WS},{_WS}\d{{3}})+(?!\d|{_WS},{_WS}\d)"
    + r"|\d+(?:\.\d+)?|\.\d+)"
    r"(?!\d|,\d{3}\b)"
    r"(?:(?P<ord>st|nd|rd|th)\b)?"
    rf"(?:{_WS}?(?P<scale>trillion|billion|million|thousand|hundred)\b|(?P<sfx>tn|bn|bln|mn|mln|m|k)\b)?"
    rf"(?:{_WS}?(?P<pct>%|per{_WS}?cent\b|percent\b|percentage{_WS}points?\b)"
    rf"|{_WS}?(?P<cur2>(?-i:USD|EUR|GBP|JPY|CHF)|dollars|euros)\b)?",
    re.IGNORECASE,
)
_NUMWORD = "|".join(sorted(_WORD_VALUES, key=len, reverse=True))
_SCALEWORD = "hundred|thousand|million|billion|trillion|dozen"
_WORDS_RE = re.compile(
    r"(?=[zotfsenah])"            # first letters of the number words and of "a", "half": a cheap filter
    rf"\b(?:(?:half{_WS}+)?an?{_WS}+(?:{_SCALEWORD})|(?:{_NUMWORD})(?:-(?:{_NUMWORD}))?)"
    rf"(?:(?:{_WS}+|-)(?:and{_WS}+)?(?:(?:{_NUMWORD})(?:-(?:{_NUMWORD}))?|{_SCALEWORD}))*\b",
    re.IGNORECASE,
)
_VAGUE_RE = re.compile(
    r"(?=[dhtmbsac])"
    rf"\b(?:(?P<v1>dozens|hundreds|thousands|millions|billions)(?:{_WS}+of{_WS}+(?P<v2>thousands|millions))?"
    rf"|(?P<v3>tens|scores){_WS}+of{_WS}+(?P<v4>thousands|millions)?"
    rf"|(?:several|a{_WS}+few|a{_WS}+couple{_WS}+of|many){_WS}+(?P<v5>dozen|hundred|thousand|million|billion))\b",
    re.IGNORECASE,
)
_QUALIFIER_RE = re.compile(
    # "at least an 8.5 GPA": an article may stand between the qualifier and the figure
    r"(?:^|(?<=[^\w]))(?P<q>" + "|".join(q.replace(" ", _WS + "+") for q in _QUALIFIERS)
    + rf"){_WS}+(?:an?{_WS}+)?$",
    re.IGNORECASE,
)
_UNIT_RE = re.compile(
    rf"^(?:{_WS}?-?{_WS}?)(?P<u>" + "|".join(sorted((re.escape(u).replace(r"\ ", _WS + "+") for u in _UNITS),
                                                    key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_AMBIGUOUS_THOUSANDS = re.compile(r"[1-9]\d{0,2}\.\d{3}")
_SEPARATORS = re.compile(r"[,\s]")
_GLUED_LETTERS = re.compile(r"[A-Za-z]+")
_PCT_AFTER_RE = re.compile(rf"{_WS}?(?:%|per{_WS}?cent\b|percent\b)", re.IGNORECASE)
# Patterns below are applied with pattern.match(sentence, pos), never to a slice: slicing the rest of a
# long sentence for every figure in it would make find_figures quadratic.
_PLURAL_COUNT_NOUN = re.compile(r"[^\S\n]+(?:[a-z]+s|people|children|men|women|police|personnel|staff)\b")
_ANOTHER = re.compile(r"[^\S\n]+another\b")


def find_figures(sentence: str, *, with_context: bool = True) -> list[Figure]:
    """All figures in ``sentence``, left to right. Never raises on any input.

    ``with_context=False`` skips the context heuristics (``context`` is None), a third of the cost, for
    callers that only need values and spans (cosmetic keys, word tokens).
    """
    found: list[tuple[int, int, FigureKind, float | int, str | None]] = []
    starts: list[int] = []             # claimed spans, kept sorted and disjoint: (starts[k], ends[k])
    ends: list[int] = []

    def claim(start: int, end: int) -> bool:
        k = bisect.bisect_right(starts, start)
        if start >= end or (k and ends[k - 1] > start) or (k < len(starts) and starts[k] < end):
            return False
        starts.insert(k, start)
        ends.insert(k, end)
        return True

    has_digit = _DIGIT.search(sentence) is not None
    for m in DATE_RE.finditer(sentence) if has_digit else ():
        date = date_value(m)
        if date is not None and claim(m.start(), m.end()):
            found.append((m.start(), m.end(), "date", date, None))
    for m in TIME_RE.finditer(sentence) if has_digit else ():
        if claim(m.start(), m.end()):
            found.append((m.start(), m.end(), "time", time_value(m), None))
    for m in _NUMERAL_RE.finditer(sentence) if has_digit else ():
        parsed = _numeral(sentence, m)
        if parsed is not None and claim(m.start(), m.end()):
            found.append((m.start(), m.end(), *parsed))
    for m in _VAGUE_RE.finditer(sentence):
        if claim(m.start(), m.end()):
            found.append((m.start(), m.end(), "vague", _vague_value(m), None))
    for start, end, ordinal_value in ordinal_words(sentence):
        if claim(start, end):
            found.append((start, end, "ordinal", ordinal_value, None))
    for m in _WORDS_RE.finditer(sentence):
        parsed_words = _number_words(sentence, m)
        if parsed_words is None:
            continue
        end, value = parsed_words
        pct = _PCT_AFTER_RE.match(sentence, end)
        end = pct.end() if pct else end
        if claim(m.start(), end):
            found.append((m.start(), end, "percent" if pct else "number", value, "%" if pct else None))

    figures: list[Figure] = []
    for start, end, kind, value, unit in sorted(found, key=lambda f: f[0]):
        qualifier = None
        if kind in QUANTITY_KINDS:
            q = _QUALIFIER_RE.search(sentence, max(0, start - 30), start)
            qualifier = " ".join(q.group("q").lower().split()) if q else None
            qualifier = "up to" if qualifier == "upto" else qualifier
            if unit is None and kind != "money":
                u = _UNIT_RE.match(sentence[end:end + 40])
                unit = _UNITS[" ".join(u.group("u").lower().split())] if u else None
        context = None
        if with_context and kind in QUANTITY_KINDS:
            context = figure_context(sentence, start, end, kind)
        figures.append(Figure(sentence[start:end], value, unit, qualifier, context, start, end, kind))
    return figures


def format_value(value: float | int, unit: str | None = None) -> str:
    """A readable spelling of a value: ``format_value(2400000000, "USD")`` -> "USD 2,400,000,000".

    ``find_figures`` reads the spelling back as the same value and unit: floats are written with the
    shortest digits that round-trip (never in exponent form), and a number ``find_figures`` would take
    for a European thousands separator ("1.001" is 1001) gets a trailing zero ("1.0010").
    """
    text = f"{value:,}" if isinstance(value, int) else format(Decimal(repr(value)), ",f")
    if unit not in ("%", "pp") and _AMBIGUOUS_THOUSANDS.fullmatch(text):
        text += "0"
    if unit in ("%", "pp"):
        return text + "%"
    if unit is None:
        return text
    return f"{unit} {text}" if unit.isupper() and len(unit) == 3 else f"{text} {unit}"


# --- helpers -------------------------------------------------------------------------------------------

def _numeric(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _canonical(value: float | int) -> str:
    return format(Decimal(str(value)).normalize(), "f")


def _numeral(sentence: str, m: re.Match[str]) -> tuple[FigureKind, float | int, str | None] | None:
    raw, cur, scale_word = m.group("num"), m.group("cur"), m.group("scale")
    if len(raw) > 30:
        return None                   # an identifier, and int <-> str of thousands of digits would raise
    suffix = (m.group("sfx") or "").lower()
    pct, cur2, ordinal = m.group("pct"), m.group("cur2"), m.group("ord")
    currency = _CURRENCIES.get((cur or "").strip().lower()) or _CURRENCIES.get((cur2 or "").lower())
    metres = suffix == "m" and not currency and not _PLURAL_COUNT_NOUN.match(sentence, m.end())
    if metres:                                    # "100m sprint" is metres; "100m people", "$100m" millions
        suffix = ""
    glued = _GLUED_LETTERS.match(sentence, m.end())
    if glued and not (suffix or ordinal or pct or cur2 or scale_word):
        letters = glued.group().lower()
        if letters == "s" and len(raw) == 4 and raw.isdigit():
            return "year", int(raw), None                         # the 1990s
        if letters not in _UNITS:
            return None                                           # 5G, 3D, 4x4, "their 20s": no figure
    scale = _SCALES[scale_word.lower()] if scale_word else _SCALES.get(suffix, 1)
    number = _parse_digits(raw, decimal_dot=scale != 1 or bool(pct))
    if number is None:
        return None
    if ordinal and not (currency or pct or scale != 1):
        return "ordinal", _numeric(number), None
    value = _numeric(number * scale)
    if pct:
        return "percent", value, "percentage points" if pct.lower().startswith("percentage") else "%"
    if currency:
        return "money", value, currency
    if scale == 1 and re.fullmatch(r"\d{4}", raw) and 1000 <= value <= 2100 and _is_year(sentence, m):
        return "year", value, None
    return "number", value, "m" if metres else None


def _parse_digits(raw: str, *, decimal_dot: bool) -> Decimal | None:
    text = raw
    if "," in text and "." in text and text.rfind(",") > text.rfind("."):
        text = text.replace(".", "").replace(",", ".")          # European 1.234,5
    elif text.count(".") > 1:
        text = text.replace(".", "")                              # European 1.234.567
    elif not decimal_dot and _AMBIGUOUS_THOUSANDS.fullmatch(text):
        text = text.replace(".", "")                              # ambiguous 30.000: a count
    try:
        return Decimal(_SEPARATORS.sub("", text))               # "1,500" and the pre-split "70 , 725"
    except InvalidOperation:
        return None


def _is_year(sentence: str, m: re.Match[str]) -> bool:
    """A bare four-digit number is a year unless it is clearly a count of something.

    1900-2100 is a year by default; 1000-1899 only after a word such as "in" or "since" ("in 1066").
    A qualifier before it, a count word ("rose to 2000") or a plural noun after it (not preceded by "in",
    "since", ...) makes it a count.
    """
    before = preceding_words(sentence, m.start(), 1)
    previous = before[-1].lower() if before else ""
    if previous in _YEAR_WORDS:
        return True
    if _QUALIFIER_RE.search(sentence, max(0, m.start() - 30), m.start()) or previous in _COUNT_WORDS:
        return False
    value = int(m.group("num"))
    return 1900 <= value <= 2100 and _PLURAL_COUNT_NOUN.match(sentence, m.end()) is None


def _vague_value(m: re.Match[str]) -> int:
    g = {k: (v or "").lower() for k, v in m.groupdict().items()}
    if g["v1"]:
        return _VAGUE[g["v1"]] * (_VAGUE[g["v2"]] if g["v2"] else 1)
    if g["v3"]:
        return _VAGUE[g["v3"]] * (_VAGUE[g["v4"]] if g["v4"] else 1)
    return _VAGUE[g["v5"]]


def _number_words(sentence: str, m: re.Match[str]) -> tuple[int, float | int] | None:
    """Parse the number words of a match; return (end offset of the words used, value) or None.

    The regex over-matches runs such as "one two"; this small grammar stops at the first word that cannot
    continue the number (a units word after a units word, a tens word after a tens word, ...).
    """
    total, current, end, seen = Decimal(0), Decimal(0), m.start(), False
    halve = False
    for tok in re.finditer(r"[A-Za-z]+", m.group()):
        word, tok_end = tok.group().lower(), m.start() + tok.end()
        if word in ("a", "an", "and"):
            continue
        if word == "half":                                        # only ever first: "half a million"
            halve = True
        elif word in _WORD_VALUES:
            v = _WORD_VALUES[word]
            below_hundred = current % 100
            if below_hundred and not (v < 10 and below_hundred >= 20 and below_hundred % 10 == 0):
                break
            current += v
        elif word in ("dozen", "hundred"):
            current = (current or Decimal(1)) * (12 if word == "dozen" else 100)
        elif word in _SCALES:
            total += (current or Decimal(1)) * _SCALES[word]
            current = Decimal(0)
        seen, end = seen or word != "half", tok_end
    if not seen:
        return None
    words = sentence[m.start():end].lower()
    before = preceding_words(sentence, m.start(), 1)
    if words == "one" and (
        (before and before[-1].lower() in ("no", "the", "this", "that", "any", "every", "which"))
        or _ANOTHER.match(sentence, end)
    ):
        return None                                               # "no one", "one another": not a count
    value = (total + current) / (2 if halve else 1)
    return end, _numeric(value)
