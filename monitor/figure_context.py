"""What a figure counts: the ``context`` of a :class:`monitor.figures.Figure`.

Heuristics, tried in order (no parser, no model: a few word lists and the shape of news sentences):

1. **Subject of a predicate.** When the figure heads the subject of a passive or a verb of fate ("1,000
   of the 11,000 troops deployed had been killed", "300 soldiers were captured or wounded", "12 died"),
   the context is the counted noun plus the predicate: "troops killed". The predicate is what changes
   the meaning of a casualty figure, and the noun says who.
2. **Noun phrase after the figure.** "11,000 North Korean troops deployed" -> "North Korean troops": the
   words right after the number, stopping at a function word, punctuation, another number, a past
   participle or adverb after the noun, or right after the first plural noun (news counts end in a
   plural: "troops", "casualties", "square kilometers"). A partitive "of (the)" is skipped: "hundreds of
   square kilometers" -> "square kilometers", "12% of voters" -> "voters". Capped at four words.
3. **What the sentence says is being counted.** "The exact number of additional soldiers remains unclear,
   but ... estimate the figure to be at least 1,000" -> "additional soldiers" ("number/total/figure/count/
   tally/estimate of X"), or "the death toll rose to 45" -> "death toll".
4. **Subject of a verb of change.** "inflation rose to 4.5%" -> "inflation".
5. **What money is for.** "$2.4 billion in military aid" -> "military aid", "£300m on new housing".

The context is also how the diff pairs an old figure with its new value, so both sides of a pair go
through the same heuristics and agree even when the heuristics are wrong.
"""

from __future__ import annotations

import re


def _words(text: str) -> list[str]:
    """Word lists are written as one string for readability."""
    return text.split()


_TOKEN_RE = re.compile(
    r"(?P<w>[A-Za-z][A-Za-z'’]*(?:-[A-Za-z]+)*)|(?P<n>[$£€¥\d][\w.,$%]*)|(?P<p>[^\sA-Za-z\d$£€¥])"
)
_STOP = frozenset(_words("""
    a an the this that these those its their his her our your my some any each every all both either neither
    of in on at to for from by with within into onto over under after before since during until against
    across through between among per than as about around near via without toward towards upon
    and or but nor so yet while whereas if because although though when where who whom whose which what
    is are was were be been being has have had do does did will would can could may might must shall should
    it they he she we you i them him us me there here
    said says say told according ago more less most least only also not no already still now then just
    even ever again too very such other another further up down out off
    rose fell stood reached remains remain remained increased decreased jumped dropped climbed grew
"""))
_PEOPLE_OR_PLURAL_IRREGULAR = frozenset(_words("people children men women police personnel staff cattle"))
_AUX = frozenset(_words("is are was were has have had"))
_FATE_VERBS = frozenset(_words("died fled perished drowned surrendered disappeared deserted defected"))
_IRREGULAR_PARTICIPLES = frozenset(_words(
    "hurt shot lost sent slain held taken found left kept struck hit caught beaten bitten "
    "thrown driven seen made put set cut"))
_CHANGE_VERBS = frozenset(_words(
    "rose fell climbed dropped jumped reached stood increased decreased grew hit"))
_COUNTED_BY_RE = re.compile(
    r"\b(?:number|total|figure|count|tally|estimate)[^\S\n]+of[^\S\n]+", re.IGNORECASE)
_TOLL_RE = re.compile(r"\b(?P<t>death|casualty|injury|body)[^\S\n]+toll\b", re.IGNORECASE)


def preceding_words(sentence: str, pos: int, n: int) -> list[str]:
    """The last ``n`` words before ``pos`` (fewer at the start of the sentence)."""
    return re.findall(r"[A-Za-z][A-Za-z'’]*", sentence[max(0, pos - 12 * n - 12):pos])[-n:]


