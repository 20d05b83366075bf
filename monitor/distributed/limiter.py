"""Per-host politeness across every process: the ``HostGate`` of monitor/polite.py with its turn kept in a
place all workers (and the dispatcher's discovery) share.

The rule is the daemon's: one request at a time per host, the next sent ``delay`` after the previous
response *ended* (so the spacing holds at the server whatever the latencies). A turn is a key:

- taken with an atomic "set if absent" whose value is the taker's token and whose expiry is ``HOLD``
  seconds, renewed every ``HOLD / 3`` by the holder while its request runs: a request may take as long as
  its timeout allows, and a worker killed while holding a turn blocks its host for at most ``HOLD``;
- given back by replacing the key, only if it still holds the taker's token, with the marker ``gap``
  expiring ``delay`` from now: until then nobody can take it.

Expiry is counted on the shared server's clock (Redis, or PostgreSQL's ``clock_timestamp()``), so the
workers' clocks never have to agree. Within a process a lock per host keeps the process's own threads
from polling the server for one host all at once.

Two stores for the turns: Redis (``RedisTurns``: one Lua script per take or give-back, atomic on the
server) when the broker is Redis; PostgreSQL (``PostgresTurns``: one conditional UPDATE) when it is
RabbitMQ, which has no shared expiring keys. PostgreSQL costs about a millisecond more per request and
adds load to the store; the pacing is identical.

A turn store that cannot be reached (Redis down) is waited for up to ``UNREACHABLE`` seconds, then the
fetch is refused as ``HostDeferred`` (the article is planned a minute later): without the shared turn a
request could break another worker's spacing, so none is sent.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from typing import Any, Protocol

from monitor.errors import HostDeferred
from monitor.polite import HostLocks

__all__ = ["PostgresTurns", "RedisTurns", "SharedHostGate", "Turns"]

log = logging.getLogger("monitor.distributed.limiter")

HOLD = 6.0              # seconds a turn outlives its holder's last renewal (a killed worker's turn frees)
POLL = 0.05             # seconds between two looks while another process's request is in flight
UNREACHABLE = 10.0      # seconds a turn store may fail before the fetch is refused
DEFER = 60.0            # ... and how long the host is then left alone by this process's fetch


class Turns(Protocol):
    """Where the turns live. ``take`` returns 0 when taken, else seconds to wait (-1: a request in flight,
    look again soon); ``give_back`` makes the host wait ``gap`` seconds from now."""

    where: str

    def take(self, host: str, token: str, hold: float) -> float: ...

    def give_back(self, host: str, token: str, gap: float) -> None: ...

    def extend(self, host: str, token: str, hold: float) -> None: ...


_TAKE = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
if redis.call('get', KEYS[1]) == 'gap' then return math.max(redis.call('pttl', KEYS[1]), 1) end
return -1
"""
_GIVE_BACK = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('set', KEYS[1], 'gap', 'PX', ARGV[2]) else redis.call('del', KEYS[1]) end
return 1
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class RedisTurns:
    """Turns as Redis keys ``<prefix>:host:<host>`` (prefix: the queue's name, ``newsmon`` by default)."""

    def __init__(self, url: str, prefix: str, client: Any = None) -> None:
        import redis

        self.where = url.split("@")[-1]
        self.prefix = prefix
        self._redis = client or redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._take = self._redis.register_script(_TAKE)
        self._give_back = self._redis.register_script(_GIVE_BACK)
        self._extend = self._redis.register_script(_EXTEND)

    def key(self, host: str) -> str:
        return f"{self.prefix}:host:{host}"

    def take(self, host: str, token: str, hold: float) -> float:
        wait = int(self._take(keys=[self.key(host)], args=[token, max(1, math.ceil(hold * 1000))]))
        return wait / 1000 if wait > 0 else float(wait)

    def give_back(self, host: str, token: str, gap: float) -> None:
        self._give_back(keys=[self.key(host)], args=[token, math.ceil(gap * 1000) if gap > 0 else 0])

    def extend(self, host: str, token: str, hold: float) -> None:
        self._extend(keys=[self.key(host)], args=[token, max(1, math.ceil(hold * 1000))])

    def close(self) -> None:
        self._redis.close()


