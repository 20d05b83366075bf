"""The report site: a full rebuild against the incremental refresh that runs after every check.

Builds a store of N articles (the seed article and its revised fixtures, each article a few versions with
its own figures), then times in one run:

  first build   ``newsmon report`` on an empty folder (every diff computed, every page written)
  refresh       the site brought up to date after a check in which 1% of the articles got a new version,
                as ``newsmon check`` and the daemon do (only changed articles read, diffed and drawn)
  rebuild       the same update without the site's cache (``newsmon report --rebuild``): every diff again
  nothing new   an update when nothing changed (the lists and feeds are still redrawn)

``--after-check`` measures instead what ``newsmon check`` pays for the site in the changed cycle of
benchmarks/check_cycles.py: 1,000 articles of benchmarks/news_site.py (20 sources, one version each, the
site built after the first cycle), then 100 of them get a second version with one figure changed, and the
site is brought up to date with the diffs the check computed. Each refresh runs in a child process from a
copy of the site, timing the import of monitor.report.site and ``build_site`` (CPU), after importing what
the check had already imported. ``--baseline REF`` runs the same refresh with the code of a git commit
(``git archive``), alternating with this tree's, and prints both medians and their ratio.

``--split`` times the refresh as a run split over the cores does it (monitor.check_processes): each share
of the hosts is a child process that imports the site's modules and draws the pages of its changed
articles (``draw_article_pages``; both timed, shown apart), then the run's ``build_site`` finds them
current and draws the lists and feeds (shown apart; its import untimed, as the check imports the site's
modules ahead at its first change). ``--shares`` is how many checking processes (2, as on 2 cores).

Usage: python benchmarks/report_site.py [--articles 300] [--versions 4]
       python benchmarks/report_site.py --after-check [--baseline 68c87f6] [--repeat 5] [--split]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.demo.site import parse_article_text  # noqa: E402
from monitor.diff import diff_documents  # noqa: E402
from monitor.models import Document  # noqa: E402
from monitor.normalise import fingerprint  # noqa: E402
from monitor.report.site import SiteReport, build_site  # noqa: E402
from monitor.store import CheckRecord, NewVersion, RecordItem, Store, open_store  # noqa: E402
from monitor.store.reporting import article_history  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"

# One refresh as ``newsmon check`` runs it (cli._refresh_site), in a fresh process: argv is the database
# URL, the site folder, the generation time and whether the site's modules are imported untimed (as the
# head start of a check does, cli._readying_the_site). The check's diffs are computed first, untimed.
REFRESH = """
import json, sys, time
from datetime import datetime
from pathlib import Path
import monitor.check  # what the check imported before it refreshed the site
if sys.argv[4] == "imported":
    import monitor.report.site
from monitor.diff import diff_documents
from monitor.store import open_store
from monitor.store.reporting import article_history, changed_article_stamps

with open_store(sys.argv[1]) as store:
    diffs = {}
    for stamp in changed_article_stamps(store):
        old, new = article_history(store, stamp.url).versions[-2:]
        diffs[(stamp.url, old.number, new.number)] = diff_documents(old.document, new.document)
    started = time.process_time()
    from monitor.report.site import build_site
    report = build_site(store, Path(sys.argv[2]), since=None, generated_at=datetime.fromisoformat(sys.argv[3]),
                        diffs=diffs)
    cpu = time.process_time() - started
print(json.dumps({"cpu": cpu, "changes": report.changes, "written": report.written}))
"""

# What one checking process of a split run does after its share (cli._draw_changed_pages), in a fresh
# process: argv is the database URL, the site folder, the share's changed URLs (JSON) and a pickle of the
# diffs the check computed. Only what a checking process had imported is imported before the clock
# starts: with a plain SQLite store that is not SQLAlchemy, which the site's store reads import.
DRAW = """
import json, pickle, sys, time
from pathlib import Path
import monitor.check, monitor.cli  # what the checking process had imported
from monitor.store import open_store

urls = json.loads(sys.argv[3])
diffs = {key: diff for key, diff in pickle.loads(Path(sys.argv[4]).read_bytes()).items() if key[0] in urls}
with open_store(sys.argv[1]) as store:
    started = time.process_time()
    from monitor.report.site import draw_article_pages
    imported = time.process_time()
    drawn = draw_article_pages(store, Path(sys.argv[2]), urls, diffs=diffs)
    done = time.process_time()
