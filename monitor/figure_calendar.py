"""Figures that are never quantities: dates, clock times and ordinal words.

They are figures so that their spellings compare equal ("February 24, 2022" and "24 February 2022",
"10 a.m." and "10am", "0900" and "09:00", "11th" and "eleventh") and so that the word diff keeps each as
one token; the diff never reports them as figure changes. :func:`monitor.figures.find_figures` claims
dates first, then times, so their digits are never read as counts.

- Dates are YYYYMMDD with unknown parts 0 (``February 24`` -> 224).
- Times are HHMM on a 24-hour clock (``3 p.m.`` -> 1500). Four digits are a time only with a leading
  zero ("0600": a count never has one) or before a zone ("1430 GMT", "0200 local time"); the zone stays
  outside the figure's text, so "14:30 GMT" -> "14:30 EST" is a change of wording, not formatting.
- Ordinal words ("first" to "ninetieth", "twenty-first") have the value of their digit spelling.
"""

from __future__ import annotations

import re


def _words(text: str) -> list[str]:
    """Word lists are written as one string for readability."""
    return text.split()


_WS = r"[^\S\n]"  # white space that never crosses a line (sentences and paragraphs stay apart)
_MONTHS: dict[str, int] = {
    m: i for i, m in enumerate(_words("jan feb mar apr may jun jul aug sep oct nov dec"), 1)} | {"sept": 9}
