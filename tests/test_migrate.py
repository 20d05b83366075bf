"""Schema migrations (Alembic), on SQLite and PostgreSQL: older databases are upgraded by ``newsmon migrate``
and when opened, with their data; the revisions produce exactly the models; a new database is stamped at
the head; an unknown revision is refused and left as it was."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sites import cli
from sqlalchemy import String, create_engine, insert, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from test_store import URL, check, new_version, revise, seed_document
from typer.testing import CliRunner

from monitor.cli import app
from monitor.errors import StoreError
from monitor.models import Document
from monitor.store import migrations, open_store
from monitor.store.engine import migrate
from monitor.store.revision import LEGACY_REVISIONS, SCHEMA_REVISION, SCHEMA_VERSION, VERSION_TABLE
from monitor.store.schema import (
    articles,
    blobs,
    checks,
    meta,
    sources,
    versions,
)


def schema_1_store(url: str, scratch: Path) -> Document:
    """Make ``url`` a database at revision 0001, built by that revision alone, holding one article with one
    version (and its check and blobs) that this newsmon wrote."""
    doc = seed_document()
    with open_store(f"sqlite:///{scratch}/source.db") as source:
        source.record(URL, "BBC", check(0), new_version=new_version(doc))
        if url.startswith("sqlite"):
            Path(str(make_url(url).database)).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        try:
            with source.engine.connect() as read, engine.begin() as write:
                migrations.upgrade(write, "0001")
                for table in (sources, articles, blobs, versions, checks):
                    # Surrogate ids left to the database (so PostgreSQL's sequences move on): one row per
                    # table but blobs, so they come out the same.
                    rows = [{k: v for k, v in row._mapping.items() if k != "id"} for row in read.execute(select(table))]
                    if table is blobs:
                        assert all(row.pop("base") is None for row in rows)   # a first version: standalone
                    write.execute(insert(table), rows)
        finally:
            engine.dispose()
    return doc


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
    # revisions build. It does see a missing column and its foreign key: what revision 0002 adds.
    schema_1_store(store_url, tmp_path)
    missing = differences(store_url)
    assert [d[0] for d in missing] == ["add_column", "add_fk"], missing
    assert (missing[0][2], missing[0][3].name, missing[1][1].referred_table.name) == ("blobs", "base", "blobs")
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
    assert "at 0001, this newsmon's revision is 0002" in cli("migrate", "-c", config, "--check", code=1)
    assert database(store_url)["revision"] == "0001"               # --check changed nothing
    assert ": upgraded 0001 -> 0002\n" in cli("migrate", "-c", config)
    found = database(store_url)
    assert (found["revision"], found["schema_version"]) == ("0002", "2")
    assert "base" in found["columns"]["blobs"]
    assert "at 0002" in cli("migrate", "-c", config, "--check")
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
    assert (found["revision"], found["schema_version"]) == ("0002", "2")
    assert "base" in found["columns"]["blobs"]


def test_a_schema_2_database_from_before_alembic_is_stamped_without_ddl(
        store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_store(store_url).close()
    set_revision(store_url, None)                  # as newsmon left it before Alembic: newsmon_meta only
    before = database(store_url)
    config = write_config(tmp_path, store_url)
    assert "at 0002" in cli("migrate", "-c", config, "--check")      # its schema is current
    assert database(store_url) == before

    def no_revision_runs(*args: object) -> None:
        raise AssertionError("a revision ran on a database at the head")

    monkeypatch.setattr(migrations, "upgrade", no_revision_runs)
    assert ": already at 0002 (revision recorded)\n" in cli("migrate", "-c", config)
    after = database(store_url)
    assert after["revision"] == "0002"
    assert after["columns"] == {**before["columns"], VERSION_TABLE: ["version_num"]}


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
    ("0099", "written by a newer newsmon (schema revision 0099, this one reads up to 0002); upgrade newsmon"),
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
    assert f"{path}: no newsmon database yet, this newsmon's revision is 0002" in cli(
        "migrate", "-c", config, "--check", code=1)
    assert not path.parent.exists()
    assert f"{path}: created at 0002\n" in cli("migrate", "-c", config)
    assert database(f"sqlite:///{path}")["revision"] == "0002"


def test_opening_a_store_at_the_head_does_not_import_alembic(tmp_path: Path) -> None:
    # Start-up time of `newsmon check`: Alembic is imported only to upgrade a database, and the command
    # `migrate` brings no store into the CLI's own imports.
    url = f"sqlite:///{tmp_path}/newsmon.db"
    program = ("import sys, monitor.cli; print('sqlalchemy' in sys.modules); from monitor.store import open_store; "
               f"open_store({url!r}).close(); open_store({url!r}).close(); print('alembic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