print(json.dumps({"import": imported - started, "draw": done - imported, "drawn": drawn}))
"""


def revisions() -> list[Document]:
    texts = [FIXTURES / "article.txt", *sorted((FIXTURES / "revisions").glob("*.txt"))]
    documents = []
    for path in texts:
        article = parse_article_text(path.read_text(encoding="utf-8"))
        documents.append(Document(title=article.title, text="\n\n".join((article.standfirst, *article.paragraphs))))
    return documents


def variant(document: Document, article: int) -> Document:
    """The document as article ``article`` tells it: its own figures, so no two articles are alike."""
    text = document.text.replace("11,000", f"{11_000 + article:,}").replace("1,000", f"{1_000 + article:,}")
    return Document(title=f"{document.title} ({article})", text=text)


def record(store: Store, article: int, version: int, document: Document, when: datetime) -> RecordItem:
    doc = variant(document, article)
    html = f"<html><body>{hashlib.sha256(doc.text.encode()).hexdigest()}</body></html>".encode()
    return RecordItem(
        url=f"https://news{article % 20}.example/story/{article}", source=f"outlet-{article % 5}",
        check=CheckRecord(checked_at=when, outcome="new" if version == 1 else "modified", status=200),
        new_version=NewVersion(document=doc, html=html, fingerprint=fingerprint(doc.title, doc.text),
                               created_at=when))


def timed(label: str, action: Callable[[], SiteReport]) -> float:
    """Run ``action``; print its wall and CPU time and what it did; return the CPU time."""
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    report = action()
    wall, cpu = time.perf_counter() - started_wall, time.process_time() - started_cpu
    print(f"{label:<42} {wall:6.2f} s wall {cpu:6.2f} s CPU   {report.changes} changes, "
          f"{report.rebuilt} articles redrawn, {report.written} files written")
    return cpu


def refresh_in_child(tree: Path, database: str, out: Path, generated_at: datetime,
                     imported: bool = False) -> dict[str, float]:
    """``REFRESH`` run with the code of ``tree``; its CPU seconds, changes listed and files written."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", REFRESH, database, str(out), generated_at.isoformat(),
                           "imported" if imported else "timed"],
                          cwd=tree, env=env, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def draw_in_child(tree: Path, database: str, out: Path, urls: list[str], diffs: Path) -> tuple[float, float]:
    """``DRAW`` run with the code of ``tree``: CPU seconds of importing the site's modules and of drawing."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", DRAW, database, str(out), json.dumps(urls), str(diffs)],
                          cwd=tree, env=env, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    assert result["drawn"] == len(urls), result
    return float(result["import"]), float(result["draw"])


def after_check(args: argparse.Namespace) -> None:
    """The site's refresh in the changed cycle of check_cycles.py, this tree against ``--baseline``."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from news_site import Site, url_of
    from trees import trees_to_compare

    work = Path(tempfile.mkdtemp(prefix="newsmon-report-check-"))
    try:
        trees = trees_to_compare(work, args.baseline)
        site = Site(args.articles, hosts=20, seed=1, latency=0)
        database = f"sqlite:///{work / 'newsmon.db'}"
        start = datetime(2026, 11, 1, 6, tzinfo=UTC)

        def stored(numbers: list[int], version: int, when: datetime) -> list[RecordItem]:
            items = []
            for n in numbers:
                text = site.articles[n].text()
                doc = Document(title=text.title, text="\n\n".join((text.standfirst, *text.paragraphs)))
                items.append(RecordItem(
                    url=url_of(n, 20, 8800), source=f"host-{n % 20}",
                    check=CheckRecord(checked_at=when, outcome="new" if version == 1 else "modified", status=200),
                    new_version=NewVersion(document=doc, html=site.page(n)[3],
                                           fingerprint=fingerprint(doc.title, doc.text), created_at=when)))
            return items

        with open_store(database) as store:
            store.record_many(stored(list(range(args.articles)), 1, start))
        # The site as the first cycle left it (no change yet), drawn by each tree's own code.
        for name, tree in trees.items():
            refresh_in_child(tree, database, work / f"site-{name}", start)
        changed = site.new_round(0.1)
        with open_store(database) as store:
            store.record_many(stored(changed, 2, start + timedelta(hours=1)))
        # A split run deals the hosts out to the checking processes; each draws the articles it changed,
        # with the diffs the check computed.
        shares = [[url_of(n, 20, 8800) for n in changed if n % 20 % args.shares == share]
                  for share in range(args.shares)]
        with open_store(database) as store:
            diffs = {}
            for url in sum(shares, []):
                history = article_history(store, url)
                assert history is not None
                old, new = history.versions[-2:]
                diffs[(url, old.number, new.number)] = diff_documents(old.document, new.document)
        (work / "diffs.pickle").write_bytes(pickle.dumps(diffs))
        if args.split:
            print(f"{args.articles} articles, {len(changed)} changed (one figure each); refresh after a check "
                  f"split over {args.shares} processes, CPU, {args.repeat} runs each:")
        else:
            print(f"{args.articles} articles, {len(changed)} changed (one figure each); refresh after the check, "
                  f"CPU seconds of import + build_site, {args.repeat} runs each:")
        cpu: dict[str, list[float]] = {name: [] for name in trees}
        draw: dict[str, list[float]] = {name: [] for name in trees}     # --split: ms per article drawn
        imports: dict[str, list[float]] = {name: [] for name in trees}  # --split: ms per checking process
        for _ in range(args.repeat):
            for name, tree in trees.items():      # alternated, so both see the same load on the machine
                out = work / "run"
                shutil.rmtree(out, ignore_errors=True)
                shutil.copytree(work / f"site-{name}", out)
                if args.split:
                    times = [draw_in_child(tree, database, out, urls, work / "diffs.pickle") for urls in shares]
                    imports[name].append(sum(t[0] for t in times) * 1000 / len(shares))
                    draw[name].append(sum(t[1] for t in times) * 1000 / len(changed))
                result = refresh_in_child(tree, database, out, start + timedelta(hours=1), imported=args.split)
                cpu[name].append(result["cpu"])
        if args.split:
            print("  draw_article_pages in the checking processes, ms of CPU per article drawn:")
            summarise(draw, args.baseline, "ms")
            print("  before it, importing monitor.report.site in each checking process, ms of CPU:")
            summarise(imports, args.baseline, "ms")
            print("  then build_site (the lists, feeds and cache reads; imported ahead as a check does), s of CPU:")
        summarise(cpu, args.baseline, "s")
        print(f"  ({int(result['changes'])} changes listed, {int(result['written'])} files written by build_site)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def summarise(runs: dict[str, list[float]], baseline: str | None, unit: str) -> None:
    for name, values in runs.items():
        print(f"    {name:<12} median {statistics.median(values):.3f} {unit}  "
              f"(runs: {', '.join(f'{v:.3f}' for v in values)})")
    if baseline:
        ratio = statistics.median(runs[baseline]) / statistics.median(runs["this tree"])
        # Each baseline run with the run of this tree just before it: the machine's speed (and its file
        # system's, as the runs create and delete thousands of files) drifts within one invocation.
        paired = statistics.median(b / t for b, t in zip(runs[baseline], runs["this tree"], strict=True))
        print(f"    {baseline} / this tree: {ratio:.2f}x (median of the paired ratios: {paired:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=None, help="300, or 1,000 with --after-check")
    parser.add_argument("--versions", type=int, default=4)
    parser.add_argument("--after-check", action="store_true", help="the refresh after a check (see above)")
    parser.add_argument("--baseline", help="with --after-check: a git commit to compare with")
    parser.add_argument("--repeat", type=int, default=5, help="with --after-check: runs of each tree")
    parser.add_argument("--split", action="store_true",
                        help="with --after-check: article pages drawn by the checking processes (see above)")
    parser.add_argument("--shares", type=int, default=2, help="with --split: checking processes")
    args = parser.parse_args()
    if args.after_check:
        args.articles = args.articles or 1000
        after_check(args)
        return
    args.articles = args.articles or 300
    docs = revisions()
    work = Path(tempfile.mkdtemp(prefix="newsmon-report-bench-"))
    start = datetime(2026, 11, 1, tzinfo=UTC)
    try:
        with open_store(f"sqlite:///{work / 'newsmon.db'}") as store:
            for v in range(args.versions):
                store.record_many([record(store, a, v + 1, docs[(a + v) % len(docs)] if v else docs[0],
                                          start + timedelta(hours=v, seconds=a)) for a in range(args.articles)])
            print(f"{args.articles} articles x {args.versions} versions; SQLite in {work}")
            out = work / "reports"
            now = start + timedelta(days=1)
            timed("first build (empty folder)", lambda: build_site(store, out, since=None, generated_at=now))
            changed = max(1, args.articles // 100)
            store.record_many([record(store, a, args.versions + 1, docs[(a + args.versions) % len(docs)],
                                      start + timedelta(hours=args.versions, seconds=a)) for a in range(changed)])
            shutil.copytree(out, work / "copy")
            refresh = timed(f"refresh after {changed} changed article(s)",
                            lambda: build_site(store, out, since=None, generated_at=now))
            rebuild = timed("the same without the cache (--rebuild)",
                            lambda: build_site(store, work / "copy", since=None, generated_at=now, rebuild=True))
            timed("refresh with nothing new", lambda: build_site(store, out, since=None, generated_at=now))
            print(f"ratio rebuild / refresh: {rebuild / refresh:.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
