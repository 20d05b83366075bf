"""Crash safety (issue #6): ``newsmon check`` killed at any moment, a full disk, a damaged database file.

The checks run as real processes (``python -m monitor check``) against a news site served on loopback,
and the database is audited afterwards with SQL queries and a decompression of its own, not through
the Store.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import select as io_select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import zstandard
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

from monitor.check import check_articles
from monitor.cli import app
from monitor.config import load_config
from monitor.demo.site import ArticleText, render_article_page
from monitor.models import Document
from monitor.normalise import fingerprint
from monitor.store import CheckRecord, NewVersion, open_store
from monitor.store.blobs import MAX_DEPTH
from monitor.store.schema import articles, blobs, checks, versions

ROOT = Path(__file__).parent.parent
WORDS = ("minister", "council", "harbour", "inquiry", "budget", "storm", "court", "rail", "school", "river",
         "report", "vote", "museum", "hospital", "strike", "market", "bridge", "festival", "police", "trial")


# -- a news site on loopback whose every article changes with each generation ---------------------------

def article_page(number: int, generation: int) -> bytes:
    """Article ``number`` as published in ``generation``: each generation rewrites its last paragraph.

    Each article's words are its own (seeded by its number), so no line is shared across articles and
    learned as boilerplate, which would hide a change from the check.
    """
    rng = random.Random(number)
    paragraphs = [" ".join(rng.choice(WORDS) for _ in range(30)) + "." for _ in range(4)]
    paragraphs.append(f"Update {generation} of story {number}: {generation * 7 + number} people were "
                      f"evacuated from the {WORDS[(number + generation) % len(WORDS)]} by noon.")
    article = ArticleText(title=f"Story {number} of the crash test", standfirst=f"Standfirst of story {number}.",
                          paragraphs=tuple(paragraphs))
    return render_article_page(article).encode("utf-8")


@dataclass
class NewsSite:
    """Serves /story/0 ... /story/N-1 of the current ``generation``; remembers what it served."""

    count: int
    generation: int = 0
    served: set[tuple[int, int]] = field(default_factory=set)   # (article, generation)
    _pages: dict[tuple[int, int], bytes] = field(default_factory=dict)

    def page(self, number: int, generation: int) -> bytes:
        key = (number, generation)
        if key not in self._pages:
            self._pages[key] = article_page(number, generation)
        return self._pages[key]

    def url(self, base: str, number: int) -> str:
        return f"{base}/story/{number}"

    def generation_of(self, number: int, html: bytes) -> int:
        """Which generation of article ``number`` these bytes are (every served page is cached)."""
        return next(g for (n, g), page in self._pages.items() if n == number and page == html)


@pytest.fixture
def news_site() -> Iterator[tuple[NewsSite, str]]:
    site = NewsSite(count=30)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            try:
                number = int(self.path.removeprefix("/story/"))
            except ValueError:
                number = -1
            if not 0 <= number < site.count:
                self.send_error(404)
                return
            generation = site.generation
            body = site.page(number, generation)
            site.served.add((number, generation))
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_config(folder: Path, urls: list[str], storage: str = "snapshots/") -> Path:
    path = folder / "config.yaml"
    listed = "".join(f"\n      - {u}" for u in urls)
    path.write_text(f"storage: {storage}\nreports: reports/\nper_host_delay: 0\n"
                    f"sources:\n  - name: wire\n    urls:{listed}\n", encoding="utf-8")
    return path


# -- running newsmon as a process ---------------------------------------------------------------------

@dataclass
class Run:
    """One ``newsmon check`` process: the generation served, its events, and whether it was killed."""

    generation: int
    events: list[dict]
    returncode: int
    stderr: str

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


def newsmon(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "monitor", *args, "-c", str(config)]


# Runs newsmon, which SIGKILLs itself at the n-th version it writes: "uncommitted" inside the transaction
# (the version's rows written, COMMIT not yet sent), "committed" right after COMMIT, before the event is
# printed. These two moments are microseconds wide; random kills rarely hit them. A check's rows are
# written by SqlStore._write on PostgreSQL, by plain_sqlite._write on SQLite: in the transaction of
# PlainSqlite.record_many, or of SqlStore.record_many while the store is new (the first run).
SELF_KILL = """
import os, signal, sys
from monitor.cli import main
from monitor.store import plain_sqlite, sql_store

