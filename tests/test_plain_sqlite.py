"""The plain-SQLite path of the store (monitor/store/plain_sqlite.py): the same rows as SQLAlchemy's, opened
only for a database at the current revision, and a cycle of unchanged articles without SQLAlchemy."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from sites import Site

from monitor.demo.site import load_seed, render_article_page
from monitor.errors import StoreError
from monitor.models import Document, Validators
from monitor.normalise import fingerprint
from monitor.report.timeline import article_key
from monitor.store import CheckRecord, NewVersion, RecordItem, Store, open_store
from monitor.store.blobs import MAX_DEPTH
from monitor.store.plain_sqlite import PlainSqlite, database_path
from monitor.store.records import IN_CHUNK
from monitor.store.reporting import article_histories, article_history, boilerplate_keys, changed_article_stamps
from monitor.store.revision import TABLE_COLUMNS
from monitor.store.schema import metadata

T0 = datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=UTC)
URLS = [f"https://news.example/{n}" for n in range(4)]


def sqlalchemy_store(url: str) -> Store:
    """A store that does everything through SQLAlchemy's statements, even on SQLite: what the plain path is
    held to."""
    store = Store(url)
    store._sql._plain_sql_writes = False
    return store


def seeded(path: Path) -> str:
    """A store at ``path`` with one version of each of URLS (two sources); its URL."""
    url = f"sqlite:///{path}"
    with open_store(url) as store:
        for n, article in enumerate(URLS):
            doc = Document(title=f"Story {n}", text=f"Paragraph {n}. " * 20)
            store.record(article, f"source-{n % 2}", CheckRecord(T0, "new", 200),
                         new_version=NewVersion(doc, b"<p>x</p>", fingerprint(doc.title, doc.text), T0),
                         validators=Validators(etag=f'"e{n}"'), body_sha256="a" * 64)
    return url


def rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with closing(sqlite3.connect(path)) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                for table in ("sources", "articles", "checks")}


def test_the_columns_known_without_sqlalchemy_are_the_models() -> None:
    schema_tables = {"newsmon_meta", "sources", "articles", "blobs", "versions", "checks", "source_lines",
                     "source_boilerplate"}
    assert {name: set(metadata.tables[name].columns.keys()) for name in schema_tables} == TABLE_COLUMNS


def test_only_plain_sqlite_file_urls_are_taken() -> None:
    assert database_path("sqlite:////srv/news/newsmon.db") == Path("/srv/news/newsmon.db")
    assert database_path("sqlite:///snapshots/newsmon.db") == Path("snapshots/newsmon.db")
    for other in ("sqlite:///:memory:", "sqlite://", "sqlite:///a.db?mode=ro", "sqlite:///caf%C3%A9.db",
                  "postgresql+psycopg://root@127.0.0.1/test"):
        assert database_path(other) is None


def test_a_database_not_at_the_current_revision_is_left_to_the_full_open(tmp_path: Path) -> None:
    path = tmp_path / "newsmon.db"
    assert PlainSqlite.open(f"sqlite:///{path}") is None            # not there: the full open creates it
    seeded(path)
    opened = PlainSqlite.open(f"sqlite:///{path}")
    assert opened is not None
    opened.close()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE newsmon_alembic_version SET version_num = '0001'")
    assert PlainSqlite.open(f"sqlite:///{path}") is None            # older: the full open upgrades it
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE newsmon_alembic_version SET version_num = '0002'")
        conn.execute("ALTER TABLE versions DROP COLUMN byline")
    assert PlainSqlite.open(f"sqlite:///{path}") is None            # damaged: the full open refuses it


unchanged = st.builds(
    lambda n, outcome, etag, body, gone, pending, minutes: (n, outcome, etag, body, gone, pending, minutes),
    st.integers(0, len(URLS) - 1), st.sampled_from(["unchanged", "error", "removed", "restored"]),
    st.none() | st.sampled_from(['"e1"', '"w/ x"', ""]), st.none() | st.sampled_from(["b" * 64, "c" * 64]),
    st.none() | st.booleans(), st.none() | st.just("d" * 64), st.integers(0, 10_000))


@settings(max_examples=25, deadline=None)
@given(batches=st.lists(st.lists(unchanged, min_size=1, max_size=6), min_size=1, max_size=4))
def test_plain_checks_write_the_rows_sqlalchemy_writes(tmp_path_factory: pytest.TempPathFactory,
                                                      batches: list[list[tuple]]) -> None:
    folder = tmp_path_factory.mktemp("plain")
    plain_path, sql_path = folder / "plain.db", folder / "sql.db"
    seeded(plain_path)
    seeded(sql_path)
    with open_store(f"sqlite:///{plain_path}") as plain, sqlalchemy_store(f"sqlite:///{sql_path}") as sql:
        assert plain._plain is not None and sql._plain is None
        for batch in batches:
            items = []
            for n, outcome, etag, body, gone, pending, minutes in batch:
                error = "HTTP 503" if outcome == "error" else None
                check = CheckRecord(T0 + timedelta(minutes=minutes, microseconds=7), outcome, 200,
                                    Validators(etag=etag), wire_bytes=n, duration=0.25, error=error,
                                    final_url=None if n % 2 else URLS[n] + "?amp")
                items.append(RecordItem(URLS[n], f"source-{n % 2}", check,
                                        validators=None if etag is None else Validators(etag=etag),
                                        body_sha256=body, gone=gone, pending_fingerprint=pending))
            assert plain.record_many(items) == sql.record_many(items) == [None] * len(items)
        assert plain.states(URLS) == sql.states(URLS)
    assert rows(plain_path) == rows(sql_path)


def all_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, blobs included."""
    with closing(sqlite3.connect(path)) as conn:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in tables}


