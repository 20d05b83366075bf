"""Schema migrations (Alembic), on SQLite and PostgreSQL: older databases are upgraded by ``newsmon migrate``
and when opened, with their data; the revisions produce exactly the models; a new database is stamped at
the head; an unknown revision is refused and left as it was."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sites import cli
from sqlalchemy import MetaData, String, Table, create_engine, insert, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from test_store import URL, check, fp, line, new_version, page, revise, seed_document
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import parse_config
from monitor.errors import StoreError
from monitor.models import Document, Validators
from monitor.store import CheckRecord, NewVersion, RecordItem, Store, migrations, open_store, outbox, scheduling
from monitor.store.blob_codec import MAX_DEPTH
from monitor.store.engine import migrate
from monitor.store.revision import LEGACY_REVISIONS, SCHEMA_REVISION, SCHEMA_VERSION, VERSION_TABLE
from monitor.store.schema import Sha256, UTCDateTime, blobs, meta, versions

# The columns revision 0003 converts, found in the models by their types: sha256 digests (hex text before,
# 32 bytes after), dates (on SQLite: text before, integer microseconds after) and blob references (the
# referred blob's sha256 before, its id after).
HASH_COLUMNS = [(t.name, c.name) for t in migrations.metadata.sorted_tables for c in t.columns
                if isinstance(c.type, Sha256)]
DATE_COLUMNS = [(t.name, c.name) for t in migrations.metadata.sorted_tables for c in t.columns
                if isinstance(c.type, UTCDateTime)]
REFERENCE_COLUMNS = [("blobs", "base"), ("versions", "text_blob"), ("versions", "html_blob")]


# -- databases at older revisions --------------------------------------------------------------------------

def old_store(url: str, source_url: str, revision: str) -> None:
    """Make ``url`` a database at ``revision`` (0001 or 0002), built by the revisions up to it alone, holding
    every row of the store at ``source_url`` (this newsmon's) as that revision stored it.

    Rows are read through the models, whose types give hex strings, aware datetimes and blob ids, and
    written through the tables as the revision built them (reflected: VARCHAR(64), DATETIME or timestamptz),
    with blobs keyed and referred to by their sha256; so hashes are hex text, and dates on SQLite
    SQLAlchemy's naive UTC text, as newsmon wrote them before revision 0003."""
    if url.startswith("sqlite"):
        Path(str(make_url(url).database)).parent.mkdir(parents=True, exist_ok=True)
    source, engine = create_engine(source_url), create_engine(url)
    try:
        with source.connect() as read, engine.begin() as write:
            migrations.upgrade(write, revision)
            keys = dict(read.execute(select(blobs.c.id, blobs.c.sha256)).all())    # blob id -> sha256
            for table in migrations.metadata.sorted_tables:
                if table is meta:                   # the revision's own schema_version
                    continue
                old = Table(table.name, MetaData(), autoload_with=write)
                rows = [dict(row._mapping) for row in read.execute(select(table).order_by(*table.primary_key))]
                for row in rows:
                    if table is blobs:
                        del row["id"]
                        row["base"] = keys.get(row["base"])
                        if "base" not in old.c:     # revision 0001: standalone blobs only
                            assert row.pop("base") is None
                    if table is versions:
                        row["text_blob"], row["html_blob"] = keys[row["text_blob"]], keys[row["html_blob"]]
                if not rows:
                    continue
                write.execute(insert(old), rows)
                if write.dialect.name == "postgresql" and "id" in old.c:
                    # Ids were copied, not drawn: the sequence moves past them for the rows written later.
                    write.execute(text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :last)"),
                                  {"table": table.name, "last": max(row["id"] for row in rows)})
    finally:
        source.dispose()
        engine.dispose()


def schema_1_store(url: str, scratch: Path) -> Document:
    """Make ``url`` a database at revision 0001 holding one article with one version (and its check and
    blobs) that this newsmon wrote."""
    doc = seed_document()
    with open_store(f"sqlite:///{scratch}/source.db") as source:
        source.record(URL, "BBC", check(0), new_version=new_version(doc))
    old_store(url, f"sqlite:///{scratch}/source.db", "0001")
    return doc