moment, at = sys.argv[1], int(sys.argv[2])
written = 0
write, plain_write = sql_store.SqlStore._write, plain_sqlite._write
record_many, plain_record_many = sql_store.SqlStore.record_many, plain_sqlite.PlainSqlite.record_many

def die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)

def counted(item):
    global written
    written += item.new_version is not None
    if moment == "uncommitted" and written == at:
        die()

def counting_write(self, conn, item, *rest):
    number = write(self, conn, item, *rest)
    counted(item)
    return number

def counting_plain_write(conn, item, *rest):
    number = plain_write(conn, item, *rest)
    counted(item)
    return number

def committing(recording):
    def committed(self, items):
        numbers = recording(self, items)
        if moment == "committed" and written == at:
            die()
        return numbers
    return committed

sql_store.SqlStore._write, sql_store.SqlStore.record_many = counting_write, committing(record_many)
plain_sqlite._write = counting_plain_write
plain_sqlite.PlainSqlite.record_many = committing(plain_record_many)
main(sys.argv[3:])
"""


def read_output(process: subprocess.Popen[bytes], kill_after_events: int | None, rng: random.Random) -> bytes:
    """What the check printed until it ended. Not "until end of file": processes it started and that
    outlive a killed check would hold the pipe open."""
    assert process.stdout is not None
    fd, output = process.stdout.fileno(), b""
    while True:
        if io_select.select([fd], [], [], 0.05)[0]:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            output += chunk
            if kill_after_events is not None and output.count(b"\n") >= kill_after_events:
                kill_after_events = None
                time.sleep(rng.uniform(0, 0.03))
                process.kill()
        elif process.poll() is not None:
            break
    return output


def run_check(config: Path, generation: int, *, kill_after_events: int | None = None,
              kill_after_seconds: float | None = None, rng: random.Random | None = None,
              self_kill: tuple[str, int] | None = None) -> Run:
    """Run a check; SIGKILL it once it printed ``kill_after_events`` events (plus a few random
    milliseconds, so that the kill lands anywhere in the next article's store), after a time, or
    at a moment given to SELF_KILL."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    stderr_path = config.parent / "stderr.txt"
    command = newsmon(config, "check", "--format", "json")
    if self_kill is not None:
        command = [sys.executable, "-c", SELF_KILL, self_kill[0], str(self_kill[1]), *command[3:]]
    with stderr_path.open("wb") as stderr:
        # A session of its own: whatever the check started (extraction workers) is ended with it below.
        process = subprocess.Popen(command, cwd=config.parent, env=env, stdout=subprocess.PIPE, stderr=stderr,
                                   start_new_session=True)
        timer = threading.Timer(kill_after_seconds, process.kill) if kill_after_seconds is not None else None
        if timer:
            timer.start()
        try:
            output = read_output(process, kill_after_events, rng or random.Random())
        finally:
            if timer:
                timer.cancel()
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    # A line cut short by the kill was never reported.
    events = [json.loads(line) for line in output.splitlines(keepends=True) if line.endswith(b"\n")]
    return Run(generation, events, process.wait(), stderr_path.read_text(encoding="utf-8", errors="replace"))


# -- auditing the database with plain SQL ---------------------------------------------------------------

@dataclass(frozen=True)
class StoredVersion:
    url: str
    number: int
    fingerprint: str
    text: str
    html: bytes


def integrity(database: Path) -> str:
    with closing(sqlite3.connect(database)) as conn:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))


def blob(conn: Connection, ident: int, depth: int = 0) -> bytes:
    """A blob's bytes, which must exist and hash to their key (blobs are keyed by the sha256 of the
    uncompressed bytes, see monitor/store/blobs.py, and referred to by id). A "zstd-delta" blob is zstd with
    its base blob's bytes as a raw-content dictionary; chains of deltas are at most MAX_DEPTH long."""
    row = conn.execute(select(blobs.c.sha256, blobs.c.codec, blobs.c.base, blobs.c.data)
                       .where(blobs.c.id == ident)).first()
    assert row is not None, f"blob #{ident} is missing"
    assert row.codec in ("zstd", "zstd-delta")
    decompressor = zstandard.ZstdDecompressor()
    if row.codec == "zstd-delta":
        assert depth < MAX_DEPTH, f"blob {row.sha256} ends a chain of more than {MAX_DEPTH} deltas"
        base = blob(conn, row.base, depth + 1)
        decompressor = zstandard.ZstdDecompressor(
            dict_data=zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT))
    raw = decompressor.decompress(row.data)
    assert hashlib.sha256(raw).hexdigest() == row.sha256, f"blob {row.sha256} does not match its key"
    return raw


