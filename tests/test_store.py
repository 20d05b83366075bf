"""The store on both backends (SQLite and PostgreSQL), and on SQLite also as an existing file is opened (its
plain-SQLite path, see the ``store`` fixture below)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import zstandard
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from monitor.errors import NotFound, StoreError
from monitor.models import Document, Validators
from monitor.store import CheckRecord, NewVersion, RecordItem, Store, open_store
from monitor.store.schema import articles, blobs, checks, meta, source_boilerplate, source_lines, versions
from monitor.store.sqlite_values import read_time, sqlite_time

FIXTURES = Path(__file__).parent / "fixtures"
URL = "https://news.example/world/north-korea-troops"
T0 = datetime(2025, 2, 13, 9, 30, tzinfo=UTC)


def seed_document() -> Document:
    lines = (FIXTURES / "article.txt").read_text(encoding="utf-8").splitlines()
    return Document(title=lines[0], text="\n\n".join(lines[2:11]), byline="By A. Reporter",
                    published="2025-02-13", modified="2025-02-13T10:00:00Z", url=URL)


def page(doc: Document) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in doc.paragraphs)
    return f"<!doctype html><html><head><title>{doc.title}</title></head><body>{body}</body></html>".encode()


def fp(doc: Document) -> str:
    # Stands in for monitor.normalise.fingerprint: the store only compares it.
    return hashlib.sha256(f"{doc.title}\n{doc.text}".encode()).hexdigest()


def check(minutes: int = 0, outcome: str = "new", **kwargs: Any) -> CheckRecord:
    return CheckRecord(checked_at=T0 + timedelta(minutes=minutes), outcome=outcome, **kwargs)


def new_version(doc: Document, minutes: int = 0, html: bytes | None = None) -> NewVersion:
    return NewVersion(document=doc, html=page(doc) if html is None else html, fingerprint=fp(doc),
                      created_at=T0 + timedelta(minutes=minutes))


def revise(doc: Document, n: int) -> Document:
    return Document(title=doc.title, text=doc.text.replace("1,000", f"{1000 + 500 * n:,}", 1),
                    byline=doc.byline, url=doc.url)


@pytest.fixture(params=["sqlite", "sqlite, reopened", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """An open, empty store (conftest's, with one more case): a new SQLite file, whose first open goes all
    through SQLAlchemy; the same file as every later ``newsmon check`` opens it, existing, where states,
    checks and a changed article's reads go through plain SQLite (monitor/store/plain_sqlite.py); PostgreSQL."""
    if request.param == "postgresql":
        url = str(request.getfixturevalue("pg_schema_url"))
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('store')}/snapshots/newsmon.db"
        if request.param == "sqlite, reopened":
            open_store(url).close()
    with open_store(url) as opened:
        assert (opened._plain is not None) == (request.param == "sqlite, reopened")
        yield opened


def count(store: Store, table: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


# -- versions ----------------------------------------------------------------------------------------

def test_version_round_trip(store: Store) -> None:
    doc = seed_document()
    html = page(doc) + "<!-- \u00e9\u00e8 -->".encode("latin-1")  # not UTF-8: raw bytes kept as fetched
    nv = NewVersion(document=doc, html=html, fingerprint=fp(doc), created_at=T0)
    assert store.record(URL, "BBC", check(status=200, final_url=URL + "?amp"), new_version=nv) == 1

    version = store.version(URL, 1)
    assert (version.title, version.text, version.byline) == (doc.title, doc.text, doc.byline)
    assert (version.published, version.modified) == (doc.published, doc.modified)
    assert version.final_url == URL + "?amp"
    assert version.text_sha256 == fp(doc)
    assert version.html_sha256 == hashlib.sha256(html).hexdigest()
    assert version.created_at == T0 and version.created_at.tzinfo is not None
    assert store.raw_html(URL, 1) == html
    assert store.latest_version(URL) == version


def test_created_at_is_returned_in_utc(store: Store) -> None:
    seoul = timezone(timedelta(hours=9))
    doc = seed_document()
    nv = NewVersion(document=doc, html=page(doc), fingerprint=fp(doc), created_at=T0.astimezone(seoul))
    store.record(URL, "BBC", CheckRecord(checked_at=T0.astimezone(seoul), outcome="new"), new_version=nv)
    created = store.version(URL, 1).created_at
    assert created == T0 and created.utcoffset() == timedelta(0)
    assert store.states([URL])[URL].last_checked == T0


def test_naive_datetimes_and_unknown_outcomes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.record(URL, "BBC", CheckRecord(checked_at=datetime(2025, 1, 1), outcome="error"))
    with pytest.raises(ValueError, match="unknown check outcome 'fetched'"):
        store.record(URL, "BBC", check(0, "fetched"))
    assert store.states([URL]) == {}


def test_a_time_outside_the_years_1_to_9999_in_utc_is_refused_and_the_ends_are_kept(store: Store) -> None:
    # Integer microseconds on SQLite could hold it, but no datetime could be read back from them.
    early = datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    with pytest.raises(ValueError, match="outside years 1-9999 in UTC"):
        store.record(URL, "BBC", CheckRecord(checked_at=early, outcome="error"))
    assert store.states([URL]) == {}
    for when in (datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(minutes=-30))), datetime.max.replace(tzinfo=UTC)):
        store.record(URL, "BBC", CheckRecord(checked_at=when, outcome="error"))
        assert store.states([URL])[URL].last_checked == when