def revised(n: int, revision: int) -> Document:
    """Article ``n`` at ``revision``: one figure changed each time, so each version is a small delta."""
    return Document(title=f"Story {n}", text=f"Paragraph {n}. " * 20 + f"Figure {revision * 37}.",
                    byline="A. Reporter" if revision % 2 else None, published="2026-11-27",
                    url=f"https://news.example/{n}")


def version_item(n: int, revision: int, minutes: int, lines: tuple[str, ...] = ()) -> RecordItem:
    doc = revised(n, revision)
    when = T0 + timedelta(minutes=minutes)
    html = f"<html><body><p>{doc.text}</p><aside>{revision}</aside></body></html>".encode()
    return RecordItem(URLS[n], f"source-{n % 2}", CheckRecord(when, "modified", 200, final_url=URLS[n] + "?v"),
                      new_version=NewVersion(doc, html, fingerprint(doc.title, doc.text), when),
                      validators=Validators(etag=f'"r{revision}"'), body_sha256="e" * 64, gone=False, line_keys=lines)


def test_a_changed_articles_reads_are_sqlalchemys(tmp_path: Path) -> None:
    """latest_version, version_with_fingerprint and the bases of the next version, on chains of every
    shape: one version, a few deltas, past a keyframe (MAX_DEPTH), a flip back to an older text."""
    url = seeded(tmp_path / "newsmon.db")
    revisions = {0: [], 1: [1, 2], 2: list(range(1, MAX_DEPTH + 3)), 3: [1, 0, 2]}
    with Store(url) as store:
        for n, numbers in revisions.items():
            for minutes, revision in enumerate(numbers, 1):
                store.record_many([version_item(n, revision, minutes)])
    unknown = "https://news.example/unknown"
    with open_store(url) as plain, sqlalchemy_store(url) as sql:
        assert plain._plain is not None and sql._plain is None
        for article in [*URLS, unknown]:
            assert plain.latest_version(article) == sql.latest_version(article)
            for revision in [0, 1, 2, 3]:
                doc = revised(URLS.index(article) if article in URLS else 0, revision)
                found = fingerprint(doc.title, doc.text)
                assert plain.version_with_fingerprint(article, found) == sql.version_with_fingerprint(article, found)
        bases = plain._plain.bases([*URLS, unknown])
        assert bases == sql._sql._bases([*URLS, unknown])
        assert set(bases) == set(URLS) and bases[URLS[2]][0].depth == 1     # type: ignore[union-attr]


