"""The notification outbox: every message is written here first, then delivered, then marked sent.

``notify_outbox`` is defined on the store's ``MetaData`` (so ``open_store`` creates it once this module is
imported) and ``ensure`` creates it in an already open store otherwise. ``dedup_key`` is unique: queueing
the same change for the same target twice (a re-run, a retry of the whole cycle) inserts nothing, so a
change is never sent twice. A failed delivery keeps the row, with ``attempts``, ``last_error`` and the
time of the next attempt; nothing is ever deleted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Integer, String, Table, Text, and_, func, select, update

from monitor.store.schema import Sha256, UTCDateTime, insert_ignore, metadata
from monitor.store.store import Store

__all__ = ["OutboxMessage", "count_pending", "dedup_key", "due", "enqueue", "ensure", "mark_failed", "mark_sent",
           "notify_outbox", "pending"]

notify_outbox = Table(
    "notify_outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target", String(200), nullable=False),       # the target's id (no secrets), see monitor.notify
    Column("dedup_key", Sha256, nullable=False, unique=True),
    Column("payload", Text, nullable=False),             # JSON: the message
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Index("ix_notify_outbox_due", "sent_at", "next_attempt_at"),
)


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    target: str
    payload: dict[str, Any]
    attempts: int


def dedup_key(target: str, url: str, version: int | None, event: str) -> str:
    """sha256 of target + url + version + event, one field per line (no two inputs share a key)."""
    text = "\n".join((target, url, "" if version is None else str(version), event))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ensure(store: Store) -> None:
    """Create the table in a store opened before this module was imported (a no-op when it exists)."""
    notify_outbox.create(store.engine, checkfirst=True)


def _write(store: Store) -> Any:
    conn = store.engine.connect()
    conn.execution_options(sqlite_begin="IMMEDIATE")   # take SQLite's write lock at BEGIN (see engine.py)
    return conn


def enqueue(store: Store, rows: Sequence[tuple[str, str, dict[str, Any]]], *, now: datetime) -> int:
    """Queue ``(target, dedup key, payload)`` rows, due at once; returns how many were new."""
    if not rows:
        return 0
    keys = [key for _, key, _ in rows]
    with _write(store) as conn, conn.begin():
        before = _count(conn, keys)
        insert_ignore(conn, notify_outbox, [
            {"target": target, "dedup_key": key, "payload": json.dumps(payload, ensure_ascii=False),
             "attempts": 0, "next_attempt_at": now, "created_at": now} for target, key, payload in rows],
            key="dedup_key")
        return _count(conn, keys) - before


def _count(conn: Any, keys: list[str]) -> int:
    return int(conn.execute(select(func.count()).select_from(notify_outbox)
                            .where(notify_outbox.c.dedup_key.in_(keys))).scalar() or 0)


def due(store: Store, *, now: datetime, targets: Sequence[str], limit: int = 200) -> list[OutboxMessage]:
    """Unsent messages of ``targets`` whose next attempt is due, oldest first."""
    if not targets:
        return []
    query = (select(notify_outbox.c.id, notify_outbox.c.target, notify_outbox.c.payload, notify_outbox.c.attempts)
             .where(and_(notify_outbox.c.sent_at.is_(None), notify_outbox.c.next_attempt_at <= now,
                         notify_outbox.c.target.in_(list(targets))))
             .order_by(notify_outbox.c.id).limit(limit))
    with store.engine.connect() as conn:
        return [OutboxMessage(r.id, r.target, json.loads(r.payload), r.attempts) for r in conn.execute(query)]


def pending(store: Store) -> list[OutboxMessage]:
    """Every message not yet sent (due or waiting for its next attempt), oldest first."""
    query = (select(notify_outbox.c.id, notify_outbox.c.target, notify_outbox.c.payload, notify_outbox.c.attempts)
             .where(notify_outbox.c.sent_at.is_(None)).order_by(notify_outbox.c.id))
    with store.engine.connect() as conn:
        return [OutboxMessage(r.id, r.target, json.loads(r.payload), r.attempts) for r in conn.execute(query)]


def count_pending(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(notify_outbox)
                                .where(notify_outbox.c.sent_at.is_(None))).scalar() or 0)


def mark_sent(store: Store, ident: int, *, now: datetime) -> None:
    with _write(store) as conn, conn.begin():
        conn.execute(update(notify_outbox).where(notify_outbox.c.id == ident)
                     .values(sent_at=now, last_error=None))


def mark_failed(store: Store, ident: int, *, error: str, retry_at: datetime) -> None:
    with _write(store) as conn, conn.begin():
        conn.execute(update(notify_outbox).where(notify_outbox.c.id == ident)
                     .values(attempts=notify_outbox.c.attempts + 1, last_error=error[:2000],
                             next_attempt_at=retry_at))