def test_sqlite_dates_are_exact_and_refuse_what_could_not_be_read_back() -> None:
    for when in (datetime(1969, 7, 20, 20, 17, 40, 1, tzinfo=UTC), datetime.max.replace(tzinfo=UTC),
                 datetime(2026, 3, 29, 2, 30, 0, 999_999, tzinfo=timezone(timedelta(hours=5, minutes=45)))):
        assert read_time(sqlite_time(when)) == when
    with pytest.raises(OverflowError):
        sqlite_time(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))


def test_a_fingerprint_that_is_not_a_digest_finds_no_version(store: Store) -> None:
    doc = seed_document()
    store.record(URL, "BBC", check(0), new_version=new_version(doc))
    assert store.version_with_fingerprint(URL, fp(doc)) == 1
    assert store.version_with_fingerprint(URL, "not hex") is None
    assert store.version_with_fingerprint(URL, fp(doc)[:62]) is None


def test_versions_are_numbered_1_2_3(store: Store) -> None:
    doc = seed_document()
    numbers = [store.record(URL, "BBC", check(n), new_version=new_version(revise(doc, n), n))
               for n in range(3)]
    assert numbers == [1, 2, 3]
    assert store.latest_version(URL).number == 3  # type: ignore[union-attr]
    assert store.version(URL, 2).text == revise(doc, 1).text
    state = store.states([URL])[URL]
    assert (state.latest_version, state.fingerprint) == (3, fp(revise(doc, 2)))


def test_same_fingerprint_is_not_a_new_version(store: Store) -> None:
    doc = seed_document()
    assert store.record(URL, "BBC", check(0), new_version=new_version(doc, 0)) == 1
    # Same fingerprint, different HTML (an ad changed): the latest number comes back, nothing is added.
    again = new_version(doc, 5, html=page(doc) + b"<!-- ad -->")
    assert store.record(URL, "BBC", check(5, "unchanged"), new_version=again) == 1
    assert [v.number for v in store.history(URL)] == [1]
    assert count(store, versions) == 1 and count(store, blobs) == 2
    assert len(store.checks(URL)) == 2
    assert store.record(URL, "BBC", check(9, "unchanged")) is None


def test_reverting_to_an_older_text_is_a_new_version(store: Store) -> None:
    doc = seed_document()
    for n, d in enumerate([doc, revise(doc, 1), doc]):
        store.record(URL, "BBC", check(n), new_version=new_version(d, n))
    assert [v.number for v in store.history(URL)] == [1, 2, 3]
    assert store.version(URL, 3).text == store.version(URL, 1).text


def test_history_is_oldest_first_with_sizes(store: Store) -> None:
    doc = seed_document()
    short = Document(title="Headline rewritten", text="One paragraph only.")
    store.record(URL, "BBC", check(0), new_version=new_version(doc, 0))
    store.record(URL, "BBC", check(60, "modified"), new_version=new_version(short, 60))
    history = store.history(URL)
    assert [(h.number, h.created_at, h.title, h.size) for h in history] == [
        (1, T0, doc.title, len(doc.text)),
        (2, T0 + timedelta(minutes=60), "Headline rewritten", len("One paragraph only.")),
    ]
    store.record("https://news.example/b", "BBC", check(0, "error", error="timeout"))
    assert store.history("https://news.example/b") == []