def test_a_damaged_latest_version_reads_the_same_on_both_paths(tmp_path: Path) -> None:
    path = tmp_path / "newsmon.db"
    url = seeded(path)
    with Store(url) as store:
        store.record_many([version_item(1, 1, 1)])        # a delta on the seeded text, damaged below
    with closing(sqlite3.connect(path)) as conn, conn:
        first_id, first = conn.execute(
            "SELECT b.id, hex(b.sha256) FROM versions AS v JOIN blobs AS b ON b.id = v.text_blob WHERE v.number = 1 "
            "AND v.article_id = (SELECT id FROM articles WHERE url = ?)", (URLS[1],)).fetchone()
        first = first.lower()
        conn.execute("UPDATE blobs SET data = ? WHERE id = ?", (b"\x00garbage", first_id))
    with open_store(url) as plain, sqlalchemy_store(url) as sql:
        errors = []
        for store in (plain, sql):
            with pytest.raises(StoreError, match=f"blob {first} is corrupt") as raised:
                store.latest_version(URLS[1])
            errors.append(str(raised.value))
        assert errors[0] == errors[1]
        bases = plain._plain.bases([URLS[1]])                    # type: ignore[union-attr]
        assert bases == sql._sql._bases([URLS[1]])
        assert bases[URLS[1]][0] is None and bases[URLS[1]][1] is not None   # the next text: standalone


def test_checks_with_versions_write_the_rows_sqlalchemy_writes(tmp_path: Path) -> None:
    """The same checks through a store opened as ``newsmon check`` opens it (plain SQLite) and through
    SQLAlchemy alone: every table, blobs included, the same."""
    line = "f" * 64
    batches = [
        [version_item(0, 1, 1, (line,)), version_item(1, 1, 1)],
        [RecordItem(URLS[2], "source-0", CheckRecord(T0 + timedelta(minutes=2), "unchanged", 304)),
         version_item(0, 2, 2, (line, "0" * 64))],
        [version_item(0, 2, 3)],                                    # a retry of the same text: no new version
        [version_item(3, 5, 4), version_item(0, 1, 4)],             # a flip back to revision 1
        [RecordItem("https://news.example/new", "source-9", CheckRecord(T0, "new", 200),
                    new_version=version_item(1, 7, 5).new_version)],
    ]
    plain_path, sql_path = tmp_path / "plain.db", tmp_path / "sql.db"
    numbers = {}
    for path, opened in ((plain_path, open_store), (sql_path, sqlalchemy_store)):
        with opened(seeded(path)) as store:
            assert (store._plain is not None) == (path == plain_path)
            numbers[path] = [store.record_many(batch) for batch in batches]
    assert numbers[plain_path] == numbers[sql_path] == [[2, 2], [None, 3], [3], [2, 4], [1]]
    assert all_rows(plain_path) == all_rows(sql_path)


def test_a_check_of_an_article_not_stored_yet_takes_the_full_path(tmp_path: Path) -> None:
    path = tmp_path / "newsmon.db"
    with open_store(seeded(path)) as store:
        new = RecordItem("https://news.example/new", "a new source", CheckRecord(T0, "error", 503, error="HTTP 503"))
        known = RecordItem(URLS[0], "source-0", CheckRecord(T0, "unchanged", 304))
        assert store.record_many([known, new]) == [None, None]
        states = store.states([URLS[0], new.url])
        assert states[new.url].source == "a new source" and states[URLS[0]].last_checked == T0
    assert len(rows(path)["checks"]) == len(URLS) + 2


def test_a_full_disk_is_reported_as_such(tmp_path: Path) -> None:
    """SQLite rolls a transaction back itself when the disk is full: the error says so, not that the
    ROLLBACK after it found no transaction."""
    path = tmp_path / "newsmon.db"
    with open_store(seeded(path)) as store:
        assert store._plain is not None
        connection = store._plain._connection
        connection.execute(f"PRAGMA max_page_count = {connection.execute('PRAGMA page_count').fetchone()[0]}")
        checks = [RecordItem(URLS[n % len(URLS)], f"source-{n % 2}", CheckRecord(T0, "error", error="x" * 2000))
                  for n in range(100)]
        with pytest.raises(StoreError, match="^cannot record checks: database or disk is full$"):
            store.record_many(checks)
    assert len(rows(path)["checks"]) == len(URLS)


# One check for the test below: (article, a new version's revision or None, lines, outcome, minutes).
checks_with_versions = st.tuples(
    st.integers(0, len(URLS)), st.none() | st.integers(0, 3),
    st.lists(st.sampled_from(["1" * 64, "2" * 64]), max_size=3), st.sampled_from(["modified", "unchanged", "error"]),
    st.integers(0, 10_000))


