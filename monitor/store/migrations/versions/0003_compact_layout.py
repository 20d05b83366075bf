"""Schema 3, the compact layout: sha256 columns as 32 bytes, blobs referred to by an integer id, and on SQLite
dates as integer microseconds since 1970 (UTC).

Revision 0003, after 0002. The rows around a version cost more than its text: each version stored its
fingerprint and two blob keys as 64-character hex, each delta its base's key, each date 26 characters of ISO
text, and every index over them repeated that. Binary hashes, integer dates and integer blob references (with
delta chains of 16, monitor/store/blob_codec.py) cut the file's growth per stored version by more than half:
983 -> 369 bytes for a small revision of the seed article, 35% -> 13.1% of its raw text
(benchmarks/storage_size.py; docs/DESIGN.md, "The compact storage layout").

- Every sha256 column (fingerprints, blob keys, line keys, the outbox's dedup key, a discrepancy's quantity)
  holds the digest's 32 bytes instead of its hex (NULL stays NULL).
- ``blobs`` gets ``id INTEGER PRIMARY KEY``; ``sha256`` is no longer the key but unique (``ix_blobs_sha256``);
  ``blobs.base``, ``versions.text_blob`` and ``versions.html_blob`` hold the referred blob's id.
- SQLite only: every date column holds integer microseconds since 1970 instead of SQLAlchemy's naive UTC text
  ('YYYY-MM-DD HH:MM:SS.ffffff'); PostgreSQL keeps timestamptz, already 8 bytes.

SQLite cannot change a column's type, so each table is rebuilt (batch mode: copied into a new table, which
replaces it), after its values are converted in place by Python functions registered on the connection
(SQLite 3.40 has no unhex(), and its date functions stop at milliseconds). The copy must not convert them
again: the new columns are given with ``reflect_args`` instead of ``alter_column``, whose CAST would turn the
text '2025-02-13 09:30:00.000000' into 2025. PostgreSQL alters the tables in place (``USING decode(col,
'hex')``; blob ids from a sequence, references by ``UPDATE ... FROM``), the type changes of each table in one
ALTER TABLE, which rewrites the table once. Tables a database does not have yet (one written before their
module existed) are left out: the store creates them, in the new layout, after the upgrade.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Sha256 = sa.LargeBinary(32)            # BLOB on SQLite, bytea on PostgreSQL
SQLiteDateTime = sa.BigInteger()       # microseconds since 1970-01-01 UTC

# The sha256 columns of each table: 64 hex characters before, 32 bytes after.
HASHES = {
    "articles": ("fingerprint", "body_sha256", "pending_fingerprint"),
    "blobs": ("sha256",),
    "versions": ("fingerprint",),
    "source_lines": ("line_key",),
    "source_boilerplate": ("line_key",),
    "notify_outbox": ("dedup_key",),
    "notified_discrepancies": ("quantity",),
}

# The date columns (monitor.store.schema.UTCDateTime) of each table: converted on SQLite only.
DATES = {
    "articles": ("first_seen", "last_checked", "next_check_at"),
    "versions": ("created_at",),
    "checks": ("checked_at",),
    "article_schedule": ("born",),
    "feed_state": ("last_read", "error_at"),
    "notify_outbox": ("next_attempt_at", "created_at", "sent_at"),
    "stories": ("created_at", "updated_at"),
    "story_members": ("joined_at",),
    "notified_discrepancies": ("changed_at",),
}

# The constraints of revisions 0001 and 0002 over blob keys on PostgreSQL, as it named them.
PG_BLOB_KEY_REFERENCES = (("versions", "versions_text_blob_fkey"), ("versions", "versions_html_blob_fkey"),
                          ("blobs", "blobs_base_fkey"))

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# The first value a conversion below refused: SQLite reports only "user-defined function raised exception".
_refused: list[str] = []


def unhex(value: str | None) -> bytes | None:
    """A hex digest as the 32 bytes it spells."""
    if value is None:
        return None
    try:
        digest = bytes.fromhex(value)
    except (TypeError, ValueError):
        digest = b""
    if len(digest) != 32:
        _refused.append(f"{value!r}, which is not a sha256 hex digest")
        raise ValueError(value)
    return digest


def micros(value: str | None) -> int | None:
    """A date as SQLAlchemy stored it on SQLite (naive UTC text) as integer microseconds since 1970: integer
    arithmetic on the parsed date, exact where a float of seconds would round."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        _refused.append(f"{value!r}, which is not a date")
        raise
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite(tables)
    else:
        _upgrade_postgresql(tables)
    meta = sa.table("newsmon_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value="3"))


# -- SQLite ------------------------------------------------------------------------------------------------

def _upgrade_sqlite(tables: set[str]) -> None:
    driver = op.get_bind().connection.driver_connection     # the sqlite3 connection the upgrade runs on
    assert driver is not None
    driver.create_function("newsmon_unhex", 1, unhex, deterministic=True)
    driver.create_function("newsmon_micros", 1, micros, deterministic=True)
    try:
        # Blob ids first, while the references are still the hex keys they are looked up by. A blob's rowid
        # (blobs had no integer key, so SQLite gave each row one) becomes its id: the order it was stored in.
        # A reference that finds no blob keeps its old value, which the foreign key check after the upgrade
        # reports (a NULL would have hidden it).
        op.add_column("blobs", sa.Column("id", sa.Integer))
        op.execute("UPDATE blobs SET id = rowid, "
                   "base = coalesce((SELECT b.rowid FROM blobs AS b WHERE b.sha256 = blobs.base), base)")
        op.execute("UPDATE versions SET "
                   "text_blob = coalesce((SELECT id FROM blobs WHERE sha256 = versions.text_blob), text_blob), "
                   "html_blob = coalesce((SELECT id FROM blobs WHERE sha256 = versions.html_blob), html_blob)")
        # Then each table's values in place, and the table rebuilt with its new column types. SQLite keeps a
        # blob as it is in a VARCHAR column and an integer in a DATETIME one; the blob ids written into the
        # VARCHAR references above became text, which the INTEGER columns of the new table make integers.
        for table in sorted(tables & (HASHES.keys() | DATES.keys())):
            converted = [f"{c} = newsmon_unhex({c})" for c in HASHES.get(table, ())]
            converted += [f"{c} = newsmon_micros({c})" for c in DATES.get(table, ())]
            _refused.clear()
            try:
                op.execute(f"UPDATE {table} SET {', '.join(converted)}")
            except sa.exc.OperationalError as exc:
                if not _refused:
                    raise
                # engine._upgrade names the database and leaves it as it was.
                raise ValueError(f"table {table} holds {_refused[0]}") from exc
            _rebuild_sqlite(table)
    finally:
        driver.create_function("newsmon_unhex", 1, None)
        driver.create_function("newsmon_micros", 1, None)


def _rebuild_sqlite(table: str) -> None:
    """Copy ``table`` into one with the new column types, its values as they are (converted already):
    ``reflect_args`` declares the changed columns, the rest (and indexes, constraints) is as reflected."""
    if table == "blobs":
        _rebuild_sqlite_blobs()
        return
    inspector = sa.inspect(op.get_bind())
    reflected = inspector.get_columns(table)
    nullable = {c["name"]: c["nullable"] for c in reflected}
    primary = inspector.get_pk_constraint(table)
    key = set(primary["constrained_columns"])
    columns: list[sa.Column[Any]] = [
        sa.Column(c, Sha256, nullable=nullable[c], primary_key=c in key) for c in HASHES.get(table, ())]
    columns += [sa.Column(c, SQLiteDateTime, nullable=nullable[c], primary_key=c in key)
                for c in DATES.get(table, ())]
    if table == "versions":
        columns += [sa.Column(c, sa.Integer, sa.ForeignKey("blobs.id"), nullable=False)
                    for c in ("text_blob", "html_blob")]
    # The columns in the order they were (those of reflect_args would come first).
    order = tuple(c["name"] for c in reflected)
    with op.batch_alter_table(table, recreate="always", reflect_args=tuple(columns),
                              partial_reordering=[order]) as batch:
        # Reflection drops the primary key's name (pk_source_lines) when reflect_args redefines a column of it.
        if primary["name"]:
            batch.create_primary_key(primary["name"], primary["constrained_columns"])


def _rebuild_sqlite_blobs() -> None:
    """blobs changes its primary key, which reflection cannot be told: the whole table is given instead."""
    blobs = sa.Table(
        "blobs", sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", Sha256, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("codec", sa.String(32), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("base", sa.Integer, sa.ForeignKey("blobs.id")),
        sa.Index("ix_blobs_sha256", "sha256", unique=True),
    )
    with op.batch_alter_table("blobs", recreate="always", copy_from=blobs):
        pass


# -- PostgreSQL --------------------------------------------------------------------------------------------

def _upgrade_postgresql(tables: set[str]) -> None:
    # decode() would take 62 hex characters for 31 bytes, and fails on anything else without naming the
    # table: every value is checked first, as the conversion on SQLite checks it.
    for table in sorted(tables & HASHES.keys()):
        for column in HASHES[table]:
            bad = op.get_bind().execute(sa.text(
                f"SELECT {column} FROM {table} WHERE {column} !~* '^[0-9a-f]{{64}}$' LIMIT 1")).scalar()
            if bad is not None:
                raise ValueError(f"table {table} holds {bad!r}, which is not a sha256 hex digest")
    # The references to blob keys go first: blobs.sha256 cannot change type (nor lose its primary key) while
    # foreign keys point at it.
    for table, constraint in PG_BLOB_KEY_REFERENCES:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
    # SERIAL, as a new database's blobs.id: its sequence numbers the existing rows (in the order they lie in
    # the table, which is not quite the order they were stored in: ids are only names).
    op.execute("ALTER TABLE blobs ADD COLUMN id SERIAL")
    op.execute("UPDATE blobs SET base = b.id::text FROM blobs AS b WHERE b.sha256 = blobs.base")
    op.execute("UPDATE versions SET text_blob = t.id::text, html_blob = h.id::text FROM blobs AS t, blobs AS h "
               "WHERE t.sha256 = versions.text_blob AND h.sha256 = versions.html_blob")
    # One ALTER TABLE per table: PostgreSQL rewrites a table once for all the changes of one statement. A
    # reference that found no blob above is still hex, and its cast to integer fails the upgrade.
    changes = {table: [f"ALTER COLUMN {c} TYPE bytea USING decode({c}, 'hex')" for c in HASHES[table]]
               for table in tables & HASHES.keys()}
    changes["blobs"] += ["DROP CONSTRAINT blobs_pkey", "ADD PRIMARY KEY (id)",
                         "ALTER COLUMN base TYPE integer USING base::integer"]
    changes["versions"] += [f"ALTER COLUMN {c} TYPE integer USING {c}::integer" for c in ("text_blob", "html_blob")]
    for table, clauses in sorted(changes.items()):
        op.execute(f"ALTER TABLE {table} {', '.join(clauses)}")
    # As a new database has them (the foreign keys get the names PostgreSQL gave them before).
    op.create_index("ix_blobs_sha256", "blobs", ["sha256"], unique=True)
    op.execute("ALTER TABLE blobs ADD FOREIGN KEY (base) REFERENCES blobs (id)")
    op.execute("ALTER TABLE versions ADD FOREIGN KEY (text_blob) REFERENCES blobs (id), "
               "ADD FOREIGN KEY (html_blob) REFERENCES blobs (id)")