def test_not_found_messages(store: Store) -> None:
    unknown = "https://news.example/nowhere"
    for call in (lambda: store.version(unknown, 1), lambda: store.history(unknown),
                 lambda: store.raw_html(unknown, 1), lambda: store.checks(unknown)):
        with pytest.raises(NotFound, match=f"^{unknown} is not in the store$"):
            call()
    assert store.latest_version(unknown) is None

    store.record(URL, "BBC", check(0, "error", error="timeout"))
    with pytest.raises(NotFound, match="it has no versions yet"):
        store.version(URL, 1)
    doc = seed_document()
    for n in range(3):
        store.record(URL, "BBC", check(n + 1), new_version=new_version(revise(doc, n), n))
    with pytest.raises(NotFound) as caught:
        store.version(URL, 7)
    assert str(caught.value) == f"no version 7 of {URL}; it has versions 1-3"
    with pytest.raises(NotFound, match="no version 0 of"):
        store.raw_html(URL, 0)


# -- checks and article state ------------------------------------------------------------------------

def test_checks_are_recorded_newest_first(store: Store) -> None:
    first = check(0, "new", status=200, validators=Validators('"v1"', "Thu, 13 Feb 2025 09:00:00 GMT"),
                  wire_bytes=12_345, body_bytes=54_321, duration=0.25, final_url=URL)
    second = check(15, "unchanged", status=304, validators=Validators(etag='"v1"'), duration=0.05)
    third = check(30, "error", error="connection reset", duration=1.5)
    for record in (first, second, third):
        store.record(URL, "BBC", record)
    assert store.checks(URL) == [third, second, first]
    assert store.checks(URL, limit=1) == [third]


def test_validators_replace_and_persist(store_url: str) -> None:
    with open_store(store_url) as store:
        store.record(URL, "BBC", check(0), validators=Validators(etag='"a"', last_modified="Mon"))
        store.record(URL, "BBC", check(1), validators=Validators(etag='"b"'))
        # None keeps what is stored; Validators() would clear it.
        store.record(URL, "BBC", check(2, "unchanged"))
    with open_store(store_url) as store:
        assert store.states([URL])[URL].validators == Validators(etag='"b"')
        store.record(URL, "BBC", check(3), validators=Validators())
        assert store.states([URL])[URL].validators == Validators()


def test_gone_flag_and_body_hash(store: Store) -> None:
    store.record(URL, "BBC", check(0), body_sha256="a" * 64)
    state = store.states([URL])[URL]
    assert (state.gone, state.body_sha256, state.latest_version, state.fingerprint) == (False, "a" * 64, None,
                                                                                         None)
    store.record(URL, "BBC", check(1, "error", status=404), gone=True)
    assert store.states([URL])[URL].gone is True
    store.record(URL, "BBC", check(2, "error"))   # gone=None leaves the flag alone
    state = store.states([URL])[URL]
    assert state.gone is True and state.body_sha256 == "a" * 64
    store.record(URL, "BBC", check(3, "restored", status=200), gone=False, body_sha256="b" * 64)
    state = store.states([URL])[URL]
    assert (state.gone, state.body_sha256, state.last_checked) == (False, "b" * 64, T0 + timedelta(minutes=3))


def test_pending_fingerprint_is_held_until_a_check_succeeds(store: Store) -> None:
    store.record(URL, "BBC", check(0), new_version=new_version(seed_document()))
    store.record(URL, "BBC", check(1, "error", error="text collapsed"), pending_fingerprint="c" * 64)
    assert store.states([URL])[URL].pending_fingerprint == "c" * 64
    store.record(URL, "BBC", check(2, "error", error="HTTP 503"))      # another failure keeps the hold
    assert store.states([URL])[URL].pending_fingerprint == "c" * 64
    store.record(URL, "BBC", check(3, "unchanged"))                    # any success resolves it
    assert store.states([URL])[URL].pending_fingerprint is None


def test_version_with_fingerprint_finds_the_newest_match(store: Store) -> None:
    doc_a, doc_b = seed_document(), revise(seed_document(), 1)
    for minutes, doc in enumerate((doc_a, doc_b, doc_a)):
        store.record(URL, "BBC", check(minutes, "modified"), new_version=new_version(doc, minutes))
    assert store.version_with_fingerprint(URL, fp(doc_a)) == 3
    assert store.version_with_fingerprint(URL, fp(doc_b)) == 2
    assert store.version_with_fingerprint(URL, "0" * 64) is None
    assert store.version_with_fingerprint("https://unknown.example/", fp(doc_a)) is None


