"""What more compact schemas would store for 100 small revisions: the measurement that chose schema 3.

newsmon's store of schema 2 (benchmarks/storage_size.py) grew by 35% of the raw text per version of the seed
article, though its text blobs were 6.3%: the rows around each version cost more than its text (64-character
hex hashes for blob keys, delta bases and fingerprints, dates as text, a blob's key stored again in its
index). Schema 3 (revision 0003) is the third layout below with chains of 16, and storage_size.py measures
newsmon's own store at the 13.1% this script predicts for it.

This script writes the same 100 versions (the same revisions as storage_size.py) into SQLite files laid out
in three ways (``LAYOUTS``; none of them is newsmon's own file, though the first has schema 2's column types), and
prints the file growth per version as a share of the raw text, for delta chains of 8 and 16 and with or
without the title and final URL stored only when they differ from the previous version's:

  schema 2's types              64-character hex hashes as keys and references, dates and outcomes as text
  binary hashes, integer dates  32-byte hashes, still the blobs' keys and references
  and integer blob references   blobs get an integer id (their hash a unique column) that versions and delta
                                bases refer to

Text blobs are zstd deltas against the previous version (level 6, a raw-content dictionary) as newsmon
makes them, a whole blob at level 10 every ``depth`` versions; the HTML is one shared empty blob (the "text
only" store of storage_size.py).

    python benchmarks/storage_compact_schema.py
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import tempfile
from pathlib import Path

import zstandard

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import storage_size  # noqa: E402

from monitor.demo.site import parse_article_text  # noqa: E402

# Three layouts of the same tables: schema 2's column types; binary hashes and integer dates with blobs still
# keyed and referred to by their hash; and blobs with an integer id that versions and delta bases refer to.
LAYOUTS = ("schema 2's types", "binary hashes, integer dates", "and integer blob references")


def vacuumed_size(conn: sqlite3.Connection, path: Path) -> int:
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


class Layout:
    """How one layout declares and writes its keys, blob references, dates and outcomes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.text_types = name == LAYOUTS[0]
        self.integer_references = name == LAYOUTS[2]

    def schema(self) -> str:
        if self.text_types:
            hash_, date, code = "VARCHAR(64)", "DATETIME", "VARCHAR(16)"
        else:
            hash_, date, code = "BLOB", "INTEGER", "INTEGER"
        if self.integer_references:
            key, reference = f"id INTEGER PRIMARY KEY, sha256 {hash_} NOT NULL UNIQUE", "INTEGER"
        else:
            key, reference = f"sha256 {hash_} PRIMARY KEY", hash_
        return f"""
CREATE TABLE blobs ({key}, size INTEGER NOT NULL, codec {code} NOT NULL, data BLOB NOT NULL, base {reference});
CREATE TABLE versions (id INTEGER PRIMARY KEY, article_id INTEGER NOT NULL, number INTEGER NOT NULL,
    created_at {date} NOT NULL, title TEXT, byline TEXT, published TEXT, modified TEXT, final_url TEXT,
    fingerprint {hash_} NOT NULL, text_blob {reference} NOT NULL, html_blob {reference} NOT NULL,
    size INTEGER NOT NULL, UNIQUE (article_id, number));
CREATE TABLE checks (id INTEGER PRIMARY KEY, article_id INTEGER NOT NULL, checked_at {date} NOT NULL,
    outcome {code} NOT NULL, status INTEGER, etag TEXT, last_modified TEXT, wire_bytes INTEGER,
    body_bytes INTEGER, duration REAL, error TEXT, final_url TEXT, version INTEGER);
CREATE INDEX ix_checks_article_checked_at ON checks (article_id, checked_at);
"""

    def key(self, raw: bytes) -> str | bytes:
        digest = hashlib.sha256(raw)
        return digest.hexdigest() if self.text_types else digest.digest()

    def time(self, hour: int) -> str | int:
        if self.text_types:            # as newsmon writes it on SQLite: ISO text with microseconds
            return f"2026-11-{1 + hour // 24:02d} {hour % 24:02d}:00:00.000000"
        return 1_796_000_000 + hour * 3600

    def outcome(self) -> str | int:
        return "modified" if self.text_types else 3


