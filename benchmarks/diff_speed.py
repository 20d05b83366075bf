"""How fast is the diff engine? Prints numbers; asserts nothing (timed assertions make flaky tests).

    python benchmarks/diff_speed.py

1. Median time of ``diff_texts`` on the seed article against each revision fixture (about 700 words),
   and against a 1,000-word version of it.
2. Time of ``diff_texts`` on a 5 MB article against a copy with one edited sentence (a figure changed in
   the middle), a copy with its first paragraph moved to the end, itself, and the same with no paragraph
   breaks; then the same on the seed repeated verbatim to 5 MB (every sentence ~1,300 times).
3. Sentence splitting of 1 MB of text: our splitter against pysbd (pysbd on 100 kB, scaled up, because it
   is slow).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.diff import diff_texts  # noqa: E402
from monitor.sentences import split_sentences  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"


def load(path: Path) -> tuple[str, str]:
    """(title, text) of a fixture: line 1 the headline, the rest paragraphs, minus page boilerplate."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if lines[-1].strip() == "Leave A Comment":
        lines = lines[:-1]
    return lines[0], "\n\n".join(lines[1:])


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def big_article(paragraphs: list[str], size: int) -> list[str]:
    """Unique paragraphs (every sentence tagged with its paragraph number) until ``size`` characters."""
    out: list[str] = []
    total = 0
    n = 0
    while total < size:
        para = paragraphs[n % len(paragraphs)].replace(". ", f". In report {n}, ")
        para = f"Report {n} says: {para}"
        out.append(para)
        total += len(para) + 2
        n += 1
    return out


def main() -> None:
    title, seed = load(FIXTURES / "article.txt")
    print("seed article:", len(seed.split()), "words")
    for path in sorted((FIXTURES / "revisions").glob("*.txt")):
        new_title, new = load(path)
        times = timed(lambda new=new, new_title=new_title: diff_texts(seed, new, old_title=title,
                                                                      new_title=new_title), 200)
        print(f"  {path.stem:45s} median {statistics.median(times) * 1000:6.2f} ms")

    paragraphs = seed.split("\n\n")
    extra = [p.replace("North Korea", "Pyongyang").replace("Russia", "Moscow") for p in paragraphs[2:]]
    extra += [p.replace("Ukraine", "Kyiv").replace("South Korea", "Seoul") for p in paragraphs[2:]]
    long_old = "\n\n".join(paragraphs + extra)
    long_new = long_old.replace("at least 1,000 of", "at least 1,500 of", 1).replace(
        "silent on the matter", "quiet on the matter", 1)
    times = timed(lambda: diff_texts(long_old, long_new), 200)
    print(f"  {len(long_old.split()):,}-word pair, a figure and a word edited: "
          f"median {statistics.median(times) * 1000:.2f} ms")

    big = big_article(paragraphs, 5 * 1024 * 1024)
    big_old = "\n\n".join(big)
    middle = next(k for k in range(len(big) // 2, len(big)) if "at least 1,000 of" in big[k])
    edited = list(big)
    edited[middle] = edited[middle].replace("at least 1,000 of", "at least 1,500 of")
    big_new = "\n\n".join(edited)
    moved = "\n\n".join(big[1:] + big[:1])
    print(f"5 MB article: {len(big_old) / 1e6:.1f} MB, {len(big)} paragraphs")
    one_para_old = " ".join(big)                      # no paragraph breaks at all
    one_para_new = " ".join(edited)
    # The seed repeated verbatim, as a naive benchmark would build it: every sentence occurs ~1,300 times.
    repeated = paragraphs * (5 * 1024 * 1024 // len(seed))
    k = next(k for k in range(len(repeated) // 2, len(repeated)) if "at least 1,000 of" in repeated[k])
    repeated_edit = list(repeated)
    repeated_edit[k] = repeated_edit[k].replace("at least 1,000 of", "at least 1,500 of")
    cases = (("one edited sentence", big_old, big_new),
             ("first paragraph moved to the end", big_old, moved),
             ("identical", big_old, big_old),
             ("one paragraph, one edited sentence", one_para_old, one_para_new),
             ("repeated seed, one edited sentence", "\n\n".join(repeated), "\n\n".join(repeated_edit)),
             ("repeated seed, single newlines, one edit", "\n".join(repeated), "\n".join(repeated_edit)),
             ("repeated seed, first paragraph moved", "\n\n".join(repeated),
              "\n\n".join(repeated[1:] + repeated[:1])))
    for label, old, new in cases:
        times = timed(lambda old=old, new=new: diff_texts(old, new), 3)
        d = diff_texts(old, new)
        print(f"  {label:42s} {min(times):.3f} s (best of 3)  kind={d.kind} figures={len(d.figures)} "
              f"changed={len(d.changed)} moved={len(d.moved)}")

    megabyte = big_old[:1_000_000]
    times = timed(lambda: split_sentences(megabyte), 3)
    print(f"split_sentences, 1 MB: ours {min(times):.3f} s", end="")
    try:
        import pysbd
    except ImportError:
        print()
        return
    segmenter = pysbd.Segmenter(language="en", clean=False)
    sample = megabyte[:100_000]
    times = timed(lambda: [segmenter.segment(p) for p in sample.split("\n\n")], 1)
    print(f", pysbd {min(times) * 10:.1f} s (100 kB x 10)")


if __name__ == "__main__":
    main()