def test_states_for_many_urls(store: Store) -> None:
    urls = [f"https://news.example/a/{i}" for i in range(620)]  # two IN chunks (500 each at most)
    store.record_many([RecordItem(url, "BBC" if i % 2 else "Reuters", check(0, "error", error="x"))
                       for i, url in enumerate(urls)])
    missing = ["https://news.example/missing/1", "https://news.example/missing/2"]
    states = store.states(iter(urls + missing + urls[:3]))
    assert sorted(states) == sorted(urls)
    assert states[urls[1]].source == "BBC" and states[urls[2]].source == "Reuters"
    assert store.states([]) == {}


def test_article_source_follows_the_latest_record(store: Store) -> None:
    store.record(URL, "BBC", check(0))
    store.record("https://news.example/other", "BBC", check(0))
    store.record(URL, "BBC World", check(1))
    assert store.states([URL])[URL].source == "BBC World"
    assert [a.url for a in store.articles("BBC")] == ["https://news.example/other"]
    assert [a.url for a in store.articles()] == sorted([URL, "https://news.example/other"])
    assert store.articles("nobody") == []


# -- blobs -------------------------------------------------------------------------------------------

def test_versions_sharing_html_share_one_blob(store: Store) -> None:
    doc = seed_document()
    html = page(doc)
    store.record(URL, "BBC", check(0), new_version=new_version(doc, 0, html=html))
    # Same HTML, better extraction (a different text): one HTML blob, two text blobs.
    store.record(URL, "BBC", check(1), new_version=new_version(revise(doc, 1), 1, html=html))
    store.record("https://news.example/mirror", "BBC", check(2), new_version=new_version(doc, 2, html=html))
    assert count(store, blobs) == 3
    assert count(store, versions) == 3
    assert store.raw_html("https://news.example/mirror", 1) == html


@pytest.mark.parametrize("damage", ["other content", "not zstd"])
def test_corrupt_blob_is_detected(store: Store, damage: str) -> None:
    doc = seed_document()
    store.record(URL, "BBC", check(0), new_version=new_version(doc))
    key = store.version(URL, 1).html_sha256
    data = zstandard.compress(b"<html>tampered</html>") if damage == "other content" else b"\x00garbage"
    with store.engine.begin() as conn:
        conn.execute(update(blobs).where(blobs.c.sha256 == key).values(data=data))
    with pytest.raises(StoreError, match=f"blob {key} is corrupt"):
        store.raw_html(URL, 1)
    assert store.version(URL, 1).text == doc.text   # the text blob is intact


# -- transactions ------------------------------------------------------------------------------------

def test_record_many_returns_numbers_in_order(store: Store) -> None:
    doc = seed_document()
    result = store.record_many([
        RecordItem(URL, "BBC", check(0), new_version=new_version(doc)),
        RecordItem("https://news.example/b", "BBC", check(0, "error", error="timeout")),
        RecordItem(URL, "BBC", check(1, "modified"), new_version=new_version(revise(doc, 1), 1)),
        RecordItem(URL, "BBC", check(2, "unchanged"), new_version=new_version(revise(doc, 1), 2)),
    ])
    assert result == [1, None, 2, 2]
    assert store.record_many([]) == []


def test_record_many_is_one_transaction(store: Store) -> None:
    doc = seed_document()
    store.record(URL, "BBC", check(0), new_version=new_version(doc))
    batch = [
        RecordItem(URL, "BBC", check(1, "modified"), new_version=new_version(revise(doc, 1), 1),
                   validators=Validators(etag='"new"'), gone=True),
        RecordItem("https://news.example/b", "Reuters", check(1), new_version=new_version(doc, 1)),
        RecordItem("https://news.example/c", "AP", check(1, wire_bytes=-1)),   # violates a CHECK constraint
    ]
    with pytest.raises(StoreError, match="cannot record checks"):
        store.record_many(batch)
    assert [v.number for v in store.history(URL)] == [1]
    state = store.states([URL])[URL]
    assert (state.validators, state.gone, state.latest_version) == (Validators(), False, 1)
    assert store.states(["https://news.example/b", "https://news.example/c"]) == {}
    assert count(store, checks) == 1 and count(store, blobs) == 2
    assert [a.source for a in store.articles()] == ["BBC"]


def test_duplicate_version_number_is_refused(store: Store) -> None:
    doc = seed_document()
    store.record(URL, "BBC", check(0), new_version=new_version(doc))
    # The last line of defence against a crash-and-retry or two workers writing the same number.
    with store.engine.connect() as conn, pytest.raises(IntegrityError, match="(?i)unique"):
        row = dict(conn.execute(select(versions).where(versions.c.number == 1)).mappings().one())
        del row["id"]
        conn.execute(versions.insert().values(row))