def growth(layout: Layout, texts: list[tuple[str, bytes]], depth: int, only_changes: bool) -> int:
    """Bytes the file grows by with every version written (after VACUUM), against the empty schema."""
    with tempfile.TemporaryDirectory(prefix="newsmon-compact-") as tmp:
        path = Path(tmp) / "compact.db"
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(layout.schema())
        empty_key = layout.key(b"")
        codec_whole, codec_delta = ("zstd", "zstd-delta") if layout.text_types else (0, 1)
        if layout.integer_references:
            conn.execute("INSERT INTO blobs VALUES (1, ?, 0, 0, x'', NULL)", (empty_key,))
        else:
            conn.execute("INSERT INTO blobs VALUES (?, 0, ?, x'', NULL)", (empty_key, codec_whole))
        conn.commit()
        empty = vacuumed_size(conn, path)
        previous: tuple[bytes, object] | None = None
        chain, last_title = 0, None
        for number, (title, raw) in enumerate(texts, start=1):
            if previous is not None and chain < depth:
                dictionary = zstandard.ZstdCompressionDict(previous[0], dict_type=zstandard.DICT_TYPE_RAWCONTENT)
                data = zstandard.ZstdCompressor(level=6, dict_data=dictionary).compress(raw)
                base, codec, chain = previous[1], codec_delta, chain + 1
            else:
                data, base, codec, chain = zstandard.ZstdCompressor(level=10).compress(raw), None, codec_whole, 0
            key = layout.key(raw)
            if layout.integer_references:
                insert = "INSERT INTO blobs (sha256, size, codec, data, base) VALUES (?, ?, ?, ?, ?)"
                blob: object = conn.execute(insert, (key, len(raw), codec, data, base)).lastrowid
                html: object = 1
            else:
                conn.execute("INSERT INTO blobs VALUES (?, ?, ?, ?, ?)", (key, len(raw), codec, data, base))
                blob, html = key, empty_key
            at = layout.time(number)
            conn.execute("INSERT INTO versions (article_id, number, created_at, title, final_url, fingerprint, "
                         "text_blob, html_blob, size) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (number, at, None if only_changes and title == last_title else title,
                          None if only_changes else storage_size.URL, key, blob, html, len(raw)))
            conn.execute("INSERT INTO checks (article_id, checked_at, outcome, status, wire_bytes, body_bytes, "
                         "duration, version) VALUES (1, ?, ?, 200, 0, 0, 0.0, ?)", (at, layout.outcome(), number))
            conn.commit()
            previous, last_title = (raw, blob), title
        full = vacuumed_size(conn, path)
        conn.close()
    return full - empty


def main() -> None:
    base = parse_article_text(storage_size.SEED_ARTICLE.read_text(encoding="utf-8"))
    docs = [storage_size.document(article) for article in storage_size.revisions(base, 100)]
    texts = [(d.title, f"{d.title}\n\n{d.text}".encode()) for d in docs]
    raw = sum(len(text) for _, text in texts)
    print(f"{len(texts)} versions of {storage_size.SEED_ARTICLE}, {raw / len(texts):,.0f} bytes of text each\n")
    print("| layout | delta chain | title and final URL | file growth per version | share of the raw text |")
    print("|---|---|---|---|---|")
    for name in LAYOUTS:
        for depth in (8, 16):
            for only_changes in (False, True):
                grown = growth(Layout(name), texts, depth, only_changes)
                print(f"| {name} | {depth} | {'only when they differ' if only_changes else 'every version'} | "
                      f"{grown / len(texts):,.0f} B | {grown / raw:.1%} |")


if __name__ == "__main__":
    main()