@settings(max_examples=25, deadline=None)
@given(batches=st.lists(st.lists(checks_with_versions, min_size=1, max_size=5), min_size=1, max_size=4))
def test_any_checks_write_the_rows_sqlalchemy_writes(tmp_path_factory: pytest.TempPathFactory,
                                                     batches: list[list[tuple]]) -> None:
    """Versions (new ones, retries of the latest text, flips back), lines, plain checks, and articles not
    stored yet (article len(URLS)), mixed in batches: the plain path's rows and numbers are SQLAlchemy's."""
    folder = tmp_path_factory.mktemp("versions")
    plain_path, engine_path, sql_path = folder / "plain.db", folder / "engine.db", folder / "sql.db"
    urls = [*URLS, f"https://news.example/{len(URLS)}"]
    numbers = {}
    # The plain connection's own transactions; the engine's, with the rows written by write_checks on its
    # connection (a SQLite store opened without the plain connection: new, just upgraded); SQLAlchemy's.
    for path, opened in ((plain_path, open_store), (engine_path, Store), (sql_path, sqlalchemy_store)):
        with opened(seeded(path)) as store:
            assert (store._plain is not None) == (path == plain_path)
            numbers[path] = []
            for batch in batches:
                items = []
                for n, revision, lines, outcome, minutes in batch:
                    when = T0 + timedelta(minutes=minutes)
                    if revision is None:
                        error = "HTTP 503" if outcome == "error" else None
                        items.append(RecordItem(urls[n], f"source-{n % 3}", CheckRecord(when, outcome, error=error),
                                                line_keys=tuple(lines)))
                    else:
                        doc = revised(n, revision)
                        items.append(RecordItem(
                            urls[n], f"source-{n % 3}", CheckRecord(when, "modified", 200),
                            new_version=NewVersion(doc, f"<p>{revision}</p>".encode(), fingerprint(doc.title, doc.text),
                                                   when), line_keys=tuple(lines), body_sha256="b" * 64))
                numbers[path].append(store.record_many(items))
    assert numbers[plain_path] == numbers[engine_path] == numbers[sql_path]
    assert all_rows(plain_path) == all_rows(engine_path) == all_rows(sql_path)


LINES = [f"{n}" * 64 for n in range(1, 5)]
SOURCES = ["source-0", "source-1", "a source never seen"]

# One step of the test below: record a check of an article (with a version or not, with lines), or learn a
# source's boilerplate with some thresholds.
learning_steps = st.one_of(
    st.tuples(st.just("record"), st.integers(0, len(URLS)), st.none() | st.integers(0, 3),
              st.lists(st.sampled_from(LINES), max_size=4)),
    st.tuples(st.just("learn"), st.sampled_from(SOURCES), st.integers(1, 4), st.integers(0, 100)))


@settings(max_examples=25, deadline=None)
@given(steps=st.lists(learning_steps, min_size=1, max_size=12))
def test_boilerplate_learning_is_sqlalchemys(tmp_path_factory: pytest.TempPathFactory, steps: list[tuple]) -> None:
    """What ``boilerplate`` learns and returns, and ``articles_with_versions``, on lines recorded for any
    articles (new ones among them), with or without versions: the same on the plain path as through
    SQLAlchemy, and the same rows written."""
    folder = tmp_path_factory.mktemp("boilerplate")
    plain_path, sql_path = folder / "plain.db", folder / "sql.db"
    urls = [*URLS, f"https://news.example/{len(URLS)}"]
    results = {}
    for path, opened in ((plain_path, open_store), (sql_path, sqlalchemy_store)):
        with opened(seeded(path)) as store:
            assert (store._plain is not None) == (path == plain_path)
            results[path] = []
            for minutes, step in enumerate(steps):
                if step[0] == "record":
                    _, n, revision, lines = step
                    if revision is None:
                        item = RecordItem(urls[n], f"source-{n % 2}", CheckRecord(T0, "unchanged", 304),
                                          line_keys=tuple(lines))
                    else:
                        item = replace(version_item(n % len(URLS), revision, minutes, tuple(lines)), url=urls[n])
                    store.record_many([item])
                else:
                    _, source, min_articles, min_percent = step
                    results[path].append((store.boilerplate(source, min_articles=min_articles,
                                                            min_percent=min_percent),
                                          store.articles_with_versions(source)))
    assert results[plain_path] == results[sql_path]
    assert all_rows(plain_path) == all_rows(sql_path)