_MONTH = (r"(?P<{g}>January|February|March|April|May|June|July|August|September|October|November|December"
          r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\b\.?")
_DAY = r"(?P<{g}>[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?(?!\d)"
_YEAR = r"(?P<{g}>1[5-9]\d\d|20\d\d|21\d\d)(?!\d)"
DATE_RE = re.compile(
    r"(?=[JFMASOND\d])(?<![\w])(?:"
    + _MONTH.format(g="m1") + _WS + "+" + _DAY.format(g="d1") + f"(?:,?{_WS}+" + _YEAR.format(g="y1") + ")?"
    + "|" + _DAY.format(g="d2") + f"{_WS}+(?:of{_WS}+)?" + _MONTH.format(g="m2")
    + f"(?:,?{_WS}+" + _YEAR.format(g="y2") + ")?"
    + "|" + _MONTH.format(g="m3") + f",?{_WS}+" + _YEAR.format(g="y3")
    + r"|(?P<iy>\d{4})-(?P<im>[01]\d)-(?P<id>[0-3]\d)(?!\d)"
    + r"|(?P<sa>\d{1,2})/(?P<sb>\d{1,2})/(?P<sy>\d{4}|\d{2})(?!\d)"
    + ")"
)
_AMPM = r"(?P<ap{g}>[aApP])\.?[mM]\b\.?"
TIME_RE = re.compile(
    r"(?=\d)(?<![\w.,:])(?:"
    rf"(?P<h1>1[0-2]|0?[1-9])(?:[:.](?P<m1>[0-5]\d))?{_WS}?" + _AMPM.format(g="1")
    + r"|(?P<h2>[01]?\d|2[0-3]):(?P<m2>[0-5]\d)(?!\d)"
    # four digits before a zone, the zone left outside the figure (see the module docstring)
    + rf"|(?P<h3>[01]\d|2[0-3])(?P<m3>[0-5]\d)(?={_WS}?(?:GMT|UTC|BST|CET|local{_WS}+time|hrs)\b)"
    # "0600", "( 0900 )": a leading zero never starts a count, so four such digits are a 24-hour time
    + r"|(?P<h4>0\d)(?P<m4>[0-5]\d)(?![\d.,:])"
    + ")"
)
# Ordinal words, so that "11th" -> "eleventh" is formatting (both are the ordinal 11), never a figure.
_ORDINAL_VALUES: dict[str, int] = {
    w: i for i, w in enumerate(_words(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
        "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth"), 1)
} | {w: 10 * i for i, w in enumerate(_words("twentieth thirtieth fortieth fiftieth sixtieth seventieth "
                                           "eightieth ninetieth"), 2)}
_TENS: dict[str, int] = {w: 10 * i for i, w in enumerate(_words(
    "twenty thirty forty fifty sixty seventy eighty ninety"), 2)}
# A number right before "second" makes it the unit ("one second", "a 30-second clip"). The number words
# repeat those of monitor.figures, which imports this module.
_AFTER_NUMBER = re.compile(
    r"(?:\d|\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen|seventeen|eighteen|nineteen|" + "|".join(_TENS) + r"))[^\S\n]*-?[^\S\n]*$",
    re.IGNORECASE,
)
_TENS_WORDS = "|".join(_TENS)
_TH_END_RE = re.compile(r"th\b")                      # these two run on the lower-cased sentence
_FIRST_SECOND_THIRD_RE = re.compile(r"(?:first|second|third)\b")
_TENS_BEFORE_HYPHEN = re.compile(rf"(?<![\w-])(?:{_TENS_WORDS})$")


def date_value(m: re.Match[str]) -> int | None:
    g = m.groupdict()
    if g["iy"]:
        year, month, day = int(g["iy"]), int(g["im"]), int(g["id"])
    elif g["sa"]:
        a, b, year = int(g["sa"]), int(g["sb"]), int(g["sy"])
        year += 2000 if year < 100 else 0
        day, month = (a, b) if a > 12 else (b, a)                 # day-first when it must be, else US order
    else:
        name = g["m1"] or g["m2"] or g["m3"]
        month = _MONTHS[name[:4].lower() if name[:4].lower() == "sept" else name[:3].lower()]
        day = int(g["d1"] or g["d2"] or 0)
        year = int(g["y1"] or g["y2"] or g["y3"] or 0)
    if not (1 <= month <= 12 and 0 <= day <= 31):
        return None
    return year * 10_000 + month * 100 + day


def time_value(m: re.Match[str]) -> int:
    g = m.groupdict()
    if g["h1"]:
        hour, minute = int(g["h1"]) % 12, int(g["m1"] or 0)
        hour += 12 if g["ap1"].lower() == "p" else 0
    else:
        hour, minute = int(g["h2"] or g["h3"] or g["h4"]), int(g["m2"] or g["m3"] or g["m4"])
    return hour * 100 + minute


def ordinal_words(sentence: str) -> list[tuple[int, int, int]]:
    """(start, end, value) of the ordinal words: "eleventh", "twenty-first", "second" (not in "one
    second", a unit).

    Found from their ending, which few words share: a case-sensitive search of the lower-cased text for
    "th" at a word's end (every ordinal word but three ends so) and a look-up of the word. Counted with
    callgrind on the seed article, a case-blind regex of all the words made find_figures 19% dearer;
    this costs 9%.
    """
    low = sentence.lower()
    if len(low) != len(sentence):                 # lower() changed the length: offsets would not match
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in sentence)
    ends = [m.end() for m in _TH_END_RE.finditer(low)] if "th" in low else []
    if "first" in low or "second" in low or "third" in low:
        ends += [m.end() for m in _FIRST_SECOND_THIRD_RE.finditer(low)]
    found = []
    for end in ends:
        start = end
        while start and low[start - 1].isalpha():
            start -= 1
        word = low[start:end]
        value = _ORDINAL_VALUES.get(word)
        if value is None or (start and low[start - 1].isalnum()):
            continue
        if start > 1 and low[start - 1] == "-":                    # "twenty-first"
            tens = _TENS_BEFORE_HYPHEN.search(low, max(0, start - 9), start - 1)
            if tens is None:
                continue                                          # "un-fifth", "X-first"
            start, value = tens.start(), value + _TENS[tens.group()]
        elif word == "second" and _AFTER_NUMBER.search(sentence, max(0, start - 30), start):
            continue                                              # "one second", "30 second": a unit
        found.append((start, end, value))
    return found