# -- lines and boilerplate ---------------------------------------------------------------------------

def line(text: str) -> str:
    # Stands in for monitor.boilerplate.line_key: the store only counts keys.
    return hashlib.sha256(text.encode()).hexdigest()


SIGN_OFF, OTHER = line("Follow our live coverage on Telegram."), line("Only here.")


def article_url(n: int) -> str:
    return f"https://news.example/story/{n}"


def store_article(store: Store, n: int, keys: tuple[str, ...], source: str = "BBC", minutes: int = 0) -> None:
    doc = Document(title=f"Story {n}", text=f"Paragraph of story {n}.")
    store.record(article_url(n), source, check(minutes), new_version=new_version(doc, minutes), line_keys=keys)


def lines(store: Store) -> set[tuple[int, str, int]]:
    with store.engine.connect() as conn:
        return {(row.source_id, row.line_key, row.article_id) for row in conn.execute(select(source_lines))}


def test_line_keys_are_recorded_once_per_article_with_the_version(store: Store) -> None:
    store_article(store, 1, (SIGN_OFF, OTHER, SIGN_OFF))
    assert {(key, article) for _, key, article in lines(store)} == {(SIGN_OFF, 1), (OTHER, 1)}
    # A second version, and a check without one, repeating the lines: still one row per line and article.
    doc = Document(title="Story 1", text="Paragraph of story 1, updated.")
    store.record(article_url(1), "BBC", check(1, "modified"), new_version=new_version(doc, 1),
                 line_keys=(SIGN_OFF,))
    store.record(article_url(1), "BBC", check(2, "unchanged"), line_keys=(SIGN_OFF, OTHER))
    assert len(lines(store)) == 2
    assert store.boilerplate("BBC") == frozenset()     # one article is not a pattern


def test_lines_are_written_in_the_same_transaction(store: Store) -> None:
    batch = [
        RecordItem(article_url(1), "BBC", check(0), new_version=new_version(seed_document()), line_keys=(SIGN_OFF,)),
        RecordItem(article_url(2), "BBC", check(0, wire_bytes=-1), line_keys=(OTHER,)),  # violates a CHECK
    ]
    with pytest.raises(StoreError):
        store.record_many(batch)
    assert lines(store) == set() and count(store, versions) == 0
    with pytest.raises(ValueError, match="not a lowercase sha256"):
        store.record(URL, "BBC", check(0), line_keys=("Follow our live coverage on Telegram.",))
    with pytest.raises(ValueError, match="not a lowercase sha256"):
        store.record(URL, "BBC", check(0), line_keys=(SIGN_OFF.upper(),))
    assert store.states([URL]) == {}


def test_a_line_in_three_articles_and_a_fifth_of_the_source_is_boilerplate(store: Store) -> None:
    assert store.boilerplate("BBC") == frozenset()          # an unknown source has none
    store_article(store, 1, (SIGN_OFF, OTHER))
    store_article(store, 2, (SIGN_OFF,))
    assert store.boilerplate("BBC") == frozenset()          # two articles: could be one story told twice
    store_article(store, 3, (SIGN_OFF,))
    assert store.boilerplate("BBC") == {SIGN_OFF}
    assert store.articles_with_versions("BBC") == 3 and store.articles_with_versions("nobody") == 0
    # Per source: the same line elsewhere teaches nothing about BBC, and BBC's lines nothing about AP.
    for n in (4, 5):
        store_article(store, n, (OTHER,), source="AP")
    assert store.boilerplate("AP") == frozenset()
    assert store.boilerplate("BBC") == {SIGN_OFF}


def test_the_share_counts_articles_with_versions(store: Store) -> None:
    for n in range(15):
        store_article(store, n, (OTHER,) if n < 3 else ())
    # Checked but never stored (errors) do not count: 3 of 15 articles with versions is 20%.
    for n in range(15, 20):
        store.record(article_url(n), "BBC", check(0, "error", error="HTTP 503"), line_keys=())
    assert store.boilerplate("BBC", min_articles=3, min_percent=20) == {OTHER}
    # Learned once, kept: a stricter rule asked later (4 articles) still returns it.
    assert store.boilerplate("BBC", min_articles=4) == {OTHER}