def audit(database: Path | str) -> dict[str, list[StoredVersion]]:
    """Every stored version by URL (of a SQLite file, or at a database URL), each verified complete;
    asserts the invariants that hold whatever moment a process was killed at."""
    engine = create_engine(database if isinstance(database, str) else f"sqlite:///{database}")
    found: dict[str, list[StoredVersion]] = {}
    try:
        with engine.connect() as conn:
            for article in conn.execute(select(articles)).all():
                rows = conn.execute(select(versions).where(versions.c.article_id == article.id)
                                    .order_by(versions.c.number)).all()
                stored = []
                for row in rows:
                    text, html = blob(conn, row.text_blob), blob(conn, row.html_blob)
                    assert fingerprint(row.title, text.decode("utf-8")) == row.fingerprint
                    stored.append(StoredVersion(article.url, row.number, row.fingerprint, text.decode("utf-8"),
                                                html))
                numbers = [v.number for v in stored]
                assert numbers == list(range(1, len(stored) + 1)), f"{article.url}: versions {numbers}"
                for older, newer in zip(stored, stored[1:], strict=False):
                    assert older.fingerprint != newer.fingerprint, f"{article.url}: v{newer.number} repeats"
                # The article's denormalised state is the latest version's (same transaction).
                assert article.latest_version == (numbers[-1] if numbers else None)
                assert article.fingerprint == (stored[-1].fingerprint if stored else None)
                # Exactly one check wrote each version.
                writers = conn.execute(select(checks.c.version).where(
                    (checks.c.article_id == article.id) & checks.c.version.is_not(None))).scalars().all()
                assert sorted(writers) == numbers, f"{article.url}: checks wrote versions {sorted(writers)}"
                found[article.url] = stored
    finally:
        engine.dispose()
    return found


# -- 1. SIGKILL at random moments ------------------------------------------------------------------------

ROUNDS = 12
SEED = 7


