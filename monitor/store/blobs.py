"""Content-addressed blobs: zstd-compressed bytes keyed by the sha256 of the uncompressed bytes.

The same HTML or text stored twice (an article that reverts, two URLs serving one page) is one row.
Every read re-hashes the decompressed bytes, so a damaged row is reported, never returned as text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import zstandard
from sqlalchemy import select
from sqlalchemy.engine import Connection

from monitor.errors import StoreError
from monitor.store.schema import blobs, insert_ignore

# Level 10, measured on 60 real news pages of the extraction benchmark (9.6 MB of HTML, median page
# 116 kB): level 3 gives 1.93 MB (5.0x) at 270 MB/s, level 10 gives 1.74 MB (5.5x) at 49 MB/s, i.e.
# 10% smaller for about 3 ms of CPU per page, which is nothing next to the fetch that produced it.
# Levels 15 and 19 save only another 3-5% at 9 and 2 MB/s. On the tiny seed article (3 kB as HTML)
# every level gives ~2.1x. Decompression is ~1 GB/s at any level.
ZSTD_LEVEL = 10
CODEC = "zstd"



def _compress(raw: bytes) -> bytes:
    # A (de)compressor object must not be shared between threads, and building one costs ~10 us, so
    # each call gets its own rather than a lock or a thread-local.
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Blob:
    """A blob ready to be written: compressed before the transaction opens, to keep it short."""

    sha256: str
    size: int
    data: bytes

    @classmethod
    def of(cls, raw: bytes) -> Blob:
        return cls(sha256=sha256_hex(raw), size=len(raw), data=_compress(raw))


def put_blobs(conn: Connection, items: list[Blob]) -> None:
    """Store blobs that are not stored yet; existing keys are left alone (their content is the same)."""
    unique = {blob.sha256: blob for blob in items}
    insert_ignore(conn, blobs, [
        {"sha256": b.sha256, "size": b.size, "codec": CODEC, "data": b.data} for b in unique.values()
    ], key="sha256")


def get_blob(conn: Connection, sha256: str) -> bytes:
    """The uncompressed bytes of a blob, verified against their key."""
    row = conn.execute(select(blobs.c.codec, blobs.c.data).where(blobs.c.sha256 == sha256)).first()
    if row is None:
        raise StoreError(f"blob {sha256} is missing from the store")
    codec, data = row
    if codec != CODEC:
        raise StoreError(f"blob {sha256} uses codec {codec!r}, which this version of newsmon cannot read")
    try:
        # max_output_size: frames written by streaming APIs may not record their size; ours do, this is
        # only a fallback. A tampered header claiming a huge size fails the hash check below anyway.
        raw = zstandard.ZstdDecompressor().decompress(bytes(data), max_output_size=1 << 30)
    except zstandard.ZstdError as exc:
        raise StoreError(f"blob {sha256} is corrupt: cannot decompress it ({exc})") from exc
    if sha256_hex(raw) != sha256:
        raise StoreError(f"blob {sha256} is corrupt: its content has sha256 {sha256_hex(raw)}")
    return raw
