"""Which similarity groups articles into stories, and at what threshold: precision and recall per threshold.

    python benchmarks/story_grouping.py [--quick]

A labelled set of articles, each tagged with the event it reports; every pair of articles is a positive
(same event) or a negative. Three measures of monitor.stories.similarity are compared on the headline and
opening (``OPENING_WORDS`` words), and TF-IDF cosine also on other opening lengths:

- **hand-written, cross-outlet** (the hard part): the seed story and its revisions (tests/fixtures), the
  seed as a second outlet writes it and the other texts of tests/test_stories.py, a second outlet's
  version of the budget vote, the derby and the storm, and near misses: another North Korea story,
  another storm, another budget, another City match (same topic, different event: must stay apart).
- **Wikinews revisions** (/work/shared/data/wikinews-revisions, read in place): each document before and
  after its edits is one event (no headline, text only), 172 documents.
- **extraction benchmark** (/work/shared/data/article-extraction-benchmark, read in place): 181 real news
  pages (headline from <title>, text from the ground truth), mostly from November 2019: 40 of them report
  one of 15 events that several outlets covered (Sweden dropping the Assange inquiry, the Stadia launch,
  plague cases in China, ...), labelled by hand in ``SAME_EVENT_PAGES``: real cross-outlet rewording.

Pairwise precision/recall are printed per threshold, then the precision/recall of the groups that
single-link grouping (what monitor.stories.grouping does) forms at each threshold: a chain of
pairs above the threshold merges events, which pairwise figures do not show.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from monitor.demo.site import ArticleText, load_seed, parse_article_text  # noqa: E402
from monitor.stories.similarity import (  # noqa: E402
    cosine,
    idf,
    minhash,
    minhash_jaccard,
    terms,
    weigh,
)

DATA = Path("/work/shared/data")
THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 19)]


@dataclass(frozen=True)
class Item:
    event: str
    title: str
    text: str
    part: str             # hand, wikinews, extraction


def article(a: ArticleText) -> tuple[str, str]:
    return a.title, "\n\n".join((a.standfirst, *a.paragraphs))


def text_item(event: str, title: str, *paragraphs: str) -> Item:
    return Item(event, title, "\n\n".join(paragraphs), "hand")


SECOND_OUTLETS = [
    text_item("budget", "Budget squeaks through Commons after overnight debate",
              "The government's budget cleared parliament by 312 to 287 in the early hours of Wednesday after "
              "MPs argued through the night over hospital money and fuel duty.",
              "Hospital spending rises 4.5% and fuel duty is frozen again; the minister said borrowing would "
              "fall to $42 billion."),
    text_item("derby", "Captain's double sends City top after derby win over United",
              "Two second-half goals from the captain turned the derby around as City beat United 3-1 and moved "
              "to the top of the table.",
              "United had gone ahead from a corner before the break; a penalty in stoppage time completed the "
              "win in front of 53,000."),
]
NEAR_MISSES = [
    text_item("korea-missiles", "North Korea fires ballistic missiles into the sea, Seoul says",
              "North Korea fired two short-range ballistic missiles into the sea off its east coast on Monday, "
              "South Korea's military said, the first launch in weeks.",
              "Japan's coast guard warned ships in the area. Pyongyang has stepped up weapons tests while "
              "deepening military ties with Russia."),
    text_item("storm-north", "Storm Fergus brings flooding to northern valleys",
              "Storm Fergus flooded dozens of homes in the northern valleys on Saturday as rivers burst their "
              "banks after two days of heavy rain.",
              "A yellow warning remains for the hills; the weather service expects the rain to ease by Monday."),
    text_item("budget-city", "City council approves spending plan with cuts to bus routes",
              "The city council approved its annual budget on Tuesday by 31 votes to 20, cutting three bus "
              "routes and raising parking charges.",
              "The council leader said the cuts were needed to protect social care and libraries."),
    text_item("derby-cup", "City knocked out of the cup by second-tier Rovers",
              "City were knocked out of the cup on Saturday, losing 2-1 at second-tier Rovers after a late "
              "winner from a free kick.",
              "The manager rested eight players ahead of next week's league match."),
]


def hand_items() -> list[Item]:
    from test_stories import BUDGET, COURIER, FOOTBALL, STORM, storm_from_another_outlet

    items = [Item("korea", *article(load_seed()), "hand"), Item("korea", *article(COURIER), "hand")]
    for path in sorted((ROOT / "tests" / "fixtures" / "revisions").glob("*.txt")):
        items.append(Item("korea", *article(parse_article_text(path.read_text("utf-8"))), "hand"))
    items += [Item("budget", *article(BUDGET), "hand"), Item("storm", *article(STORM), "hand"),
              Item("derby", *article(FOOTBALL), "hand"), Item("storm", *article(storm_from_another_outlet()), "hand")]
    return items + SECOND_OUTLETS + NEAR_MISSES


def wikinews_items(limit: int) -> list[Item]:
    path = DATA / "wikinews-revisions" / "documents.jsonl"
    if not path.exists():
        print(f"skipping Wikinews: {path} not found", file=sys.stderr)
        return []
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    for line in path.read_text("utf-8").splitlines():
        row = json.loads(line)
        first.setdefault(row["doc_id"], row["before_revision"])
        last[row["doc_id"]] = row["after_revision"]
    items = []
    for doc in list(first)[:limit]:
        items += [Item(f"wikinews-{doc}", "", text, "wikinews") for text in (first[doc], last[doc])]
    return items


def extraction_items(limit: int) -> list[Item]:
    folder = DATA / "article-extraction-benchmark"
    truth_path = folder / "ground-truth.json"
    if not truth_path.exists():
        print(f"skipping the extraction benchmark: {truth_path} not found", file=sys.stderr)
        return []
    truth = json.loads(truth_path.read_text("utf-8"))
    items = []
    for key, entry in list(truth.items())[:limit]:
        page = gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8", "replace")
        found = re.search(r"<title[^>]*>(.*?)</title>", page, re.S | re.I)
        title = html.unescape(" ".join(found.group(1).split())) if found else ""
        items.append(Item(_EVENT_OF_PAGE.get(key[:12], f"page-{key[:12]}"), title, entry["articleBody"], "extraction"))
    return items


# Pages of the extraction benchmark that report the same event, labelled by reading every pair that any
# measure here scored 0.15 or more (TF-IDF) or 0.05 (word pairs): 2019 news often covered by several
# outlets. Pairs no measure scored that high were not read, so recall on them is an upper bound.
SAME_EVENT_PAGES = {
    "omar-threat": ("6ebac05f637e", "7a457a4f7173"),
    "nasa-landers": ("c50845a7158a", "d1c57d7821e5", "42aad16bde92"),
    "meth-campaign": ("156770d676ce", "776a1c046798", "3f65af7b6b98", "c13b9c0e04fb"),
    "doobie-tour": ("35b158918c67", "ac1bfdd4c510", "9cb8224b660f"),
    "wework-inquiry": ("06e5123e4ef7", "1ace8c85aaee"),
    "fort-worth-rescue": ("2c46804d9db4", "51d066b0602c"),
    "assange-sweden": ("c7e39ac49fa1", "dc7ccccc1f34"),
    "plague-china": ("432362af0be4", "8b1945303082", "ba4dfe2d3e81", "ea25dd7edff4"),
    "duvet-lung": ("7bb1ca903543", "bd673bd79881", "a078b3656adc", "9eef8162bbb6"),
    "europa-plumes": ("14cc2a0ca59c", "686bb170effe", "f344ca5fb36e"),
    "macbook-16": ("5fa5679de56c", "65bf3048b500"),
    "stadia-launch": ("680c2848e94a", "8267acacb9e4", "e100c9612ad8", "aade2ec8d1e7"),
    "home-depot": ("51374560f400", "f8ff621a0b9b"),
    "garrett-fight": ("08f793762792", "7ab16ade3238"),
    "hibernation": ("b37be3535e1f", "e1c7023ee214"),
}
_EVENT_OF_PAGE = {key: event for event, keys in SAME_EVENT_PAGES.items() for key in keys}

Scorer = Callable[[Sequence[Item]], list[list[float]]]


def tfidf_scorer(opening: int, shingles: bool = False) -> Scorer:
    def score(items: Sequence[Item]) -> list[list[float]]:
        bags = [terms(i.title, i.text, opening_words=opening, shingles=shingles) for i in items]
        weights = idf(bags)
        vectors = [weigh(b, weights, 1.0) for b in bags]
        return [[cosine(a, b) for b in vectors] for a in vectors]
    return score


def minhash_scorer(items: Sequence[Item]) -> list[list[float]]:
    signatures = [minhash(terms(i.title, i.text, shingles=True)) for i in items]
    return [[minhash_jaccard(a, b) for b in signatures] for a in signatures]


def pairwise(items: Sequence[Item], matrix: list[list[float]], threshold: float) -> tuple[float, float]:
    tp = fp = fn = 0
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            same, hit = items[i].event == items[j].event, matrix[i][j] >= threshold
            tp += same and hit
            fp += hit and not same
            fn += same and not hit
    return tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0


def single_link(items: Sequence[Item], matrix: list[list[float]], threshold: float) -> tuple[float, float]:
    """Pairwise precision/recall of the groups single-link grouping forms (connected components)."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if matrix[i][j] >= threshold:
                parent[find(i)] = find(j)
    grouped = [[1.0 if find(i) == find(j) else 0.0 for j in range(len(items))] for i in range(len(items))]
    return pairwise(items, grouped, 0.5)