def test_a_check_killed_at_any_moment_loses_and_duplicates_nothing(
        news_site: tuple[NewsSite, str], tmp_path: Path) -> None:
    """Checks of 30 articles are SIGKILLed at random moments over many rounds, then one check runs clean.

    Half of the kills come a random time after the start, up to the time a whole check took (opening
    the database, fetching, storing, writing the reports), half a few random milliseconds after the
    k-th printed event (so inside the storing of the next article: between its commit and its printed
    line, too). The site publishes a new text of every article before about half of the rounds, so some
    rounds re-check texts a killed run may have stored already.

    "Exactly once" here: every text the site served that was stored has exactly one version, never two,
    in the order served; a version is only ever reported once (as new/modified/cosmetic with its number,
    by the run that stored it); a version a killed run stored without printing its event is not stored
    again (the next run sees it and says unchanged, or stores the next text as modified); and a text
    served to a run that completed is stored. Every stored version is complete and verified.
    """
    site, base = news_site
    urls = [site.url(base, n) for n in range(site.count)]
    config = write_config(tmp_path, urls)
    database = tmp_path / "snapshots" / "newsmon.db"
    rng = random.Random(SEED)

    # A clean first check, then a clean check of the same texts: how long that one took (the quickest kind
    # of run, nothing to store) bounds the timed kills, on a fast machine or a loaded one.
    started = time.monotonic()
    runs = [run_check(config, 0)]
    assert [e["event"] for e in runs[0].events] == ["new"] * site.count
    again = time.monotonic()
    runs.append(run_check(config, 0))
    span = time.monotonic() - again
    assert [e["event"] for e in runs[1].events] == ["unchanged"] * site.count
    timed: list[Run] = []
    counted: list[Run] = []
    for _ in range(ROUNDS):
        if rng.random() < 0.5:
            site.generation += 1
        if rng.random() < 0.5:
            run = run_check(config, site.generation, kill_after_seconds=rng.uniform(0.05, span))
            timed.append(run)
        else:
            run = run_check(config, site.generation, kill_after_events=rng.randint(1, site.count - 1), rng=rng)
            counted.append(run)
        runs.append(run)
    killing = time.monotonic() - started
    final = run_check(config, site.generation)
    runs.append(final)

    for run in runs:
        assert run.killed or run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr
        assert [e for e in run.events if e["event"] == "error"] == []
    assert final.returncode == 0 and len(final.events) == site.count
    # The kills hit the checks: every counted one, most of them while storing; a timed one may beat its
    # timer (how many do depends on the machine's load), but not all of them.
    mid_store = [r for r in counted if r.killed and len(r.events) < site.count]
    assert all(r.killed for r in counted) and len(mid_store) >= len(counted) // 2
    assert not timed or any(r.killed for r in timed)
    killed = [r for r in runs if r.killed]

    assert integrity(database) == "ok"
    stored = audit(database)
    assert sorted(stored) == sorted(urls)

    version_of = {(url, site.generation_of(n, v.html)): v.number for n, url in enumerate(urls) for v in stored[url]}
    reported: dict[tuple[str, int], tuple[str, int]] = {}   # (url, version) -> (event, generation of the run)
    for run in runs:
        for event in run.events:
            if event["event"] in ("new", "modified", "cosmetic"):
                key = (event["url"], event["version"])
                assert key not in reported, f"{key} reported twice"
                reported[key] = (event["event"], run.generation)
            else:
                # "unchanged" names the version that holds the text served to this run.
                assert event["event"] == "unchanged", event
                assert version_of[(event["url"], run.generation)] == event["version"], event

    silent = 0
    for number, url in enumerate(urls):
        generations = [site.generation_of(number, v.html) for v in stored[url]]
        # One version per stored text, in the order the site published them; the last one is the current.
        assert generations == sorted(set(generations)) and generations[-1] == site.generation, generations
        assert all((number, g) in site.served for g in generations)
        for version, generation in zip(stored[url], generations, strict=True):
            if (url, version.number) in reported:
                event, served = reported.pop((url, version.number))
                assert (event == "new") == (version.number == 1) and served == generation
            else:
                silent += 1    # stored by a killed run that died before printing the event
        # A run that completed stored the text it was served.
        for run in runs:
            if not run.killed:
                assert run.generation in generations
    assert reported == {}, f"events name versions that are not stored: {sorted(reported)}"
    print(f"\n{len(runs)} runs in {killing:.1f}s + final (a whole check: {span:.1f}s): {len(killed)} killed "
          f"({len(timed)} timed, {len(counted)} after an event), {len(mid_store)} mid-store, "
          f"{sum(len(v) for v in stored.values())} versions, {silent} stored silently by a killed run")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_kill_on_either_side_of_the_commit(news_site: tuple[NewsSite, str], tmp_path: Path, backend: str,
                                             request: pytest.FixtureRequest) -> None:
    """Killed with a version's rows written but not committed, the version is not stored and the next
    run stores it as new. Killed right after the commit, before its event was printed, the version is
    stored, and the next run (same text) says unchanged: stored once, never reported twice.

    On PostgreSQL the killed process held the article's row lock (SELECT ... FOR UPDATE): the server
    must roll its transaction back and free the lock, or the next run would wait for it."""
    site, base = news_site
    site.count = 5
    urls = [site.url(base, n) for n in range(site.count)]
    database: Path | str = tmp_path / "snapshots" / "newsmon.db"
    if backend == "postgresql":
        database = str(request.getfixturevalue("pg_schema_url"))
        config = write_config(tmp_path, urls, storage=f"'{database}'")
    else:
        config = write_config(tmp_path, urls)

    def stored() -> set[str]:
        if isinstance(database, Path):
            assert integrity(database) == "ok"
        return {url for url, found in audit(database).items() if found}

    uncommitted = run_check(config, 0, self_kill=("uncommitted", 2))
    assert uncommitted.killed and [e["event"] for e in uncommitted.events] == ["new"]
    assert stored() == {e["url"] for e in uncommitted.events}        # the second version was rolled back

    committed = run_check(config, 0, self_kill=("committed", 2))
    assert committed.killed and sorted(e["event"] for e in committed.events) == ["new", "unchanged"]
    printed = {e["url"] for e in uncommitted.events + committed.events}
    silent = stored() - printed
    assert len(silent) == 1 and printed < stored()                    # stored, never reported

    clean = run_check(config, 0)
    assert clean.returncode == 0
    assert {e["url"]: (e["event"], e["version"]) for e in clean.events} == {
        url: ("unchanged", 1) if url in printed | silent else ("new", 1) for url in urls}
    assert all(len(found) == 1 for found in audit(database).values())