def test_a_line_in_exactly_its_share_of_articles_is_learned(tmp_path: Path) -> None:
    """The share is compared in integers on both paths: 3 of 15 articles is 20%, which 0.2 * 15 in floating
    point (3.0000000000000004) would miss."""
    url = f"sqlite:///{tmp_path / 'newsmon.db'}"
    with open_store(url) as store:
        for n in range(15):
            store.record_many([replace(version_item(0, 1, n, (LINES[0],) if n < 3 else ()),
                                       url=f"https://news.example/share/{n}", source="share")])
    with open_store(url) as plain, sqlalchemy_store(url) as sql:
        assert plain._plain is not None
        assert plain.articles_with_versions("share") == sql.articles_with_versions("share") == 15
        assert plain.boilerplate("share", min_articles=3, min_percent=21) == frozenset()
        assert sql.boilerplate("share", min_articles=3, min_percent=21) == frozenset()
        assert plain.boilerplate("share", min_articles=3, min_percent=20) == frozenset({LINES[0]})
        assert sql.boilerplate("share", min_articles=3, min_percent=20) == frozenset({LINES[0]})


# One check of the test below: (article, its outcome, the revision of its text, minutes after the last check).
# "modified" and "restored" store a version of that revision, "returned" is a restored check of the text
# already stored.
history_checks = st.tuples(st.integers(0, len(URLS) - 1),
                           st.sampled_from(["modified", "removed", "restored", "returned", "unchanged"]),
                           st.integers(0, 3), st.integers(0, 30))


def recorded(store: Store, checks: list[tuple[int, str, int, int]]) -> None:
    """Record ``checks`` (see history_checks), each version with the line of its revision; then learn every
    source's boilerplate, so that some is stored."""
    elapsed = 0
    for n, outcome, revision, minutes in checks:
        elapsed += minutes
        when = T0 + timedelta(minutes=elapsed)
        if outcome in ("modified", "restored"):
            item = version_item(n, revision, elapsed, (LINES[revision],))
            item = replace(item, check=replace(item.check, outcome=outcome))
        else:
            item = RecordItem(URLS[n], f"source-{n % 2}", CheckRecord(when, outcome.replace("returned", "restored"),
                                                                       404 if outcome == "removed" else 200),
                              gone=outcome == "removed")
        store.record_many([item])
    for source in SOURCES:
        store.boilerplate(source, min_articles=1, min_percent=0)


def assert_same_reads(plain: Store, sql: Store, urls: list[str], since: datetime | None) -> None:
    assert plain.plain_sqlite is not None and sql.plain_sqlite is None
    for wanted in (None, urls):
        assert changed_article_stamps(plain, since, wanted) == changed_article_stamps(sql, since, wanted)
    assert list(article_histories(plain, urls).items()) == list(article_histories(sql, urls).items())
    for url in urls:
        assert article_history(plain, url) == article_history(sql, url)
    for source in SOURCES:
        assert boilerplate_keys(plain, source) == boilerplate_keys(sql, source)


@settings(max_examples=25, deadline=None)
@given(checks=st.lists(history_checks, max_size=20), since=st.none() | st.integers(0, 300),
       picked=st.lists(st.integers(0, len(URLS)), max_size=6))
def test_the_reports_reads_are_sqlalchemys(tmp_path_factory: pytest.TempPathFactory,
                                           checks: list[tuple[int, str, int, int]], since: int | None,
                                           picked: list[int]) -> None:
    """What a checking process reads to draw its changed articles' pages (monitor.report.site): stamps,
    histories (versions with their texts, the outcomes that wrote them, take-downs and returns) and the
    learned boilerplate, read in plain SQL as through SQLAlchemy, order included."""
    url = seeded(tmp_path_factory.mktemp("history") / "newsmon.db")
    with open_store(url) as store:
        recorded(store, checks)
    urls = [URLS[i] if i < len(URLS) else "https://news.example/unknown" for i in picked]
    with open_store(url) as plain, Store(url) as sql:
        assert_same_reads(plain, sql, urls, None if since is None else T0 + timedelta(minutes=since))