# Dates with microseconds, one before 1970 and the last there is (where a float of seconds since 1970 would
# lose microseconds): each must come through the conversion exactly.
T1 = datetime(2025, 2, 13, 9, 30, 0, 123457, tzinfo=UTC)
MOON = datetime(1969, 7, 20, 20, 17, 40, 1, tzinfo=UTC)
LAST = datetime.max.replace(tzinfo=UTC)
SOURCES = ("BBC", "AP")


def article(n: int, v: int) -> Document:
    """Version ``v`` of article ``n``: one figure changed from the version before (so its blobs are deltas),
    and another different in each article (so that the story they make has a discrepancy)."""
    seed = seed_document()
    changed = seed.text.replace("1,000", f"{1000 + 500 * v:,}", 1).replace("11,000", f"{11_000 + 1000 * n:,}")
    return Document(title=f"{seed.title} ({n})", text=changed,
                    byline=seed.byline, published=seed.published, modified=f"version {v}",
                    url=f"https://news.example/story/{n}")


def fill_store(store: Store, articles: int, versions: int) -> list[str]:
    """Store ``articles`` articles of ``versions`` versions each, and what checks, the scheduler, stories and
    notifications write around them, through their public functions; returns the articles' URLs."""
    from monitor.figure_ledger import tracked_quantities
    from monitor.notify import notify_discrepancies
    from monitor.stories import refresh_stories

    urls = [article(n, 0).url or "" for n in range(articles)]
    source = {url: SOURCES[n % 2] for n, url in enumerate(urls)}
    sign_off = line("Follow our live coverage on Telegram.")
    for v in range(versions):
        at = T1 + timedelta(hours=v, microseconds=7 * v)
        items = []
        for n, url in enumerate(urls):
            doc, when = article(n, v), at + timedelta(seconds=n)
            html = page(doc)
            validators = Validators(etag=f'"{n}-{v}"', last_modified="Thu, 13 Feb 2025 09:30:00 GMT")
            items.append(RecordItem(
                url, source[url],
                CheckRecord(when, "new" if v == 0 else "modified", status=200, validators=validators,
                            wire_bytes=len(html) // 3, body_bytes=len(html), duration=0.25 + n / 1000,
                            final_url=f"{url}?amp"),
                new_version=NewVersion(doc, html, fp(doc), when), validators=validators,
                body_sha256=line(html.decode()), line_keys=(sign_off, line(f"Only in story {n}."))))
        store.record_many(items)
        store.record_many([RecordItem(url, source[url], CheckRecord(at + timedelta(minutes=30), "unchanged",
                                                                    status=304)) for url in urls])
    # Odd articles end on a failed check holding a collapsed text; the first is gone.
    last = T1 + timedelta(days=30, microseconds=999_999)
    store.record_many([RecordItem(url, source[url], CheckRecord(last, "error", status=200, error="text collapsed"),
                                  pending_fingerprint=line(f"collapsed {n}"))
                       for n, url in enumerate(urls) if n % 2])
    store.record(urls[0], source[urls[0]], CheckRecord(last, "removed", status=404), gone=True)
    for name in SOURCES:
        assert sign_off in store.boilerplate(name, min_articles=1, min_percent=1)

    now = T1 + timedelta(days=31, microseconds=42)
    scheduling.add_articles(store, [("https://news.example/found/1", "BBC", MOON),
                                    ("https://news.example/found/2", "AP", None)], now=now, discovered=True)
    scheduling.save_plans(store, [scheduling.Plan(url, now + timedelta(minutes=n, microseconds=n), n)
                                  for n, url in enumerate(urls)])
    scheduling.postpone(store, urls[-1:], LAST)
    scheduling.record_feed(store, "https://news.example/feed.xml", "BBC", now=now,
                           validators=Validators(etag='"feed"'), found=2)
    scheduling.record_feed(store, "https://news.example/broken.xml", "AP", now=now, error="HTTP 500")
    refresh_stories(store, now=now)
    config = parse_config("sources: [{name: BBC}, {name: AP}]\nnotify:\n  - url: tgram://token/chat\n")
    sent = notify_discrepancies(store, config, tracked_quantities(store), send=lambda *_: True, clock=lambda: now)
    assert sent.sent >= 1
    outbox.enqueue(store, [("tgram", outbox.dedup_key("tgram://token/chat", urls[0], 2, "modified"),
                            {"title": "a change"})], now=now)
    [failing] = outbox.pending(store)
    outbox.mark_failed(store, failing.id, error="refused", retry_at=now + timedelta(minutes=1, microseconds=1))
    return urls


