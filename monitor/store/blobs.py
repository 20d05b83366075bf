"""Content-addressed blobs: zstd-compressed bytes keyed by the sha256 of the uncompressed bytes.

The same HTML or text stored twice (an article that reverts, two URLs serving one page) is one row.
Every read re-hashes the decompressed bytes, so a damaged row is reported, never returned as text.

A new version of an article mostly repeats the previous one, so its blobs are usually stored as deltas:
zstd with the previous version's blob of the same kind (text or HTML) as a raw-content dictionary, its
id in ``base``. A one-word edit then costs a few dozen bytes instead of a whole compressed page. Chains
are bounded: a blob whose base is already MAX_DEPTH deltas away from a standalone blob (a keyframe) is
stored standalone, so reading any blob costs at most MAX_DEPTH + 1 decompressions.

This module stores and reads blobs through SQLAlchemy (either dialect); compressing and decoding them is
monitor/store/blob_codec.py, which needs no database and is re-exported here.
"""

from __future__ import annotations

import threading
import weakref

from sqlalchemy import Select, bindparam, literal, select
from sqlalchemy.engine import Connection, RootTransaction

# Compression and decoding need no database, and live apart so that the plain-SQLite paths can use them
# without importing SQLAlchemy; re-exported here for the modules that read and write blobs through it.
from monitor.store.blob_codec import (
    CACHE_BYTES,
    CHAIN_LIMIT,
    CODEC,
    DELTA_CODEC,
    DELTA_LEVEL,
    DELTA_SURELY_SMALLER,
    MAX_DEPTH,
    ZSTD_LEVEL,
    Base,
    Blob,
    BlobCache,
    ChainRow,
    decode_chain,
    sha256_hex,
    version_blobs,
)
from monitor.store.schema import blobs, insert_ignore

__all__ = ["CACHE_BYTES", "CHAIN_LIMIT", "CODEC", "DELTA_CODEC", "DELTA_LEVEL", "DELTA_SURELY_SMALLER", "MAX_DEPTH",
           "ZSTD_LEVEL",
           "Base", "Blob", "BlobCache", "ChainRow", "decode_chain", "get_base", "get_blob", "put_blobs", "sha256_hex",
           "version_blobs"]


def put_blobs(conn: Connection, items: list[Blob]) -> dict[str, int]:
    """Store blobs that are not stored yet; existing keys are left alone (their content is the same).
    Returns the id of every blob given, by key, for the rows that refer to them.

    A delta's base must be stored already (a foreign key checks it): the store takes bases from
    committed versions, and blobs are never deleted or changed, so a committed base stays readable."""
    unique = {blob.sha256: blob for blob in items}
    if not unique:
        return {}
    insert_ignore(conn, blobs, [
        {"sha256": b.sha256, "size": b.size, "codec": b.codec, "base": b.base, "data": b.data}
        for b in unique.values()
    ], key="sha256")
    return dict(conn.execute(select(blobs.c.sha256, blobs.c.id).where(blobs.c.sha256.in_(list(unique)))).all())


def get_blob(conn: Connection, blob_id: int) -> bytes:
    """The uncompressed bytes of a blob, verified against its key."""
    return get_base(conn, blob_id).raw


def _chain_query() -> Select[int, str, str, int | None, bytes, int]:
    """A blob's row and the rows of its bases, nearest first: a chain in one query, not one per delta
    (each is a round trip to PostgreSQL)."""
    columns = (blobs.c.id, blobs.c.sha256, blobs.c.codec, blobs.c.base, blobs.c.data)
    first = (select(*columns, literal(0).label("hop")).where(blobs.c.id == bindparam("id"))
             .cte("chain", recursive=True))
    chain = first.union_all(
        select(*columns, first.c.hop + 1)
        .join(first, blobs.c.id == first.c.base)
        .where(first.c.codec == DELTA_CODEC, first.c.hop < CHAIN_LIMIT))
    return (select(chain.c.id, chain.c.sha256, chain.c.codec, chain.c.base, chain.c.data, chain.c.hop)
            .order_by(chain.c.hop))


_CHAIN = _chain_query()


def get_base(conn: Connection, blob_id: int) -> Base:
    """A blob decompressed, with its depth: each blob of its chain is verified against its own key."""
    cache = _cache(conn)
    below = cache.get(blob_id) if cache is not None else None
    if below is not None:
        return below
    rows: dict[int, ChainRow] = {ident: (key, codec, base, bytes(data))
                                 for ident, key, codec, base, data, _ in conn.execute(_CHAIN, {"id": blob_id})}
    return decode_chain(blob_id, rows, cache)


# Keyed by the transaction object, so a cache lives exactly as long as its transaction (the entry goes
# when the transaction is garbage-collected), with no change to the callers of get_blob.
_caches: weakref.WeakKeyDictionary[RootTransaction, BlobCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache(conn: Connection) -> BlobCache | None:
    transaction = conn.get_transaction()
    if transaction is None:
        return None
    with _caches_lock:
        return _caches.setdefault(transaction, BlobCache())