def test_long_histories_and_many_urls_read_the_same(tmp_path: Path) -> None:
    """Chains of deltas past a keyframe, a flip back to an older text (one blob for two versions), and more
    URLs than one IN list holds (IN_CHUNK: read in chunks, then ordered again)."""
    url = seeded(tmp_path / "newsmon.db")
    checks = [(2, "modified", revision % 3 + 1, 5) for revision in range(MAX_DEPTH + 3)]
    checks += [(1, "modified", 1, 1), (1, "removed", 0, 1), (1, "restored", 0, 1), (3, "returned", 0, 1)]
    with open_store(url) as store:
        recorded(store, checks)
    many = [*reversed(URLS), *(f"https://news.example/unknown/{n}" for n in range(IN_CHUNK))]
    with open_store(url) as plain, Store(url) as sql:
        assert_same_reads(plain, sql, many, None)
        assert_same_reads(plain, sql, many, T0 + timedelta(minutes=20))
        assert_same_reads(plain, sql, many, T0 + timedelta(minutes=58))    # article 1 restored exactly then
        assert [stamp.url for stamp in changed_article_stamps(plain, urls=many)] == URLS[1:]
        history = article_history(plain, URLS[2])
        assert history is not None and len(history.versions) == MAX_DEPTH + 4
        assert history.versions[1].text == history.versions[4].text     # revision 1, then again after 2 and 3


def test_a_closed_store_refuses_the_plain_calls_too(tmp_path: Path) -> None:
    store = open_store(seeded(tmp_path / "newsmon.db"))
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.states(URLS)


def test_an_unchanged_cycle_never_imports_sqlalchemy_pydantic_zstandard_or_rich(site: Site, httpserver: HTTPServer,
                                                                             tmp_path: Path) -> None:
    """The point of the plain path: ``newsmon check`` of unchanged articles starts without SQLAlchemy (0.15 s),
    nor zstandard (8 ms: no blob is read or written)."""
    for n in range(3):
        site.publish(f"/story-{n}", render_article_page(load_seed()))
    config = tmp_path / "config.yaml"
    config.write_text(f"storage: {tmp_path / 'snapshots'}/\nreports: {tmp_path / 'reports'}/\nsources:\n"
                      "  - name: local\n    urls:\n"
                      + "".join(f"      - {httpserver.url_for(f'/story-{n}')}\n" for n in range(3)))
    script = ("import sys\nfrom monitor.cli import main\ntry:\n    main(sys.argv[1:])\nfinally:\n"
              "    print('sqlalchemy imported:', 'sqlalchemy' in sys.modules, file=sys.stderr)\n"
              "    print('pydantic imported:', 'pydantic' in sys.modules, file=sys.stderr)\n"
              "    print('zstandard imported:', 'zstandard' in sys.modules, file=sys.stderr)\n"
              "    print('rich imported:', 'rich' in sys.modules, file=sys.stderr)\n")

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", script, "check", "-c", str(config), "--format", "json"],
                              capture_output=True, text=True, timeout=120)

    first, second = check(), check()
    assert first.stdout.count('"event": "new"') == 3 and "sqlalchemy imported: True" in first.stderr
    assert second.stdout.count('"event": "unchanged"') == 3, second.stderr
    assert "sqlalchemy imported: False" in second.stderr and "zstandard imported: False" in second.stderr
    # Nor rich (20 ms): JSON Lines are written without it (monitor.console).
    assert "rich imported: False" in first.stderr and "rich imported: False" in second.stderr
    # Nor pydantic, at any run: the configuration is read without it, and typer is held below 0.29, which
    # imports it to parse a command line (pyproject.toml).
    assert "pydantic imported: False" in first.stderr and "pydantic imported: False" in second.stderr


def report_page(n: int, casualties: int, extra: tuple[str, ...] = ()) -> str:
    """Report ``n``: the seed article, its own in every paragraph (shared paragraphs would be learned as
    boilerplate), with a casualty figure and ``extra`` paragraphs."""
    seed = load_seed()
    paragraphs = [f"Report {n}: {p}" for p in seed.paragraphs] + list(extra)
    paragraphs[0] += f" At least {casualties:,} were killed, officials said."
    return render_article_page(replace(seed, title=f"{seed.title} ({n})", paragraphs=tuple(paragraphs)))


def three_reports(site: Site, httpserver: HTTPServer, tmp_path: Path, page) -> Path:
    """Reports 0-2 published at /story-N (1,000 killed), and a config watching them; its path."""
    for n in range(3):
        site.publish(f"/story-{n}", page(n, 1000))
    config = tmp_path / "config.yaml"
    config.write_text(f"storage: {tmp_path / 'snapshots'}/\nreports: {tmp_path / 'reports'}/\nsources:\n"
                      "  - name: local\n    urls:\n"
                      + "".join(f"      - {httpserver.url_for(f'/story-{n}')}\n" for n in range(3)))
    return config