def f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def report(name: str, items: Sequence[Item], scorers: dict[str, Scorer]) -> None:
    positives = sum(items[i].event == items[j].event for i in range(len(items)) for j in range(i + 1, len(items)))
    pairs = len(items) * (len(items) - 1) // 2
    print(f"\n## {name}: {len(items)} articles, {pairs} pairs, {positives} same-event pairs\n")
    for label, scorer in scorers.items():
        started = time.process_time()
        matrix = scorer(items)
        cost = time.process_time() - started
        print(f"{label} ({cost:.1f} s CPU)")
        print("  threshold  pair P   pair R   pair F1 | grouped P  grouped R  grouped F1")
        best = max(THRESHOLDS, key=lambda t: f1(*pairwise(items, matrix, t)))
        for t in THRESHOLDS:
            p, r = pairwise(items, matrix, t)
            gp, gr = single_link(items, matrix, t)
            mark = "  <- best pair F1" if t == best else ""
            print(f"  {t:9.2f}  {p:6.3f}  {r:6.3f}  {f1(p, r):7.3f} | {gp:9.3f}  {gr:9.3f}  {f1(gp, gr):10.3f}{mark}")


def main(argv: Sequence[str]) -> None:
    quick = "--quick" in argv
    hand = hand_items()
    everything = hand + wikinews_items(40 if quick else 172) + extraction_items(40 if quick else 181)
    scorers: dict[str, Scorer] = {
        "TF-IDF cosine, words, headline + 80 words (the default)": tfidf_scorer(80),
        "TF-IDF cosine, words, headline + 40 words": tfidf_scorer(40),
        "TF-IDF cosine, words, headline + 160 words": tfidf_scorer(160),
        "TF-IDF cosine, word pairs, headline + 80 words": tfidf_scorer(80, shingles=True),
        "MinHash Jaccard (128 hashes), word pairs, headline + 80 words": minhash_scorer,
    }
    report("hand-written, cross-outlet (with near misses)", hand, scorers)
    report("everything (hand-written + Wikinews + extraction benchmark)", everything, scorers)


if __name__ == "__main__":
    main(sys.argv[1:])
