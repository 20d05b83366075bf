"""Schema 1, the baseline: every table as newsmon made them before Alembic, blobs without ``base``.

Revision 0001, the first. A database newsmon made before Alembic (``newsmon_meta`` schema_version 1) is
stamped with this revision, not built by it; the tables here are the models of that time, frozen, so that
the later revisions have a fixed start (monitor.store.schema.UTCDateTime is written as the DateTime it
stores).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Sha256 = sa.String(64)
UTCDateTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    # monitor/store/schema.py
    meta = op.create_table(
        "newsmon_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}])
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
    )
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_checked", UTCDateTime),
        sa.Column("latest_version", sa.Integer),
        sa.Column("fingerprint", Sha256),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("body_sha256", Sha256),
        sa.Column("gone", sa.Boolean, nullable=False),
        sa.Column("pending_fingerprint", Sha256),
        sa.Column("next_check_at", UTCDateTime),
        sa.Column("failures", sa.Integer, nullable=False),
    )
    op.create_index("ix_articles_url", "articles", ["url"], unique=True)
    op.create_index("ix_articles_source_id", "articles", ["source_id"])
    op.create_index("ix_articles_next_check_at", "articles", ["next_check_at"])
    op.create_table(
        "blobs",
        sa.Column("sha256", Sha256, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("codec", sa.String(32), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("byline", sa.Text),
        sa.Column("published", sa.Text),
        sa.Column("modified", sa.Text),
        sa.Column("final_url", sa.Text),
        sa.Column("fingerprint", Sha256, nullable=False),
        sa.Column("text_blob", Sha256, sa.ForeignKey("blobs.sha256"), nullable=False),
        sa.Column("html_blob", Sha256, sa.ForeignKey("blobs.sha256"), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.UniqueConstraint("article_id", "number", name="uq_versions_article_number"),
        sa.CheckConstraint("number >= 1", name="ck_versions_number_positive"),
    )
    op.create_table(
        "checks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), nullable=False),
        sa.Column("checked_at", UTCDateTime, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status", sa.SmallInteger),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("wire_bytes", sa.BigInteger, nullable=False),
        sa.Column("body_bytes", sa.BigInteger, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("final_url", sa.Text),
        sa.Column("version", sa.Integer),
        sa.CheckConstraint("wire_bytes >= 0 AND body_bytes >= 0 AND duration >= 0", name="ck_checks_counts"),
    )
    op.create_index("ix_checks_article_checked_at", "checks", ["article_id", "checked_at"])
    op.create_table(
        "source_lines",
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("line_key", Sha256, nullable=False),
        sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), nullable=False),
        sa.PrimaryKeyConstraint("source_id", "line_key", "article_id", name="pk_source_lines"),
    )
    op.create_table(
        "source_boilerplate",
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("line_key", Sha256, nullable=False),
        sa.PrimaryKeyConstraint("source_id", "line_key", name="pk_source_boilerplate"),
    )

    # monitor/store/scheduling.py
    op.create_table(
        "article_schedule",
        sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), primary_key=True),
        sa.Column("streak", sa.Integer, nullable=False),
        sa.Column("born", UTCDateTime),
        sa.Column("discovered", sa.Boolean, nullable=False),
        sa.Column("stopped", sa.Boolean, nullable=False),
    )
    op.create_table(
        "feed_state",
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("last_read", UTCDateTime),
        sa.Column("found", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("error_at", UTCDateTime),
    )

    # monitor/store/outbox.py
    op.create_table(
        "notify_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("dedup_key", Sha256, nullable=False, unique=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime),
    )
    op.create_index("ix_notify_outbox_due", "notify_outbox", ["sent_at", "next_attempt_at"])

    # monitor/stories/tables.py
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "story_members",
        sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), primary_key=True),
        sa.Column("story_id", sa.Integer, sa.ForeignKey("stories.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("terms", sa.Text, nullable=False),
        sa.Column("joined_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_story_members_story_id", "story_members", ["story_id"])
    op.create_table(
        "ledger_versions",
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id"), primary_key=True),
        sa.Column("figures", sa.Integer, nullable=False),
    )
    op.create_table(
        "figure_occurrences",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id"), nullable=False),
        sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("unit", sa.String(32)),
        sa.Column("qualifier", sa.String(32)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("context", sa.Text),
        sa.Column("subject", sa.Text),
        sa.Column("sentence", sa.Text, nullable=False),
    )
    op.create_index("ix_figure_occurrences_article_id", "figure_occurrences", ["article_id"])
    op.create_index("ix_figure_occurrences_version_id", "figure_occurrences", ["version_id"])

    # monitor/notify.py
    op.create_table(
        "notified_discrepancies",
        sa.Column("story_id", sa.Integer, primary_key=True),
        sa.Column("quantity", Sha256, primary_key=True),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("episode", sa.Integer, nullable=False),
        sa.Column("is_open", sa.Boolean, nullable=False),
        sa.Column("told", sa.Text, nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
    )
