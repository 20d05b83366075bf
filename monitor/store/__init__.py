"""newsmon's storage: articles, their versions, checks and content-addressed blobs.

One SQLAlchemy model set serves SQLite (the default, a WAL-mode file) and PostgreSQL::

    with open_store("sqlite:///snapshots/newsmon.db") as store:
        states = store.states(urls)
        number = store.record(url, source, CheckRecord(now, "new", status=200), new_version=...)
"""

from monitor.store.records import ArticleState, CheckRecord, NewVersion, RecordItem
from monitor.store.revision import SCHEMA_VERSION
from monitor.store.store import Store, open_store

__all__ = [
    "SCHEMA_VERSION",
    "ArticleState",
    "CheckRecord",
    "NewVersion",
    "RecordItem",
    "Store",
    "open_store",
]