def figure_context(sentence: str, start: int, end: int, kind: str | None = None) -> str | None:
    """The counted noun or subject of the figure at ``sentence[start:end]`` (see the module docstring)."""
    # 160 characters cover the noun phrase and a predicate ("of the 11,000 North Korean troops deployed
    # had been killed") without tokenising the rest of a long sentence for every figure in it.
    tokens = [(m.lastgroup or "p", m.group()) for m in _TOKEN_RE.finditer(sentence, end, end + 160)]
    inside_partitive = re.search(r"\bof(?:[^\S\n]+the)?[^\S\n]+$", sentence[max(0, start - 8):start])
    noun, i = _noun_phrase(tokens, 0)
    if not noun and i < len(tokens) and tokens[i][1].lower() == "of":
        i += 1
        while i < len(tokens) and (tokens[i][1].lower() in ("the", "a", "an", "its", "their", "those")
                                   or tokens[i][0] == "n"):
            i += 1
        noun, i = _noun_phrase(tokens, i)
    if inside_partitive is None:
        predicate = _predicate(tokens, i)
        if predicate:
            head = noun.split()[-1] if noun else None
            return f"{head} {predicate}" if head else predicate
    if noun:
        return noun
    found = _counted_earlier(sentence, start) or _changing_subject(sentence, start)
    if found is None and kind == "money" and i < len(tokens) and tokens[i][1].lower() in ("in", "on", "for"):
        found = _noun_phrase(tokens, i + 1)[0] or None        # "$2.4 billion in military aid"
    return found


def _is_plural(word: str) -> bool:
    lower = word.lower()
    return lower in _PEOPLE_OR_PLURAL_IRREGULAR or (
        len(lower) > 3 and lower.endswith("s") and not lower.endswith(("ss", "us", "is", "'s", "’s")))


def _is_participle(word: str) -> bool:
    lower = word.lower()
    return (len(lower) > 4 and lower.endswith(("ed", "en", "wn"))) or lower in _IRREGULAR_PARTICIPLES


def _noun_phrase(tokens: list[tuple[str, str]], i: int) -> tuple[str, int]:
    """Words from ``tokens[i]`` that look like a noun phrase; returns (phrase, index after it)."""
    words: list[str] = []
    while i < len(tokens) and len(words) < 4:
        kind, word = tokens[i]
        lower = word.lower()
        if kind != "w" or lower in _STOP:
            break
        if word[0].islower() and (lower.endswith("ly") or (words and lower.endswith("ed"))):
            break                                              # "soldier deployed"; "-ing" may be a noun
        words.append(word)
        i += 1
        if word[0].islower() and _is_plural(word):
            break
    return " ".join(words), i


def _predicate(tokens: list[tuple[str, str]], i: int) -> str | None:
    """"had been killed", "were captured or wounded", "died" right after the subject, or None."""
    for _ in range(2):                                         # skip post-modifiers: "troops deployed"
        if i < len(tokens) and tokens[i][0] == "w" and tokens[i][1].islower() \
                and tokens[i][1].endswith("ed") and tokens[i][1] not in _FATE_VERBS:
            i += 1
    words = [w.lower() if k == "w" else "" for k, w in tokens[i:i + 8]]
    if words and words[0] in _FATE_VERBS:
        return words[0]
    if not words or words[0] not in _AUX:
        return None
    j, passive = 1, False
    if j < len(words) and words[j] in ("been", "being"):
        j, passive = j + 1, True
    if j < len(words) and words[j].endswith("ly"):
        j += 1
    if j >= len(words) or not words[j] or not (passive or _is_participle(words[j])):
        return None
    predicate = words[j]
    if j + 2 < len(words) and words[j + 1] in ("or", "and") and _is_participle(words[j + 2]):
        predicate += f" {words[j + 1]} {words[j + 2]}"
    return predicate


def _counted_earlier(sentence: str, start: int) -> str | None:
    # Only the 300 characters before the figure: the counted thing is named in the same clause or the
    # one before, and scanning the whole prefix for every figure would be quadratic in sentence length.
    window = max(0, start - 300)
    found = None
    for m in _COUNTED_BY_RE.finditer(sentence, window, start):
        tokens = [(t.lastgroup or "p", t.group()) for t in _TOKEN_RE.finditer(sentence, m.end(), start)]
        phrase, _ = _noun_phrase(tokens, 0)
        found = phrase or found
    if found:
        return found
    toll = _TOLL_RE.search(sentence, window, start)
    return f"{str(toll.group('t')).lower()} toll" if toll else None


def _changing_subject(sentence: str, start: int) -> str | None:
    words = re.findall(r"[A-Za-z][A-Za-z'’-]*", sentence[max(0, start - 80):start])
    while words and words[-1].lower() in ("to", "at", "by", "from", "of", "around", "about", "some", "over",
                                          "nearly", "almost", "least", "more", "than", "just"):
        words.pop()
    if len(words) >= 2 and words[-1].lower() in _CHANGE_VERBS and words[-2].lower() not in _STOP:
        return str(words[-2])
    return None