def table_rows(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of the models, read through them; blobs named by their sha256 (their ids
    are each database's own)."""
    keys = dict(conn.execute(select(blobs.c.id, blobs.c.sha256)).all())
    found = {}
    for table in migrations.metadata.sorted_tables:
        rows = [dict(row._mapping) for row in conn.execute(select(table).order_by(*table.primary_key))]
        for row in rows:
            if table is blobs:
                row["id"], row["base"] = keys[row["id"]], keys.get(row["base"])
            if table is versions:
                row["text_blob"], row["html_blob"] = keys[row["text_blob"]], keys[row["html_blob"]]
        found[table.name] = sorted(rows, key=lambda row: row["id"]) if table is blobs else rows
    return found


def contents(url: str, urls: list[str]) -> dict[str, Any]:
    """What the store at ``url`` reads back: each article's state, versions (text, title, fingerprint,
    dates, ...), HTML and checks through the Store, and every row of every table."""
    with open_store(url) as store:
        found: dict[str, Any] = {"states": store.states(urls)}
        for each in urls:
            history = store.history(each)
            found[each] = {"history": history, "versions": [store.version(each, v.number) for v in history],
                           "html": [store.raw_html(each, v.number) for v in history],
                           "checks": store.checks(each, limit=1000)}
        with store.engine.connect() as conn:
            found["rows"] = table_rows(conn)
    return found


def stored_formats(url: str) -> dict[str, set[str]]:
    """How each hash, date and blob reference column stores its values, as the database tells: SQLite's
    typeof (and length of a hash), PostgreSQL's type (and octet_length of a hash)."""
    engine = create_engine(url)
    kind, size = (("typeof({})", "length({})") if engine.dialect.name == "sqlite"
                  else ("pg_typeof({})::text", "octet_length({})"))
    found = {}
    try:
        with engine.connect() as conn:
            for table, column in HASH_COLUMNS + DATE_COLUMNS + REFERENCE_COLUMNS:
                described = kind.format(column)
                if (table, column) in HASH_COLUMNS:
                    described += " || ' ' || " + size.format(column)
                found[f"{table}.{column}"] = set(conn.execute(text(
                    f"SELECT DISTINCT {described} FROM {table} WHERE {column} IS NOT NULL")).scalars())
    finally:
        engine.dispose()
    return found


def formats(hashes: str, dates: str, references: str) -> dict[str, set[str]]:
    """``stored_formats`` as it is when every column holds values, all stored one way."""
    return ({f"{t}.{c}": {hashes} for t, c in HASH_COLUMNS} | {f"{t}.{c}": {dates} for t, c in DATE_COLUMNS}
            | {f"{t}.{c}": {references} for t, c in REFERENCE_COLUMNS})


def database(url: str) -> dict[str, Any]:
    """What tells a database's schema: its revision, schema_version, tables and their columns."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            tables = set(inspector.get_table_names())
            return {
                "revision": conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
                if VERSION_TABLE in tables else None,
                "schema_version": conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar(),
                "columns": {name: [c["name"] for c in inspector.get_columns(name)] for name in sorted(tables)},
            }
    finally:
        engine.dispose()


def set_revision(url: str, revision: str | None) -> None:
    """Write ``revision`` into the version table, or drop the table (None: a database from before Alembic)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        if revision is None:
            conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        else:
            conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = :revision"), {"revision": revision})
    engine.dispose()


def differences(url: str) -> list[Any]:
    """Alembic's comparison of the database with the models (every table of every module)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
            return list(compare_metadata(context, migrations.metadata))
    finally:
        engine.dispose()


def write_config(folder: Path, url: str) -> str:
    path = folder / "config.yaml"
    path.write_text(f'storage: "{url}"\nsources: []\n', encoding="utf-8")
    return str(path)


def run_failing(*args: str) -> str:
    """``newsmon ARGS`` that fails on the store (exit status 3): its stderr."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 3, result.output
    return result.stderr


# -- the scripts ---------------------------------------------------------------------------------------------

def test_the_schema_revision_is_the_head_of_the_numbered_scripts() -> None:
    # Revisions are numbered in order (the store tells older from newer by the number alone), one line of
    # history without branches.
    script = ScriptDirectory.from_config(migrations.config())
    chain = list(reversed(list(script.walk_revisions())))
    numbers = [r.revision for r in chain]
    assert numbers == [f"{n:04d}" for n in range(1, len(chain) + 1)]
    assert [r.down_revision for r in chain] == [None, *numbers[:-1]]
    assert SCHEMA_REVISION == migrations.head() == numbers[-1]
    assert set(LEGACY_REVISIONS.values()) <= set(numbers)


def test_the_revisions_build_exactly_the_models(store_url: str, tmp_path: Path) -> None:
    # The test that catches a forgotten revision: models changed without one differ from what the
    # revisions build. It does see what the later revisions change: new columns (0002's blobs.base, 0003's
    # blobs.id) and column types (0003's hashes).
    schema_1_store(store_url, tmp_path)
    missing = differences(store_url)
    assert {("blobs", "base"), ("blobs", "id")} <= {(d[2], d[3].name) for d in missing if d[0] == "add_column"}
    assert ("versions", "fingerprint") in {(d[0][2], d[0][3]) for d in missing if isinstance(d, list)
                                           and d[0][0] == "modify_type"}
    migrate(store_url)
    assert differences(store_url) == []


def test_a_new_database_matches_the_models_and_is_stamped_at_the_head(store_url: str, tmp_path: Path) -> None:
    assert migrate(store_url).revision is None
    assert differences(store_url) == []
    found = database(store_url)
    assert (found["revision"], found["schema_version"]) == (SCHEMA_REVISION, str(SCHEMA_VERSION))
    config = write_config(tmp_path, store_url)
    assert f"at {SCHEMA_REVISION}, this newsmon's revision is {SCHEMA_REVISION}" in cli("migrate", "-c", config,
                                                                                          "--check")
    assert f": already at {SCHEMA_REVISION}\n" in cli("migrate", "-c", config)


# -- upgrading ---------------------------------------------------------------------------------------------

def test_newsmon_migrate_upgrades_a_schema_1_database(store_url: str, tmp_path: Path) -> None:
    doc = schema_1_store(store_url, tmp_path)
    config = write_config(tmp_path, store_url)
    assert f"at 0001, this newsmon's revision is {SCHEMA_REVISION}" in cli("migrate", "-c", config, "--check", code=1)
    assert database(store_url)["revision"] == "0001"               # --check changed nothing
    assert f": upgraded 0001 -> {SCHEMA_REVISION}\n" in cli("migrate", "-c", config)
    found = database(store_url)
    assert (found["revision"], found["schema_version"]) == (SCHEMA_REVISION, str(SCHEMA_VERSION))
    assert "base" in found["columns"]["blobs"]
    assert f"at {SCHEMA_REVISION}" in cli("migrate", "-c", config, "--check")
    with open_store(store_url) as store:
        assert store.version(URL, 1).text == doc.text
        assert store.record(URL, "BBC", check(1), new_version=new_version(revise(doc, 1), 1)) == 2
        assert store.version(URL, 2).text == revise(doc, 1).text
        with store.engine.connect() as conn:      # a delta on the blob of version 1: blobs.base is in use
            assert conn.execute(select(blobs.c.codec).where(
                blobs.c.sha256 == store.version(URL, 2).html_sha256)).scalar() == "zstd-delta"


def test_opening_a_schema_1_database_upgrades_it(store_url: str, tmp_path: Path) -> None:
    doc = schema_1_store(store_url, tmp_path)
    with open_store(store_url) as store:
        assert store.version(URL, 1).text == doc.text
        assert [v.number for v in store.history(URL)] == [1]
        assert store.record(URL, "BBC", check(1), new_version=new_version(revise(doc, 1), 1)) == 2
    found = database(store_url)
    assert (found["revision"], found["schema_version"]) == (SCHEMA_REVISION, str(SCHEMA_VERSION))
    assert "base" in found["columns"]["blobs"]


@pytest.mark.parametrize("how", ["newsmon migrate", "open"])
def test_revision_0003_converts_every_row_of_a_schema_2_database(store_url: str, tmp_path: Path, how: str) -> None:
    # A store of revision 0002 with delta chains, checks, pending fingerprints, lines, schedules, feeds,
    # stories, the figure ledger and notifications; after the upgrade, everything reads back as before, and
    # is stored in the compact layout.
    source_url = f"sqlite:///{tmp_path}/source.db"
    with open_store(source_url) as source:    # each article's text and page: a keyframe, a full chain, a keyframe
        urls = fill_store(source, articles=3, versions=MAX_DEPTH + 2)
    expected = contents(source_url, urls)
    old_store(store_url, source_url, "0002")
    found = database(store_url)
    assert (found["revision"], found["schema_version"]) == ("0002", "2")
    sqlite = store_url.startswith("sqlite")
    if sqlite:
        assert stored_formats(store_url) == formats("text 64", "text", "text")
    else:
        assert stored_formats(store_url) == formats("character varying 64", "timestamp with time zone",
                                                    "character varying")
    engine = create_engine(store_url)
    with engine.connect() as conn:
        deltas = conn.execute(text("SELECT count(*) FROM blobs WHERE codec = 'zstd-delta' AND base IS NOT NULL"))
        assert deltas.scalar() == 3 * 2 * MAX_DEPTH
    engine.dispose()

    if how == "newsmon migrate":
        assert f": upgraded 0002 -> {SCHEMA_REVISION}\n" in cli("migrate", "-c", write_config(tmp_path, store_url))
    # Read twice: an open that upgrades reads through SQLAlchemy, a later open of a SQLite file through plain
    # SQLite (monitor/store/plain_sqlite.py).
    assert contents(store_url, urls) == expected
    assert contents(store_url, urls) == expected
    found = database(store_url)
    assert (found["revision"], found["schema_version"]) == (SCHEMA_REVISION, "3")
    if sqlite:
        assert stored_formats(store_url) == formats("blob 32", "integer", "integer")
        with closing(sqlite3.connect(str(make_url(store_url).database))) as db:
            assert db.execute("PRAGMA foreign_key_check").fetchall() == []
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    else:
        assert stored_formats(store_url) == formats("bytea 32", "timestamp with time zone", "integer")
    assert differences(store_url) == []

    # The store goes on: a new version is a delta on a converted blob, new rows get new ids.
    with open_store(store_url) as store:
        last = MAX_DEPTH + 2
        doc = article(1, last)
        assert store.record(urls[1], "AP", CheckRecord(T1 + timedelta(days=40), "modified"),
                            new_version=NewVersion(doc, page(doc), fp(doc), T1 + timedelta(days=40))) == last + 1
        assert store.version(urls[1], last + 1).text == doc.text
        assert store.history(urls[1])[:-1] == expected[urls[1]]["history"]
        with store.engine.connect() as conn:
            assert conn.execute(select(blobs.c.codec).where(
                blobs.c.sha256 == store.version(urls[1], last + 1).html_sha256)).scalar() == "zstd-delta"


@pytest.mark.parametrize(("column", "value", "refused"), [
    ("checked_at", "2026-13-45 25:00:00.000000", "'2026-13-45 25:00:00.000000', which is not a date"),
    ("etag", None, None),
])
def test_a_value_revision_0003_cannot_convert_is_named_and_the_database_left_as_it_was(
        tmp_path: Path, column: str, value: str | None, refused: str | None) -> None:
    # A damaged SQLite file: SQLite itself would only say "user-defined function raised exception".
    source_url, url = f"sqlite:///{tmp_path}/source.db", f"sqlite:///{tmp_path}/old.db"
    with open_store(source_url) as source:
        source.record(URL, "BBC", check(0), new_version=new_version(seed_document()))
    old_store(url, source_url, "0002")
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(f"UPDATE checks SET {column} = ?", (value,))
        db.execute("UPDATE articles SET fingerprint = 'not hex' WHERE ? IS NULL", (value,))
    before = dump(path)
    refused = refused or "'not hex', which is not a sha256 hex digest"
    table = "checks" if value is not None else "articles"
    message = run_failing("migrate", "-c", write_config(tmp_path, url))
    assert f"cannot upgrade from revision 0002 to {SCHEMA_REVISION}: table {table} holds {refused}" in message
    assert str(path) in message and "left as it was" in message
    assert dump(path) == before         # (opening it turned on WAL mode, which changes no row)


def test_revision_0003_leaves_out_the_tables_a_database_does_not_have_yet(store_url: str, tmp_path: Path) -> None:
    # A database written before the scheduler, the outbox, notifications and stories existed: the upgrade
    # converts what is there, and the store then creates the rest in the new layout.
    optional = ["figure_occurrences", "ledger_versions", "story_members", "stories", "notified_discrepancies",
                "notify_outbox", "article_schedule", "feed_state"]
    source_url = f"sqlite:///{tmp_path}/source.db"
    with open_store(source_url) as source:
        urls = fill_store(source, articles=2, versions=3)
    old_store(store_url, source_url, "0002")
    engine = create_engine(store_url)
    with engine.begin() as conn:
        for table in optional:
            conn.execute(text(f"DROP TABLE {table}"))
    engine.dispose()
    with open_store(store_url) as store:
        assert set(store.states(urls)) == set(urls)
        assert store.version(urls[1], 3).text == article(1, 2).text
        later = T1 + timedelta(days=50)
        scheduling.add_articles(store, [("https://news.example/found/3", "BBC", MOON)], now=later, discovered=True)
        outbox.enqueue(store, [("tgram", outbox.dedup_key("tgram://t/c", urls[0], 3, "modified"),
                                 {"title": "a change"})], now=later)
        assert [m.payload for m in outbox.pending(store)] == [{"title": "a change"}]
    assert differences(store_url) == []
    assert database(store_url)["revision"] == SCHEMA_REVISION


@pytest.mark.parametrize("bad", ["not hex", "ab" * 31])
def test_a_hash_revision_0003_cannot_convert_is_named_on_either_database(
        store_url: str, tmp_path: Path, bad: str) -> None:
    # PostgreSQL's decode() would take 62 hex characters for 31 bytes, and name no table for the rest.
    source_url = f"sqlite:///{tmp_path}/source.db"
    with open_store(source_url) as source:
        source.record(URL, "BBC", check(0), new_version=new_version(seed_document()))
    old_store(store_url, source_url, "0002")
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE articles SET fingerprint = :bad"), {"bad": bad})
    engine.dispose()
    message = run_failing("migrate", "-c", write_config(tmp_path, store_url))
    assert f"table articles holds {bad!r}, which is not a sha256 hex digest" in message
    assert "left as it was" in message
    assert database(store_url)["revision"] == "0002"


def dump(path: Path) -> list[str]:
    """A SQLite file's schema and rows, as SQL."""
    with closing(sqlite3.connect(path)) as db:
        return list(db.iterdump())


def test_autogenerate_writes_our_types_as_the_types_they_store() -> None:
    # A drafted revision must keep the DDL of its time: UTCDateTime as BIGINT on SQLite and timestamptz on
    # PostgreSQL, Sha256 as 32-byte binary.
    from sqlalchemy.dialects import postgresql, sqlite

    ours = (("date", UTCDateTime), ("hash", Sha256))
    written = {name: migrations.render_item("type", kind(), None) for name, kind in ours}
    made = {name: eval(source, {"sa": sa}) for name, source in written.items()}  # noqa: S307 (our own output)
    assert made["date"].compile(dialect=sqlite.dialect()) == "BIGINT"
    assert made["date"].compile(dialect=postgresql.dialect()) == "TIMESTAMP WITH TIME ZONE"
    assert made["hash"].compile(dialect=postgresql.dialect()) == "BYTEA" and made["hash"].length == 32


def test_a_schema_2_database_from_before_alembic_is_upgraded_from_0002(store_url: str, tmp_path: Path) -> None:
    # newsmon before Alembic left schema_version 2 and no version table: the database is taken for 0002.
    doc = seed_document()
    with open_store(f"sqlite:///{tmp_path}/source.db") as source:
        source.record(URL, "BBC", check(0), new_version=new_version(doc))
        source.record(URL, "BBC", check(1), new_version=new_version(revise(doc, 1), 1))
    old_store(store_url, f"sqlite:///{tmp_path}/source.db", "0002")
    set_revision(store_url, None)
    before = database(store_url)
    config = write_config(tmp_path, store_url)
    assert f"at 0002, this newsmon's revision is {SCHEMA_REVISION}" in cli("migrate", "-c", config, "--check",
                                                                           code=1)
    assert database(store_url) == before
    assert f": upgraded 0002 -> {SCHEMA_REVISION}\n" in cli("migrate", "-c", config)
    after = database(store_url)
    assert (after["revision"], after["schema_version"]) == (SCHEMA_REVISION, str(SCHEMA_VERSION))
    assert "id" in after["columns"]["blobs"]
    with open_store(store_url) as store:
        assert [store.version(URL, n).text for n in (1, 2)] == [doc.text, revise(doc, 1).text]


def test_a_revision_may_copy_a_table_that_others_point_at_on_sqlite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What a later revision changing a column of blobs does on SQLite (batch mode): copy the table, drop it,
    # rename the copy, while versions point at it. The upgrade runs with foreign keys off, then checks them.
    url = f"sqlite:///{tmp_path}/newsmon.db"
    doc = schema_1_store(url, tmp_path)
    upgrade = migrations.upgrade

    def upgrade_and_copy_blobs(conn: Connection, revision: str = "head") -> None:
        upgrade(conn, revision)
        with Operations(MigrationContext.configure(conn)).batch_alter_table("blobs", recreate="always") as batch:
            batch.alter_column("codec", type_=String(40))

    monkeypatch.setattr(migrations, "upgrade", upgrade_and_copy_blobs)
    with open_store(url) as store:
        assert store.version(URL, 1).text == doc.text
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    with closing(sqlite3.connect(tmp_path / "newsmon.db")) as db:
        assert "codec VARCHAR(40)" in db.execute("SELECT sql FROM sqlite_master WHERE name = 'blobs'").fetchone()[0]


# -- refusals --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("revision", "reason"), [
    ("0099", f"written by a newer newsmon (schema revision 0099, this one reads up to {SCHEMA_REVISION}); "
             "upgrade newsmon"),
    ("f00dcafe", "unknown schema revision 'f00dcafe' in newsmon_alembic_version"),
])
def test_an_unknown_revision_is_refused_and_left_untouched(
        store_url: str, tmp_path: Path, revision: str, reason: str) -> None:
    open_store(store_url).close()
    set_revision(store_url, revision)
    before = database(store_url)
    sqlite_file = Path(str(make_url(store_url).database)) if store_url.startswith("sqlite") else None
    file_bytes = sqlite_file.read_bytes() if sqlite_file else None
    with pytest.raises(StoreError, match="newer newsmon|unknown schema revision") as caught:
        open_store(store_url)
    assert reason in str(caught.value)
    where = str(sqlite_file) if sqlite_file else store_url.split("@")[-1]
    assert where in str(caught.value)
    config = write_config(tmp_path, store_url)
    assert reason in run_failing("migrate", "-c", config)
    assert reason in run_failing("migrate", "-c", config, "--check")
    assert database(store_url) == before
    if sqlite_file:
        assert sqlite_file.read_bytes() == file_bytes


def test_check_on_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "snapshots" / "newsmon.db"
    config = write_config(tmp_path, f"sqlite:///{path}")
    assert f"{path}: no newsmon database yet, this newsmon's revision is {SCHEMA_REVISION}" in cli(
        "migrate", "-c", config, "--check", code=1)
    assert not path.parent.exists()
    assert f"{path}: created at {SCHEMA_REVISION}\n" in cli("migrate", "-c", config)
    assert database(f"sqlite:///{path}")["revision"] == SCHEMA_REVISION


def test_opening_a_store_at_the_head_does_not_import_alembic(tmp_path: Path) -> None:
    # Start-up time of `newsmon check`: Alembic is imported only to upgrade a database, and the command
    # `migrate` brings no store into the CLI's own imports.
    url = f"sqlite:///{tmp_path}/newsmon.db"
    program = ("import sys, monitor.cli; print('sqlalchemy' in sys.modules); from monitor.store import open_store; "
               f"open_store({url!r}).close(); open_store({url!r}).close(); print('alembic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