def test_a_learned_line_stays_learned_when_its_share_falls(store: Store) -> None:
    for n in range(3):
        store_article(store, n, (SIGN_OFF,))
    assert store.boilerplate("BBC") == {SIGN_OFF}
    # The site retired the sign-off; thirty new articles later it is in 3 of 33 articles (9%), but the
    # old versions that carry it must keep comparing without it.
    for n in range(3, 33):
        store_article(store, n, (OTHER,) if n < 10 else ())
    assert store.boilerplate("BBC") == {SIGN_OFF, OTHER}    # OTHER: 7 of 33 (21%)
    with store.engine.connect() as conn:
        assert int(conn.execute(select(func.count()).select_from(source_boilerplate)).scalar_one()) == 2
    store_article(store, 40, ())
    assert store.boilerplate("BBC") == {SIGN_OFF, OTHER}


def test_a_threshold_that_is_not_reached_learns_nothing(store: Store) -> None:
    for n in range(16):
        store_article(store, n, (OTHER,) if n < 3 else ())
    assert store.boilerplate("BBC") == frozenset()          # 3 of 16 is below 20%


def test_a_database_from_before_boilerplate_learning_gains_its_tables(store_url: str) -> None:
    with open_store(store_url) as store:
        store_article(store, 1, ())
        with store.engine.begin() as conn:
            conn.execute(text("DROP TABLE source_boilerplate"))
            conn.execute(text("DROP TABLE source_lines"))
    with open_store(store_url) as store:
        for n in (2, 3, 4):
            store_article(store, n, (SIGN_OFF,))
        assert store.boilerplate("BBC") == {SIGN_OFF}       # 3 of 4 articles
        assert [v.number for v in store.history(article_url(1))] == [1]


# Upgrading older databases, with their data, is tests/test_migrate.py.


def test_a_current_database_without_the_base_column_is_refused(store_url: str) -> None:
    open_store(store_url).close()
    drop_blob_base(store_url)
    with pytest.raises(StoreError, match="table blobs lacks columns base"):
        open_store(store_url)


def drop_blob_base(store_url: str) -> None:
    """Take ``base`` out of the blobs table, as a damaged database might lack a column."""
    if store_url.startswith("sqlite"):
        # SQLite cannot drop a column with a foreign key: rebuild the table, on a plain connection (foreign
        # keys off) so that dropping the referenced table is allowed.
        with closing(sqlite3.connect(str(make_url(store_url).database))) as conn:
            conn.executescript("""
                BEGIN;
                CREATE TABLE blobs_old (id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL, size BIGINT NOT NULL,
                    codec VARCHAR(32) NOT NULL, data BLOB NOT NULL);
                INSERT INTO blobs_old SELECT id, sha256, size, codec, data FROM blobs;
                DROP TABLE blobs;
                ALTER TABLE blobs_old RENAME TO blobs;
                COMMIT;""")
        return
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE blobs DROP COLUMN base"))
    engine.dispose()


# -- opening -----------------------------------------------------------------------------------------

def test_reopening_keeps_data(store_url: str) -> None:
    doc = seed_document()
    with open_store(store_url) as store:
        store.record(URL, "BBC", check(0, status=200, validators=Validators(etag='"x"')),
                     new_version=new_version(doc), validators=Validators(etag='"x"'))
    with open_store(store_url) as store:
        assert store.version(URL, 1).text == doc.text
        assert store.states([URL])[URL].validators.etag == '"x"'
        assert store.record(URL, "BBC", check(1), new_version=new_version(revise(doc, 1), 1)) == 2


def test_concurrent_writers_never_clash(store: Store) -> None:
    # Threads share the store's pool: SQLite serialises them with BEGIN IMMEDIATE + busy_timeout,
    # PostgreSQL with SELECT ... FOR UPDATE on the article row. Every number is written exactly once.
    doc = seed_document()

    def work(worker: int) -> list[int | None]:
        return [store.record(URL, "BBC", check(i), new_version=new_version(
            Document(title=doc.title, text=f"{doc.text} {worker}-{i}"), i)) for i in range(5)]

    with ThreadPoolExecutor(4) as pool:
        numbers = [n for result in pool.map(work, range(4)) for n in result]
    assert sorted(numbers) == list(range(1, 21))  # type: ignore[type-var]
    assert [v.number for v in store.history(URL)] == list(range(1, 21))