# -- 2. a full disk ----------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs of its own, to fill up (needs root, or skips)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)   # busy: detach it anyway


def fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` with a file, then give ``leave`` bytes back; the file, to shrink or delete for space."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:
        try:
            while handle.write(bytes(65536)):
                pass
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    os.truncate(filler, max(filler.stat().st_size - leave, 0))
    return filler


def test_a_full_disk_keeps_the_history_and_the_next_check_stores(
        news_site: tuple[NewsSite, str], small_disk: Path, tmp_path: Path) -> None:
    """A disk that fills up fails the checks with a reason, never a traceback, and damages nothing.

    Completely full, SQLite cannot even create its shared-memory file: the check stops at once with one
    line. Nearly full, the store opens, and each article that cannot be stored ends in an ``error``
    event. Either way the stored versions stay readable, and the next check, with space, stores the edit.
    """
    site, base = news_site
    site.count = 10
    urls = [site.url(base, n) for n in range(site.count)]
    config = write_config(tmp_path, urls, storage=f"{small_disk}/snapshots/")
    database = small_disk / "snapshots" / "newsmon.db"
    assert run_check(config, 0).returncode == 0

    site.generation = 1
    filler = fill(small_disk, 0)
    full = run_check(config, 1)
    assert (full.returncode, full.events) == (3, [])
    assert full.stderr.splitlines() == [f"newsmon: {database}: cannot open the store: disk I/O error "
                                        "(the disk holding it is full: 0 bytes free)"]

    os.truncate(filler, filler.stat().st_size - 64 * 1024)
    nearly = run_check(config, 1)
    assert "Traceback" not in nearly.stderr
    assert nearly.returncode == 1 and len(nearly.events) == site.count
    errors = [e for e in nearly.events if e["event"] == "error"]
    assert errors and all(e["error"] == "cannot record checks: database or disk is full" for e in errors)
    assert {e["event"] for e in nearly.events} <= {"error", "modified"}
    stored_while_full = {e["url"] for e in nearly.events if e["event"] == "modified"}

    filler.unlink()
    assert integrity(database) == "ok"
    for number, url in enumerate(urls):
        generations = [site.generation_of(number, v.html) for v in audit(database)[url]]
        assert generations == ([0, 1] if url in stored_while_full else [0])

    after = run_check(config, 1)
    assert after.returncode == 0
    assert {e["url"]: e["event"] for e in after.events} == {
        url: "unchanged" if url in stored_while_full else "modified" for url in urls}
    assert all([site.generation_of(n, v.html) for v in audit(database)[url]] == [0, 1]
               for n, url in enumerate(urls))


def test_a_full_reports_folder_is_one_line_and_the_checks_are_stored(
        news_site: tuple[NewsSite, str], small_disk: Path, tmp_path: Path) -> None:
    site, base = news_site
    site.count = 3
    urls = [site.url(base, n) for n in range(site.count)]
    config = write_config(tmp_path, urls)
    config.write_text(config.read_text().replace("reports: reports/", f"reports: {small_disk}/reports/"))
    fill(small_disk, 0)
    run = run_check(config, 0)
    assert [e["event"] for e in run.events] == ["new"] * site.count
    assert all(len(found) == 1 for found in audit(tmp_path / "snapshots" / "newsmon.db").values())
    assert "Traceback" not in run.stderr and f"{small_disk}/reports" in run.stderr


def test_a_store_that_cannot_grow_fails_each_article_and_recovers(
        news_site: tuple[NewsSite, str], tmp_path: Path) -> None:
    """The same without root: SQLite's max_page_count makes every write that needs a new page fail with
    SQLITE_FULL, the error a full disk gives."""
    site, base = news_site
    site.count = 6
    config = load_config(write_config(tmp_path, [site.url(base, n) for n in range(site.count)]))
    targets = config.articles()
    database = tmp_path / "snapshots" / "newsmon.db"
    with open_store(config.storage_url()) as store:
        assert {e.event for e in check_articles(config, store, targets)} == {"new"}

    site.generation = 1
    # Each page of this generation carries 12 kB of incompressible noise, so that its version needs new
    # pages: a small revision alone is stored as a delta of a few dozen bytes, which fits in free space.
    for n in range(site.count):
        noise = random.Random(n).randbytes(6000).hex().encode()
        site._pages[(n, 1)] = article_page(n, 1).replace(b"</body>", b"<!-- " + noise + b" --></body>")
    with open_store(config.storage_url()) as store:
        assert store.plain_sqlite is not None      # the connection a check of this store writes through
        connection = store.plain_sqlite._connection
        connection.execute(f"PRAGMA max_page_count = {connection.execute('PRAGMA page_count').fetchone()[0]}")
        events = list(check_articles(config, store, targets))
    assert [(e.event, e.error) for e in events] == [("error", "cannot record checks: database or disk is full")] * 6
    assert integrity(database) == "ok"
    assert all(len(found) == 1 for found in audit(database).values())

    with open_store(config.storage_url()) as store:
        assert [e.event for e in check_articles(config, store, targets)] == ["modified"] * 6
    assert all(len(found) == 2 for found in audit(database).values())


# -- 3. a damaged or foreign database file at start ----------------------------------------------------------

def newsmon_database(path: Path) -> None:
    with open_store(f"sqlite:///{path}") as store:
        for n in range(40):
            doc = Document(title=f"Story {n}", text=f"Paragraph {n}. " * 50)
            store.record(f"https://news.example/{n}", "wire", CheckRecord(datetime.now(UTC), "new"),
                         new_version=NewVersion(doc, f"<p>{doc.text}</p>".encode(),
                                                fingerprint(doc.title, doc.text), datetime.now(UTC)))


def damage(path: Path, kind: str) -> None:
    """Put a database file of ``kind`` at ``path``."""
    if kind == "random bytes":
        path.write_bytes(random.Random(kind).randbytes(20000))
    elif kind == "empty file":
        path.touch()
    elif kind == "folder":
        path.mkdir()
    elif kind == "another application's database":
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
            conn.execute("INSERT INTO moz_places (url) VALUES ('https://example.com/')")
            conn.commit()
    else:
        newsmon_database(path)
        whole = path.read_bytes()
        if kind == "truncated newsmon database":
            path.write_bytes(whole[:len(whole) // 2])
        else:   # its table list scrambled: the file's size and header are right, its content is not
            assert kind == "newsmon database with a scrambled page"
            path.write_bytes(whole[:100] + random.Random(kind).randbytes(4096 - 100) + whole[4096:])


DAMAGE = {
    "random bytes": "not a SQLite database (the file does not start with the SQLite header)",
    "empty file": "is an empty file, not a newsmon database",
    "folder": "is a folder, not a SQLite database file",
    "another application's database": "not a newsmon database (it has other tables: moz_places)",
    "truncated newsmon database": "the database file is damaged",
    "newsmon database with a scrambled page": "the database file is damaged or not a newsmon database",
}


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {p.name: p.read_bytes() if p.is_file() else None for p in folder.iterdir()}


@pytest.mark.parametrize("command", ["check", "status"])
@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_or_foreign_database_is_refused_and_left_untouched(tmp_path: Path, kind: str, command: str) -> None:
    folder = tmp_path / "snapshots"
    folder.mkdir()
    database = folder / "newsmon.db"
    damage(database, kind)
    before = snapshot(folder)
    config = write_config(tmp_path, ["http://127.0.0.1:9/never-fetched"])

    result = CliRunner().invoke(app, [command, "-c", str(config)])
    assert result.exit_code == 3
    assert isinstance(result.exception, SystemExit)     # a message, not a traceback
    [line] = result.stderr.splitlines()
    assert line.startswith(f"newsmon: {database}: ") and DAMAGE[kind] in line
    after = snapshot(folder)
    assert after["newsmon.db"] == before["newsmon.db"]          # the same bytes (None: still a folder)
    # Nothing else is written. Reading a WAL-mode file (a damaged newsmon database) makes SQLite add its
    # shared-memory index and an empty log beside it; both hold nothing of the database.
    added = {name: data for name, data in after.items() if name not in before}
    assert set(added) <= {"newsmon.db-shm", "newsmon.db-wal"} and not added.get("newsmon.db-wal")
