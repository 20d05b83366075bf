"""Bytes on disk per stored version: an article with 100 small revisions, through newsmon's real store.

The base is the seed article (/work/shared/seed/article.txt, read from that path; --article for another
file in the same format). Each revision changes one thing in the previous one: a figure (even revisions)
or one word (odd revisions). Each version's page is newsmon's demo news page around it (navigation, ads,
related links, comments), its noise varying from version to version as a real page's does between fetches.

Every version goes through ``Store.record`` with a ``NewVersion`` (``monitor.store``), as ``newsmon
check`` writes it, into a fresh SQLite store, twice:

  text only     the HTML given as the same empty page every time (one blob, shared): what the texts cost
  text + HTML   each version with its own page, as newsmon stores it

and for each store prints:

  file growth   size of the SQLite file after VACUUM with the 100 versions, minus the same with none
                (the schema): rows, indexes and blobs, per version and as a share of the raw text; the
                pages of each table and index are listed too (tables of one 4 kB page left out)
  text blobs    sum of the stored (compressed) text blobs, against the raw text (UTF-8, title + text,
                100 x the article)
  HTML blobs    sum of the stored HTML blobs, against the raw HTML

Target (issue #7): a version costs at most 15% of its raw text.

    python benchmarks/storage_size.py [--revisions 100] [--article PATH]
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.demo.site import ArticleText, parse_article_text, render_article_page  # noqa: E402
from monitor.models import Document  # noqa: E402
from monitor.normalise import fingerprint  # noqa: E402
from monitor.store import CheckRecord, NewVersion, open_store  # noqa: E402

SEED_ARTICLE = Path("/work/shared/seed/article.txt")
URL = "https://news.example/world/north-korea-troops"
T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")
WORD = re.compile(r"\b[a-z]{5,}\b")
WORDS = ("officials", "reported", "estimated", "confirmed", "additional", "soldiers", "significant",
         "military", "previously", "frontline", "casualties", "intelligence", "deployed", "suggested")


def revisions(base: ArticleText, count: int, seed: int = 1) -> list[ArticleText]:
    """``count`` versions: the base, then each one with one figure (even) or one word (odd) changed."""
    rng = random.Random(seed)
    versions = [base]
    paragraphs = list(base.paragraphs)
    for number in range(1, count):
        pattern = NUMBER if number % 2 == 0 else WORD
        while True:
            index = rng.randrange(len(paragraphs))
            matches = [m for m in pattern.finditer(paragraphs[index]) if not re.fullmatch(r"(19|20)\d\d", m[0])]
            if matches:
                break
        match = rng.choice(matches)
        if pattern is NUMBER:
            new = f"{int(match[0].replace(',', '')) + rng.randint(1, 500):,}"
        else:
            new = rng.choice([w for w in WORDS if w != match[0]])
        paragraphs[index] = paragraphs[index][:match.start()] + new + paragraphs[index][match.end():]
        versions.append(ArticleText(base.title, base.standfirst, tuple(paragraphs)))
    return versions


def document(article: ArticleText) -> Document:
    return Document(title=article.title, text="\n\n".join((article.standfirst, *article.paragraphs)), url=URL)


def vacuumed_size(path: Path) -> int:
    """The database's size after VACUUM, its write-ahead log checkpointed (VACUUM itself goes through it)."""
    conn = sqlite3.connect(path)
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "-wal"))


def blob_bytes(path: Path, column: str) -> tuple[int, int]:
    """(stored bytes, uncompressed bytes) of the distinct blobs the versions point at through ``column``."""
    with sqlite3.connect(path) as conn:
        stored, raw = conn.execute(
            f"SELECT sum(length(data)), sum(size) FROM blobs WHERE id IN (SELECT {column} FROM versions)"
        ).fetchone()
    return stored, raw


def store_versions(folder: Path, articles: list[ArticleText], with_html: bool) -> dict[str, int]:
    """Record every version in a fresh store; the sizes measured (bytes)."""
    path = folder / "newsmon.db"
    url = f"sqlite:///{path}"
    open_store(url).close()                        # the schema alone
    empty = vacuumed_size(path)
    with open_store(url) as store:
        for number, article in enumerate(articles):
            doc = document(article)
            html = render_article_page(article, variant=number).encode() if with_html else b""
            when = T0 + timedelta(hours=number)
            written = store.record(URL, "bench", CheckRecord(when, "new" if number == 0 else "modified", status=200),
                                   new_version=NewVersion(document=doc, html=html, created_at=when,
                                                          fingerprint=fingerprint(doc.title, doc.text)))
            assert written == number + 1, f"version {number + 1} was not stored ({written})"
    full = vacuumed_size(path)
    with sqlite3.connect(path) as conn:          # pages of each table and index (SQLite's dbstat table)
        tables = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    print(f"{'text + HTML' if with_html else 'text only'}: pages by table after VACUUM: "
          + ", ".join(f"{name} {size / 1024:.0f} kB" for name, size in tables if size > 4096))
    text_stored, text_raw = blob_bytes(path, "text_blob")
    html_stored, html_raw = blob_bytes(path, "html_blob")
    return {"growth": full - empty, "text_stored": text_stored, "text_raw": text_raw,
            "html_stored": html_stored, "html_raw": html_raw}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revisions", type=int, default=100)
    parser.add_argument("--article", type=Path, default=SEED_ARTICLE, help="headline, standfirst, paragraphs")
    args = parser.parse_args()

    articles = revisions(parse_article_text(args.article.read_text(encoding="utf-8")), args.revisions)
    docs = [document(a) for a in articles]
    raw_text = sum(len(f"{d.title}\n\n{d.text}".encode()) for d in docs)
    raw_html = sum(len(render_article_page(a, variant=n).encode()) for n, a in enumerate(articles))
    n = len(articles)
    print(f"{n} versions of {args.article} ({len(docs[0].text.split())} words, {raw_text / n:,.0f} bytes of "
          f"text and {raw_html / n:,.0f} bytes of HTML per version); one figure or one word changed per version")
    with tempfile.TemporaryDirectory(prefix="newsmon-storage-") as tmp:
        (Path(tmp) / "text").mkdir()
        (Path(tmp) / "html").mkdir()
        text_only = store_versions(Path(tmp) / "text", articles, with_html=False)
        both = store_versions(Path(tmp) / "html", articles, with_html=True)

    print()
    print("| store | measure | bytes per version | raw bytes per version | stored / raw |")
    print("|---|---|---|---|---|")
    rows = [
        ("text only", "SQLite file growth (VACUUM)", text_only["growth"], raw_text),
        ("text only", "text blobs", text_only["text_stored"], text_only["text_raw"]),
        ("text + HTML", "SQLite file growth (VACUUM)", both["growth"], raw_text + raw_html),
        ("text + HTML", "text blobs", both["text_stored"], both["text_raw"]),
        ("text + HTML", "HTML blobs", both["html_stored"], both["html_raw"]),
    ]
    for store, measure, stored, raw in rows:
        print(f"| {store} | {measure} | {stored / n:,.0f} | {raw / n:,.0f} | {stored / raw:.1%} |")
    ratio = text_only["growth"] / raw_text
    print(f"\ntext-only file growth / raw text: {ratio:.1%} (target: at most 15%) -> "
          f"{'met' if ratio <= 0.15 else 'NOT met'}")
    print(f"with HTML, file growth / raw text alone: {both['growth'] / raw_text:.1%}")


if __name__ == "__main__":
    main()
