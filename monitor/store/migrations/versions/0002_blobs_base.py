"""Schema 2: ``blobs.base``, the blob a "zstd-delta" blob is compressed against (NULL: a standalone blob).

Revision 0002, after 0001. The column is nullable, so existing rows (all standalone) need no value, and its
foreign key is written inline (``ADD COLUMN ... REFERENCES``), which SQLite allows for a column whose default
is NULL: both dialects add the column in place, without copying the table of blobs, and the constraint is
the one a new database gets (unnamed on SQLite, ``blobs_base_fkey`` on PostgreSQL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("blobs") as batch:
        batch.add_column(sa.Column("base", sa.String(64), sa.ForeignKey("blobs.sha256")), inline_references=True)
    meta = sa.table("newsmon_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value="2"))
