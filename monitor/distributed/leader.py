"""One active dispatcher per storage: a PostgreSQL session advisory lock, held by a connection kept open for
the dispatcher's life; the others wait as hot standbys and take over when it is freed.

The key is the daemon's (``monitor.lock.LOCK_KEY`` and a hash of the schema), so ``newsmon run`` and
``newsmon dispatch`` exclude each other too: two schedulers on one storage would both deliver the outbox.
The server frees the lock when the holder's session ends: a dispatcher that exits, crashes or is killed
loses it at once; one whose host vanishes loses it when the server's TCP keepalive gives up, which this
session shortens to about 25 s (``tcp_keepalives_*``, settable per session).

``application_name`` starts with "newsmon run" so that ``newsmon status`` and a refused ``newsmon run``
name the dispatcher as they name a daemon ("PID 4242 host=a dispatch").
"""

from __future__ import annotations

import os
import socket
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import StoreError
from monitor.lock import LOCK_KEY, holder

__all__ = ["Leadership", "try_lead"]

_TRY = "SELECT pg_try_advisory_lock(:key, hashtext(current_schema()))"
_KEEPALIVE = ("SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 5", "SET tcp_keepalives_count = 3")


class Leadership:
    """The held lock. ``alive()`` says whether the session (so the lock) still exists; ``release()``."""

    def __init__(self, engine: Any, conn: Any) -> None:
        self._engine = engine
        self._conn = conn

    def alive(self) -> bool:
        try:
            self._conn.execute(text("SELECT 1")).scalar()
            self._conn.commit()
            return True
        except SQLAlchemyError:
            return False                 # the session is gone, and with it the lock: step down

    def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()             # the session ends: the server frees the lock
            finally:
                self._engine.dispose()

    def __enter__(self) -> Leadership:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def try_lead(url: str) -> Leadership | str:
    """The lock, or who holds it ("PID 4242 host=a dispatch"). StoreError when the server cannot be asked."""
    parsed = make_url(url)
    where = parsed.render_as_string(hide_password=True)
    name = f"newsmon run pid={os.getpid()} host={socket.gethostname()}"[:54] + " dispatch"
    engine = create_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=False,
                           connect_args={"connect_timeout": 10, "application_name": name})
    try:
        conn = engine.connect()
        for statement in _KEEPALIVE:
            conn.execute(text(statement))
        got = conn.execute(text(_TRY), {"key": LOCK_KEY}).scalar()
        conn.commit()
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"{where}: cannot take the dispatcher lock: {getattr(exc, 'orig', None) or exc}") from exc
    if got:
        return Leadership(engine, conn)
    conn.close()
    engine.dispose()
    return holder(url) or "unknown PID"
