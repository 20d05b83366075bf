"""Article-extraction benchmark: newsmon's ``extract()`` next to plain trafilatura.

Data: the public scrapinghub/article-extraction-benchmark (html/<id>.html.gz, ground-truth.json), read from
a path and never copied into this repository. Metric (the benchmark's own): tokens are ``\\w+`` matches;
per page, the multisets of 4-token shingles of prediction and truth give tp, fp and fn; P = tp/(tp+fp),
R = tp/(tp+fn) (both 1 when fp = fn = 0), averaged over the pages where each is defined; F1 is computed
once from the two averages. Accuracy is the share of pages whose token sequence equals the truth.

Both extractors get the same raw bytes, as the fetcher would hand them over. Speed is pages per second of
CPU time (process_time), each page timed for both extractors in alternating order: on a shared machine wall
time swung by a factor of two between runs, CPU time by a few per cent.

    python benchmarks/extraction.py [--data PATH] [--subset quick-subset-40.txt] [--worst 10]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from monitor.errors import ExtractionError  # noqa: E402
from monitor.extract import extract  # noqa: E402
from monitor.extract_compare import trafilatura_as_released  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "article-extraction-benchmark"
TOKEN = re.compile(r"\w+")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = TOKEN.findall(text)
    if 0 < len(tokens) < n:  # a very short text is one shingle, so it still counts
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


@dataclass
class Score:
    """Accumulated metric and time of one extractor."""

    precisions: list[float] = field(default_factory=list)
    recalls: list[float] = field(default_factory=list)
    exact: int = 0
    pages: int = 0
    seconds: float = 0.0
    per_page: dict[str, float] = field(default_factory=dict)  # F1 of each page, for --worst

    def add(self, page_id: str, prediction: str, truth: str) -> None:
        predicted, expected = shingles(prediction), shingles(truth)
        tp = sum((predicted & expected).values())
        fp = sum((predicted - expected).values())
        fn = sum((expected - predicted).values())
        p = r = 1.0
        if fp or fn:
            p = tp / (tp + fp) if tp + fp else float("nan")
            r = tp / (tp + fn) if tp + fn else float("nan")
        if p == p:  # not NaN: defined for this page
            self.precisions.append(p)
        if r == r:
            self.recalls.append(r)
        self.exact += TOKEN.findall(prediction) == TOKEN.findall(truth)
        self.pages += 1
        p, r = (0.0 if x != x else x for x in (p, r))
        self.per_page[page_id] = 2 * p * r / (p + r) if p + r else 0.0

    @property
    def precision(self) -> float:
        return sum(self.precisions) / len(self.precisions) if self.precisions else 0.0

    @property
    def recall(self) -> float:
        return sum(self.recalls) / len(self.recalls) if self.recalls else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def accuracy(self) -> float:
        return self.exact / self.pages if self.pages else 0.0

    @property
    def speed(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


def newsmon(body: bytes) -> str:
    try:
        return extract(body).text
    except ExtractionError:
        return ""


def plain_trafilatura(body: bytes) -> str:
    # As released: importing monitor.extract replaced its comparison step (monitor/extract_compare.py).
    with trafilatura_as_released():
        return trafilatura.extract(body, include_comments=False, favor_precision=True) or ""


EXTRACTORS: dict[str, Callable[[bytes], str]] = {"newsmon": newsmon, "trafilatura": plain_trafilatura}


def run(data: Path, subset: str | None) -> tuple[dict[str, Score], dict[str, dict[str, str]]]:
    truth: dict[str, dict[str, str]] = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    ids = (data / subset).read_text().split() if subset else sorted(truth)
    scores = {name: Score() for name in EXTRACTORS}
    names = list(EXTRACTORS)
    first = gzip.decompress((data / "html" / f"{ids[0]}.html.gz").read_bytes())
    for function in EXTRACTORS.values():  # warm-up: lazy imports and compiled patterns are not per page
        function(first)
    for n, page_id in enumerate(ids):
        body = gzip.decompress((data / "html" / f"{page_id}.html.gz").read_bytes())
        for name in names if n % 2 == 0 else reversed(names):
            start = time.process_time()
            prediction = EXTRACTORS[name](body)
            scores[name].seconds += time.process_time() - start
            scores[name].add(page_id, prediction, truth[page_id]["articleBody"])
    return scores, truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="benchmark folder (default: %(default)s)")
    parser.add_argument("--subset", help="file of page ids inside the data folder, e.g. quick-subset-40.txt")
    parser.add_argument("--worst", type=int, default=0, metavar="N",
                        help="also list the N pages where newsmon scores furthest below trafilatura")
    args = parser.parse_args(argv)
    if not (args.data / "ground-truth.json").is_file():
        parser.error(f"no ground-truth.json in {args.data}")
    scores, truth = run(args.data, args.subset)
    ours, theirs = scores["newsmon"], scores["trafilatura"]
    print(f"{ours.pages} pages from {args.data} ({args.subset or 'all'})")
    print(f"{'':12} {'F1':>7} {'P':>7} {'R':>7} {'accuracy':>9} {'pages/s':>8}")
    for name, s in scores.items():
        print(f"{name:12} {s.f1:7.4f} {s.precision:7.4f} {s.recall:7.4f} {s.accuracy:9.3f} {s.speed:8.1f}")

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.3f}" if b else "-"

    print(f"{'ratio':12} {ratio(ours.f1, theirs.f1):>7} {ratio(ours.precision, theirs.precision):>7} "
          f"{ratio(ours.recall, theirs.recall):>7} {ratio(ours.accuracy, theirs.accuracy):>9} "
          f"{ratio(ours.speed, theirs.speed):>8}")
    if args.worst:
        gaps = sorted(ours.per_page, key=lambda i: ours.per_page[i] - theirs.per_page[i])[:args.worst]
        for page_id in gaps:
            print(f"{ours.per_page[page_id]:.3f} vs {theirs.per_page[page_id]:.3f}  {page_id[:12]}  "
                  f"{truth[page_id].get('url', '')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
