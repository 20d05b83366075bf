"""The schema's revision and version, without SQLAlchemy: opening a database at the current revision
(monitor/store/plain_sqlite.py) must not import it."""

# The schema's Alembic revision (monitor/store/migrations/versions/): a new database is stamped with it, an
# older one is upgraded to it when opened, a newer one is refused. Set it to the number of each new revision;
# tests/test_migrate.py checks that it is the scripts' head.
SCHEMA_REVISION = "0003"

# The table where the revision is recorded: Alembic's ``alembic_version`` under a name of our own, since a
# PostgreSQL schema shared with another application may hold that application's ``alembic_version``.
VERSION_TABLE = "newsmon_alembic_version"

# newsmon_meta's schema_version, the only version newsmon kept before Alembic; each newsmon refuses a
# database whose schema_version is above its own. Schema 1 is revision 0001, schema 2 (blobs.base) is
# revision 0002: a database without a revision of its own is stamped with those. The first revision after
# 0002 sets 3, which every newsmon that reads only schema_version refuses; from then on schema_version
# stays 3 and the version table alone tells the revision. Revision 0003 is the compact layout (32-byte
# hashes, integer blob references, integer dates on SQLite).
SCHEMA_VERSION = 3
LEGACY_REVISIONS = {1: "0001", 2: "0002"}

# The columns of each table of monitor/store/schema.py at SCHEMA_REVISION, for the open that does not import
# SQLAlchemy (monitor/store/plain_sqlite.py) to refuse a damaged database as the full open does. A new
# revision updates it; tests/test_plain_sqlite.py holds it to the models.
TABLE_COLUMNS = {
    "newsmon_meta": {"key", "value"},
    "sources": {"id", "name"},
    "articles": {"id", "url", "source_id", "first_seen", "last_checked", "latest_version", "fingerprint", "etag",
                 "last_modified", "body_sha256", "gone", "pending_fingerprint", "next_check_at", "failures"},
    "blobs": {"id", "sha256", "size", "codec", "data", "base"},
    "versions": {"id", "article_id", "number", "created_at", "title", "byline", "published", "modified",
                 "final_url", "fingerprint", "text_blob", "html_blob", "size"},
    "checks": {"id", "article_id", "checked_at", "outcome", "status", "etag", "last_modified", "wire_bytes",
               "body_bytes", "duration", "error", "final_url", "version"},
    "source_lines": {"source_id", "line_key", "article_id"},
    "source_boilerplate": {"source_id", "line_key"},
}
