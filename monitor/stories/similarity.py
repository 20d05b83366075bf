"""How alike two articles' headline and opening are: the measure that groups articles into stories.

Pure functions, no I/O. An article's *signature* is the bag of terms of its headline (counted twice: it
names the event) and the first ``OPENING_WORDS`` words of its text. A term is a lower-cased word of
three letters or more, not a stop word, with a plural "s" stripped ("troops" and "troop" are one term).
Figures are left out on purpose: outlets disagree on numbers (11,000 or 12,000 troops) while reporting
the same event, which is exactly what the figure ledger is for.

Three measures are implemented so ``benchmarks/story_grouping.py`` can compare them on a labelled set:

- ``tfidf_cosine``: cosine of TF-IDF weighted term bags (the one stories use; see the benchmark for why).
  Inverse document frequency comes from the signatures currently in the store, so words every article
  uses ("said", "government") count for little and names ("kursk", "pyongyang") for a lot.
- ``shingle_cosine``: the same over word pairs (2-shingles) instead of single words.
- ``minhash_jaccard``: MinHash estimate of the Jaccard index of the 2-shingle sets (128 hash functions).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from monitor.normalise import comparable

# How much of the body counts: the opening carries who/what/where; the rest of an article wanders into
# background that other stories share (measured in benchmarks/story_grouping.py).
OPENING_WORDS = 80
HEADLINE_WEIGHT = 2

def _split(text: str) -> list[str]:
    """Word lists are written as one string for readability."""
    return text.split()


_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")   # letters of any script: Cyrillic pages too
_STOP = frozenset(_split("""
    the and for are was were has have had been being but not with from that this these those there their they
    them his her its our your you who whom whose which what when where why how all any both each few more most
    other some such than too very can will would could should may might must shall also just only into onto
    over under after before since during until about above below between among through against within without
    said says say told according reported reports report reporting new news one two three four five six seven
    eight nine ten first last year years month months week weeks day days today yesterday tomorrow monday
    tuesday wednesday thursday friday saturday sunday time times per cent percent while whereas because though
    although however still yet even then now here out off again further once being did does doing done get got
    make made many much own same she him her hers himself herself itself themselves ourselves yourselves
    whether upon via onto around including include includes included across toward towards near most mostly
    mr mrs ms dr people
"""))
_MINHASH_SEEDS = 128


def terms(title: str, text: str, *, opening_words: int = OPENING_WORDS, shingles: bool = False) -> Counter[str]:
    """The signature of an article: its terms (or word pairs, with ``shingles``) with their counts."""
    head = _words(title)
    body = _words(" ".join(comparable(text).split()[:opening_words]))
    bag: Counter[str] = Counter()
    for words, weight in ((head, HEADLINE_WEIGHT), (body, 1)):
        units = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)] if shingles else words
        for unit in units:
            bag[unit] += weight
    return bag


def _words(text: str) -> list[str]:
    words = []
    for word in _WORD_RE.findall(comparable(text).lower().replace("'s ", " ")):
        word = word.split("'")[0]
        if len(word) < 3 or word in _STOP:
            continue
        words.append(_stem(word))
    return words


def _stem(word: str) -> str:
    """A plural's singular, roughly: enough to make "troops" and "troop" one term."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def idf(bags: Iterable[Mapping[str, int]]) -> dict[str, float]:
    """Smoothed inverse document frequency, ln((1 + N) / (1 + df)) + 1, over a collection of bags."""
    df: Counter[str] = Counter()
    n = 0
    for bag in bags:
        n += 1
        df.update(bag.keys())
    return {term: math.log((1 + n) / (1 + count)) + 1 for term, count in df.items()}


def weigh(bag: Mapping[str, int], weights: Mapping[str, float], default: float) -> dict[str, float]:
    """A bag as a unit-length TF-IDF vector (``default`` weighs terms the collection has never seen)."""
    vector = {t: (1 + math.log(c)) * weights.get(t, default) for t, c in bag.items()}
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {t: v / norm for t, v in vector.items()}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine of two unit vectors given as sparse dicts."""
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def tfidf_cosine(bags: Sequence[Mapping[str, int]]) -> list[list[float]]:
    """The pairwise TF-IDF cosine matrix of a collection of bags (for the benchmark and tests)."""
    weights = idf(bags)
    vectors = [weigh(bag, weights, 1.0) for bag in bags]
    return [[cosine(a, b) for b in vectors] for a in vectors]


def minhash(units: Iterable[str], seeds: int = _MINHASH_SEEDS) -> tuple[int, ...]:
    """MinHash signature of a set: per seed, the least 64-bit BLAKE2b hash of the seeded units."""
    items = set(units)
    if not items:
        return (2**64 - 1,) * seeds
    return tuple(min(int.from_bytes(hashlib.blake2b(u.encode(), digest_size=8, salt=seed.to_bytes(16, "big"))
                                    .digest(), "big") for u in items) for seed in range(seeds))


def minhash_jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    """The share of equal MinHash slots: an unbiased estimate of the Jaccard index of the two sets."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def shared_terms(bags: Sequence[Mapping[str, int]], weights: Mapping[str, float], limit: int = 8) -> list[str]:
    """Why articles are one story: the terms most of them share, rarest in the collection first.

    A term counts when it is in at least two bags and in at least half of them; terms in every bag come
    first, then by weight in the story (occurrences, headline ones double, times inverse document frequency).
    """
    if len(bags) < 2:
        return []
    present: Counter[str] = Counter()
    mass: Counter[str] = Counter()
    for bag in bags:
        present.update(bag.keys())
        mass.update(bag)
    need = max(2, math.ceil(len(bags) / 2))
    found = [t for t, n in present.items() if n >= need]
    found.sort(key=lambda t: (-present[t], -mass[t] * weights.get(t, 1.0), t))
    return found[:limit]