class PostgresTurns:
    """Turns as rows of ``newsmon_host_turns`` in the store (used when the broker is RabbitMQ).

    ``until`` is when the row frees: the end of the hold while ``holder`` is set, the end of the gap after.
    The table has a MetaData of its own: it is the limiter's scratch space, not part of the store's schema."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import Column, DateTime, MetaData, String, Table

        self.where = engine.url.render_as_string(hide_password=True)
        self._engine = engine
        self._table = Table("newsmon_host_turns", MetaData(),
                            Column("host", String(255), primary_key=True),
                            Column("holder", String(64)),
                            Column("until", DateTime(timezone=True), nullable=False))
        self._table.create(engine, checkfirst=True)

    def take(self, host: str, token: str, hold: float) -> float:
        from sqlalchemy import text

        with self._engine.begin() as conn:
            conn.execute(text("INSERT INTO newsmon_host_turns (host, holder, until) VALUES (:h, NULL, '-infinity') "
                              "ON CONFLICT (host) DO NOTHING"), {"h": host})
            taken = conn.execute(text(
                "UPDATE newsmon_host_turns SET holder = :t, until = clock_timestamp() + make_interval(secs => :s) "
                "WHERE host = :h AND until <= clock_timestamp() RETURNING host"), {"h": host, "t": token, "s": hold})
            if taken.first() is not None:
                return 0.0
            row = conn.execute(text("SELECT holder, EXTRACT(EPOCH FROM until - clock_timestamp()) FROM "
                                    "newsmon_host_turns WHERE host = :h"), {"h": host}).one()
        return -1.0 if row[0] is not None else max(float(row[1]), 0.001)

    def give_back(self, host: str, token: str, gap: float) -> None:
        from sqlalchemy import text

        with self._engine.begin() as conn:
            conn.execute(text("UPDATE newsmon_host_turns SET holder = NULL, "
                              "until = clock_timestamp() + make_interval(secs => :g) WHERE host = :h AND holder = :t"),
                         {"h": host, "t": token, "g": max(gap, 0.0)})

    def extend(self, host: str, token: str, hold: float) -> None:
        from sqlalchemy import text

        with self._engine.begin() as conn:
            conn.execute(text("UPDATE newsmon_host_turns SET until = clock_timestamp() + make_interval(secs => :s) "
                              "WHERE host = :h AND holder = :t"), {"h": host, "t": token, "s": hold})

    def close(self) -> None:
        pass


class SharedHostGate:
    """``HostGate``'s interface (``enter(host, delay)``, ``leave(host)``) over shared ``Turns``;
    ``PoliteFetcher.gate`` is replaced by one of these in every distributed process."""

    def __init__(self, turns: Turns, stopping: threading.Event, *, hold: float = HOLD) -> None:
        self.turns = turns
        self.hold = hold
        self._stopping = stopping
        self._locks = HostLocks(stopping)                  # one request per host within this process
        self._held: dict[str, tuple[str, float]] = {}      # host -> (token, delay) of this process's turn
        self._guard = threading.Lock()
        self._renewer: threading.Thread | None = None

    def enter(self, host: str, delay: float) -> bool:
        """Wait for ``host``'s turn and take it; False (holding nothing) when the process stops meanwhile."""
        if not self._locks.take(host):
            return False
        try:
            token = self._wait_turn(host, delay)
        except BaseException:
            self._locks.release(host)
            raise
        if token is None:
            self._locks.release(host)
            return False
        self._held[host] = (token, delay)
        self._renew_in_background()
        return True

    def _renew_in_background(self) -> None:
        with self._guard:
            if self._renewer is None or not self._renewer.is_alive():
                self._renewer = threading.Thread(target=self._renew, name="newsmon-turns", daemon=True)
                self._renewer.start()

    def _renew(self) -> None:
        """Extend the turns this process holds every hold/3 seconds (a thread for the process's life: one
        that ended when nothing was held could miss a turn taken as it ended)."""
        while not self._stopping.wait(self.hold / 3):
            for host, (token, delay) in list(self._held.items()):
                try:
                    self.turns.extend(host, token, self.hold + delay)
                except Exception as exc:  # noqa: BLE001 -- the next renewal tries again
                    log.warning("could not renew the turn of %s at %s: %s", host, self.turns.where, exc)

    def _wait_turn(self, host: str, delay: float) -> str | None:
        token = uuid.uuid4().hex
        failing_since: float | None = None
        while not self._stopping.is_set():
            try:
                wait = self.turns.take(host, token, self.hold + delay)
                failing_since = None
            except Exception as exc:  # noqa: BLE001 -- any client error: the shared turn is unknown
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since >= UNREACHABLE:
                    raise HostDeferred(host, f"the shared politeness limiter at {self.turns.where} cannot be "
                                             f"reached ({exc}); no request is sent without it",
                                       time.time() + DEFER) from exc
                self._stopping.wait(0.5)
                continue
            if wait == 0:
                return token
            self._stopping.wait(POLL if wait < 0 else min(wait, 1.0))
        return None

    def leave(self, host: str) -> None:
        """The request to ``host`` is over: the next one, from any process, may go ``delay`` from now."""
        token, delay = self._held.pop(host)
        try:
            self.turns.give_back(host, token, delay)
        except Exception as exc:  # noqa: BLE001 -- the turn then frees itself when its hold expires
            log.warning("could not give back the turn of %s at %s (%s); it frees itself within %.0f s",
                        host, self.turns.where, exc, self.hold)
        finally:
            self._locks.release(host)
