"""The report site: a full rebuild against the incremental refresh that runs after every check.

Builds a store of N articles (the seed article and its revised fixtures, each article a few versions with
its own figures), then times in one run:

  first build   ``newsmon report`` on an empty folder (every diff computed, every page written)
  refresh       the site brought up to date after a check in which 1% of the articles got a new version,
                as ``newsmon check`` and the daemon do (only changed articles read, diffed and drawn)
  rebuild       the same update without the site's cache (``newsmon report --rebuild``): every diff again
  nothing new   an update when nothing changed (the lists and feeds are still redrawn)

Usage: python benchmarks/report_site.py [--articles 300] [--versions 4]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.demo.site import parse_article_text  # noqa: E402
from monitor.models import Document  # noqa: E402
from monitor.normalise import fingerprint  # noqa: E402
from monitor.report.site import SiteReport, build_site  # noqa: E402
from monitor.store import CheckRecord, NewVersion, RecordItem, Store, open_store  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--versions", type=int, default=4)
    args = parser.parse_args()
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