def test_a_changed_article_is_checked_and_drawn_without_sqlalchemy(site: Site, httpserver: HTTPServer,
                                                                   tmp_path: Path) -> None:
    """What each checking process of a split ``newsmon check`` does (monitor.check_processes): check its
    share, then draw the report pages of the articles it changed (cli._draw_changed_pages). On a SQLite
    store, with a change to extract, diff, store and draw, and boilerplate to learn, SQLAlchemy is never
    imported."""
    # Each article its own text, and one line they all share: boilerplate, learned at the second check.
    def page(n: int, casualties: int) -> str:
        return report_page(n, casualties, extra=("Subscribe to The Daily Ledger today.",))

    config = three_reports(site, httpserver, tmp_path, page)
    script = ("import json, sys\nfrom monitor.check import check_articles\n"
              "from monitor.cli import _draw_changed_pages\nfrom monitor.config import load_config\n"
              "from monitor.store import open_store\n"
              "config = load_config(sys.argv[1])\n"
              "with open_store(config.storage_url()) as store:\n"
              "    events = list(check_articles(config, store, config.articles(), extract_workers=1))\n"
              "    _draw_changed_pages(store, config, events)\n"
              "print(json.dumps(sorted(e.event for e in events)))\n"
              "print('sqlalchemy imported:', 'sqlalchemy' in sys.modules)\n")

    def check() -> list[str]:
        run = subprocess.run([sys.executable, "-c", script, str(config)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        events, imported = run.stdout.splitlines()
        return [*json.loads(events), imported]

    assert check() == ["new", "new", "new", "sqlalchemy imported: True"]        # a new store: created by SQLAlchemy
    site.publish("/story-1", page(1, 1500))
    assert check() == ["modified", "unchanged", "unchanged", "sqlalchemy imported: False"]
    database = tmp_path / "snapshots" / "newsmon.db"
    with closing(sqlite3.connect(database)) as conn:
        assert conn.execute("SELECT count(*) FROM source_boilerplate").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM versions").fetchone() == (4,)
    key = article_key(httpserver.url_for("/story-1"))
    drawn = (tmp_path / "reports" / "articles" / f"{key}.html").read_text(encoding="utf-8")
    assert "<del>1,000</del><ins>1,500</ins>" in drawn
    assert (tmp_path / "reports" / "articles" / f"{key}-v2.html").exists()


def test_a_changed_cycle_refreshes_the_site_without_sqlalchemy_until_there_are_stories(
        site: Site, httpserver: HTTPServer, tmp_path: Path) -> None:
    """The whole ``newsmon check`` of a changed article, site refresh included: on a SQLite store that never
    grouped stories, the stories page is drawn empty without the story modules (SQLAlchemy); once articles
    are grouped, they are read and listed."""
    from monitor.report.stories_page import story_file
    from monitor.stories import list_stories, refresh_stories

    config = three_reports(site, httpserver, tmp_path, report_page)
    script = ("import sys\nfrom monitor.cli import main\ntry:\n    main(sys.argv[1:])\nfinally:\n"
              "    print('sqlalchemy imported:', 'sqlalchemy' in sys.modules, file=sys.stderr)\n")

    def check() -> str:
        run = subprocess.run([sys.executable, "-c", script, "check", "-c", str(config), "--format", "json"],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        return run.stderr.strip().splitlines()[-1]

    stories_page = tmp_path / "reports" / "stories.html"
    assert check() == "sqlalchemy imported: True"                  # a new store: created by SQLAlchemy
    site.publish("/story-1", report_page(1, 1500))
    assert check() == "sqlalchemy imported: False"
    assert "1,500" in (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    assert stories_page.exists() and "/story-" not in stories_page.read_text(encoding="utf-8")

    with open_store(f"sqlite:///{tmp_path / 'snapshots' / 'newsmon.db'}") as store:
        refresh_stories(store)
        grouped = list_stories(store)
    assert grouped and len(grouped[0].articles) >= 2, "the three reports are one story"
    site.publish("/story-2", report_page(2, 1700))
    assert check() == "sqlalchemy imported: True"                  # the stories are read, and listed
    assert story_file(grouped[0].id) in stories_page.read_text(encoding="utf-8")