def test_foreign_tables_are_refused(store_url: str) -> None:
    database = make_url(store_url).database
    if store_url.startswith("sqlite"):
        Path(str(database)).parent.mkdir(parents=True)
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE articles (id INTEGER PRIMARY KEY, body TEXT)"))
    engine.dispose()
    with pytest.raises(StoreError, match="not a newsmon database \\(it has other tables: articles\\)"):
        open_store(store_url)


def test_newer_schema_is_refused(store_url: str) -> None:
    open_store(store_url).close()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(update(meta).where(meta.c.key == "schema_version").values(value="99"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer newsmon"):
        open_store(store_url)


def test_closed_store_says_so(store_url: str) -> None:
    store = open_store(store_url)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.states([URL])


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path}/a/b/newsmon.db") as store, store.engine.connect() as conn:
        settings = [conn.execute(text(f"PRAGMA {name}")).scalar()
                    for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")]
    assert settings == ["wal", 1, 1, 5000]   # synchronous 1 = NORMAL
    assert (tmp_path / "a" / "b" / "newsmon.db").is_file()


def test_not_a_database_file(tmp_path: Path) -> None:
    path = tmp_path / "newsmon.db"
    path.write_text("title,url\nnot,a database\n")
    with pytest.raises(StoreError, match="not a SQLite database") as caught:
        open_store(f"sqlite:///{path}")
    assert str(path) in str(caught.value)
    assert path.read_text() == "title,url\nnot,a database\n"   # left untouched


def test_foreign_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "places.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a newsmon database.*moz_places") as caught:
        open_store(f"sqlite:///{path}")
    assert str(path) in str(caught.value)
    # Checked through a read-only connection: opening it for writing would have switched it to WAL mode.
    assert path.read_bytes() == before and sorted(tmp_path.iterdir()) == [path]


def test_empty_file_is_refused(tmp_path: Path) -> None:
    # newsmon never leaves an empty database file (it creates one whole), so an empty one is not a new store.
    path = tmp_path / "newsmon.db"
    path.touch()
    with pytest.raises(StoreError, match="is an empty file, not a newsmon database"):
        open_store(f"sqlite:///{path}")
    assert path.read_bytes() == b""


@pytest.mark.parametrize("keep", ["one page", "all but 100 bytes"])
def test_truncated_database_is_refused_before_any_write(tmp_path: Path, keep: str) -> None:
    path = tmp_path / "newsmon.db"
    with open_store(f"sqlite:///{path}") as store:
        for n in range(1, 40):
            store_article(store, n, ())
    whole = path.read_bytes()
    cut = whole[:4096] if keep == "one page" else whole[:-100]
    path.write_bytes(cut)
    with pytest.raises(StoreError, match="the database file is damaged") as caught:
        open_store(f"sqlite:///{path}")
    assert str(path) in str(caught.value) and "restore it from a backup" in str(caught.value)
    assert path.read_bytes() == cut


def test_a_new_database_appears_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.store import engine

    def interrupted(conn: Any, where: str) -> None:
        conn.exec_driver_sql("CREATE TABLE articles (id INTEGER PRIMARY KEY)")
        raise StoreError("interrupted while creating the schema")

    path = tmp_path / "snapshots" / "newsmon.db"
    with monkeypatch.context() as patch:
        patch.setattr(engine, "_prepare_schema", interrupted)
        with pytest.raises(StoreError, match="interrupted"):
            open_store(f"sqlite:///{path}")
    assert list(path.parent.iterdir()) == []        # no half-made newsmon.db, no temporary file left
    with open_store(f"sqlite:///{path}") as store:
        store_article(store, 1, ())
    assert sorted(p.name for p in path.parent.iterdir() if not p.name.startswith("newsmon.db-")) == ["newsmon.db"]


def test_a_new_database_on_a_file_system_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.store import engine

    def no_links(source: object, target: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(engine.os, "link", no_links)
    path = tmp_path / "newsmon.db"
    with open_store(f"sqlite:///{path}") as store:
        store_article(store, 1, ())
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("newsmon.db-")] == ["newsmon.db"]


def test_folder_and_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        open_store(f"sqlite:///{tmp_path}")
    with pytest.raises(StoreError, match="unsupported database"):
        open_store("mysql://localhost/news")
    with pytest.raises(StoreError, match="not a database URL"):
        open_store("snapshots/")


def test_unreachable_postgresql_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot open the store"):
        open_store("postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_a_batch_of_plain_checks_is_written_like_one_record_each(store: Store) -> None:
    """record_many writes checks without a version in bulk; the result must be what record() gives."""
    def version(url: str, text: str) -> RecordItem:
        doc = Document(title="T", text=text)
        return RecordItem(url, "wire", CheckRecord(T0, "new", 200, Validators(etag='"v1"')),
                          new_version=NewVersion(doc, b"<html></html>", hashlib.sha256(text.encode()).hexdigest(), T0),
                          validators=Validators(etag='"v1"'))

    store.record_many([version("https://a.example/1", "one"), version("https://a.example/2", "two")])
    later = T0 + timedelta(hours=1)
    failed = CheckRecord(later, "error", 503, error="HTTP 503")
    numbers = store.record_many([
        RecordItem("https://a.example/1", "wire", failed),                                     # bulk, error
        RecordItem("https://a.example/2", "wire", CheckRecord(later, "unchanged", 304),
                   validators=Validators(etag='"v2"')),                                         # bulk
        RecordItem("https://a.example/3", "wire", failed),                                     # unknown: one by one
        RecordItem("https://a.example/1", "wire", failed),                                     # a second failure
        version("https://a.example/4", "four"),
    ])
    assert numbers == [None, None, None, None, 1]
    states = store.states(f"https://a.example/{n}" for n in range(1, 5))
    with store.engine.connect() as conn:
        failures = dict(conn.execute(select(articles.c.url, articles.c.failures)).all())
    assert failures == {"https://a.example/1": 2, "https://a.example/2": 0, "https://a.example/3": 1,
                        "https://a.example/4": 0}
    assert states["https://a.example/1"].validators.etag == '"v1"'        # a failure keeps the validators
    assert states["https://a.example/2"].validators.etag == '"v2"'
    assert states["https://a.example/3"].latest_version is None
    assert states["https://a.example/2"].last_checked == later
    assert [c.outcome for c in store.checks("https://a.example/1")] == ["error", "error", "new"]
    assert [c.outcome for c in store.checks("https://a.example/2")] == ["unchanged", "new"]


def test_opening_waits_for_a_writer_when_the_schema_needs_a_table(tmp_path: Path) -> None:
    """A command started while the daemon writes (status, history) may have to add a table; it waits for
    the writer instead of failing with "database is locked"."""
    import sqlite3 as sqlite
    import threading
    import time as clock

    import monitor.store.scheduling  # noqa: F401  (its tables are part of the schema)

    path = tmp_path / "newsmon.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite.connect(path) as conn:
        conn.execute("DROP TABLE feed_state")                  # as a database from before that table was
    writer = sqlite.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO sources (name) VALUES ('busy')")
    release = threading.Timer(0.5, lambda: writer.execute("COMMIT"))
    release.start()
    began = clock.monotonic()
    # A database at the current revision is opened for the checks' plain reads and writes at once; the full
    # open, which adds missing tables, comes with the first use of the engine.
    with open_store(f"sqlite:///{path}") as store, store.engine.connect() as conn:
        assert clock.monotonic() - began >= 0.4                # it waited for the writer ...
        assert conn.execute(text("SELECT count(*) FROM feed_state")).scalar() == 0   # ... and added the table
    release.join()
    writer.close()


def test_a_source_added_by_a_failed_transaction_is_not_remembered(store: Store,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from monitor.store import plain_sqlite
    from monitor.store.sql_store import SqlStore

    # The second check's write fails, as a full disk would fail it: SqlStore._write's statements on
    # PostgreSQL, plain_sqlite._write's on SQLite (see SqlStore._plain_sql_writes).
    sqlite = store.engine.dialect.name == "sqlite"
    writer: Any = plain_sqlite if sqlite else SqlStore
    real_write = writer._write
    calls = []

    def failing_second(*args: Any) -> int | None:
        calls.append(1)
        if len(calls) == 2:
            raise sqlite3.OperationalError("disk full, say") if sqlite else SQLAlchemyError("disk full, say")
        return real_write(*args)  # type: ignore[no-any-return]

    monkeypatch.setattr(writer, "_write", failing_second)
    item = RecordItem("https://new.example/1", "fresh source", CheckRecord(T0, "error", 500, error="HTTP 500"))
    with pytest.raises(StoreError, match="disk full"):
        store.record_many([item, RecordItem("https://new.example/2", "fresh source", item.check)])
    monkeypatch.setattr(writer, "_write", real_write)
    # The source row was rolled back with the transaction: its id must not be used again.
    store.record("https://new.example/3", "fresh source", CheckRecord(T0, "error", 500, error="HTTP 500"))
    assert [s.url for s in store.articles("fresh source")] == ["https://new.example/3"]
