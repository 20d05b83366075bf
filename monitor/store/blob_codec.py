"""Blobs without the database: compressing a version's bytes (as a delta against the previous version's
when that is smaller), and decompressing and verifying a chain of deltas read back.

monitor/store/blobs.py stores and reads blobs through SQLAlchemy; the plain-SQLite reads and writes of
monitor/store/plain_sqlite.py and monitor/store/reporting.py use this module alone, so that a process
checking and reporting changed articles on a SQLite store never imports SQLAlchemy (about 0.2 s of CPU).
monitor.store.blobs re-exports everything here, and its docstring tells how blobs are stored.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import zstandard

from monitor.errors import StoreError
from monitor.store.records import NewVersion

# Level 10, measured on 60 real news pages of the extraction benchmark (9.6 MB of HTML, median page
# 116 kB): level 3 gives 1.93 MB (5.0x) at 270 MB/s, level 10 gives 1.74 MB (5.5x) at 49 MB/s, i.e.
# 10% smaller for about 3 ms of CPU per page, which is nothing next to the fetch that produced it.
# Levels 15 and 19 save only another 3-5% at 9 and 2 MB/s. On the tiny seed article (3 kB as HTML)
# every level gives ~2.1x. Decompression is ~1 GB/s at any level.
ZSTD_LEVEL = 10
# Deltas at level 6: against a 13 kB news page as the dictionary, level 10 costs 0.9 ms per page and level
# 6 0.2 ms, for deltas 2% larger (1,100 bytes against 1,081 for the pages of benchmarks/news_site.py, whose
# noise changes between fetches); a one-word edit of the seed article's text is 24 bytes at either level.
DELTA_LEVEL = 6
CODEC = "zstd"               # standalone (a keyframe)
DELTA_CODEC = "zstd-delta"   # zstd with the blob named in ``base`` as a raw-content dictionary
# Longest chain of deltas above a keyframe. Keyframes are most of the bytes of small edits (one in
# MAX_DEPTH + 1 versions is a whole compressed blob); deeper chains cost reads a decompression per level.
# benchmarks/storage_size.py (100 one-word or one-figure revisions of a 2.7 kB text), text blobs against
# the raw text: 4 -> 9.9%, 8 -> 6.3%, 16 -> 3.6%; a version read stays under 1 ms on SQLite with any (a
# delta of an article's text decodes in about 0.01 ms).
MAX_DEPTH = 16
# A delta this many times smaller than the raw bytes is taken without compressing the whole to compare:
# no news page compresses that well on its own (the 181 pages of the extraction benchmark at level 10:
# 4.9x for the median page, 10.2x at most), and texts compress less.
DELTA_SURELY_SMALLER = 12
# Decompressed blobs kept per transaction: a reader going through an article's versions decompresses
# each delta once instead of its whole chain again. Blobs are immutable, so a hit can never be stale.
CACHE_BYTES = 16 << 20


def _compress(raw: bytes, base: bytes | None = None) -> bytes:
    # A (de)compressor object must not be shared between threads, and building one costs ~10 us, so
    # each call gets its own rather than a lock or a thread-local.
    if base is None:
        return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)
    return zstandard.ZstdCompressor(level=DELTA_LEVEL, dict_data=_dictionary(base)).compress(raw)


def _dictionary(base: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Base:
    """A stored blob, decompressed: what a new blob of the same kind may be compressed against."""

    id: int      # its row's id, by which versions and deltas refer to it
    sha256: str
    raw: bytes
    depth: int   # deltas between it and its keyframe: 0 for a standalone blob


@dataclass(frozen=True)
class Blob:
    """A blob ready to be written: compressed before the transaction opens, to keep it short."""

    sha256: str
    size: int
    data: bytes
    codec: str = CODEC
    base: int | None = None     # the id of the stored blob a delta is compressed against

    @classmethod
    def of(cls, raw: bytes, base: Base | None = None) -> Blob:
        """The blob of ``raw``, as a delta against ``base`` (a stored blob) when that is smaller."""
        key = sha256_hex(raw)
        # Never a delta against itself (an unchanged page: the row exists and is kept) or an empty base
        # (nothing to refer to), nor one that would lengthen the chain past MAX_DEPTH.
        if base is not None and base.sha256 != key and base.raw and base.depth < MAX_DEPTH:
            delta = cls(sha256=key, size=len(raw), data=_compress(raw, base.raw), codec=DELTA_CODEC,
                        base=base.id)
            # A small edit's delta is tens of bytes, far below any compression of the whole (news HTML and
            # text compress 2-10x): then the whole is not compressed only to be compared, which at level 10
            # costs about 3 ms for a real news page.
            if len(delta.data) * DELTA_SURELY_SMALLER < len(raw):
                return delta
            alone = _compress(raw)
            return delta if len(delta.data) < len(alone) else cls(sha256=key, size=len(raw), data=alone)
        return cls(sha256=key, size=len(raw), data=_compress(raw))


def version_blobs(new: NewVersion, bases: tuple[Base | None, Base | None] | None) -> tuple[Blob, Blob]:
    """The (HTML, text) blobs of a new version, each against the latest version's blob of its kind, given
    as (text, HTML) bases; compressed before the write transaction opens, to keep it short."""
    text_base, html_base = bases or (None, None)
    return Blob.of(new.html, html_base), Blob.of(new.document.text.encode("utf-8"), text_base)


# A chain longer than this cannot have been written (MAX_DEPTH is far smaller): a tampered row, whose
# read must end with an error rather than loop.
CHAIN_LIMIT = 64


# A blob's row as decode_chain needs it: (sha256, codec, base id, compressed data).
ChainRow = tuple[str, str, int | None, bytes]


def decode_chain(blob_id: int, rows: dict[int, ChainRow], cache: BlobCache | None) -> Base:
    """The blob ``blob_id`` from the rows of its chain (id -> sha256, codec, base, data), as the chain query
    of monitor.store.blobs reads them, or its plain-SQL twin (monitor/store/plain_sqlite.py); each blob is
    verified against its own key, and what is decompressed goes to ``cache`` if given."""
    # Walk down from the wanted blob to a keyframe (or a blob decompressed earlier in this transaction),
    # then decompress back up, each delta with the blob below it as its dictionary.
    chain: list[tuple[int, str, str, bytes]] = []
    ident: int | None = blob_id
    below: Base | None = None
    while ident is not None:
        below = cache.get(ident) if cache is not None else None
        if below is not None:
            break
        if ident not in rows:
            if len(chain) >= CHAIN_LIMIT:
                raise StoreError(f"blob {chain[0][1]} is corrupt: its chain of deltas has no keyframe")
            named = f"blob #{ident}, the base of blob {chain[-1][1]}," if chain else f"blob #{ident}"
            raise StoreError(f"{named} is missing from the store")
        key, codec, base, data = rows[ident]
        if codec not in (CODEC, DELTA_CODEC):
            raise StoreError(f"blob {key} uses codec {codec!r}, which this version of newsmon cannot read")
        if codec == DELTA_CODEC and (base is None or base == ident or any(base == i for i, _, _, _ in chain)):
            raise StoreError(f"blob {key} is corrupt: its chain of deltas has no keyframe")
        chain.append((ident, key, codec, data))
        ident = base if codec == DELTA_CODEC else None
    for ident, key, codec, data in reversed(chain):
        if codec == DELTA_CODEC and below is not None:   # a delta always has the blob below it
            below = Base(id=ident, sha256=key, raw=_decompress(key, data, below.raw), depth=below.depth + 1)
        else:
            below = Base(id=ident, sha256=key, raw=_decompress(key, data, None), depth=0)
        if cache is not None:
            cache.put(below)
    assert below is not None  # the loop ran at least once, or the blob was in the cache
    return below


def _decompress(key: str, data: bytes, base: bytes | None) -> bytes:
    try:
        decompressor = (zstandard.ZstdDecompressor() if base is None
                        else zstandard.ZstdDecompressor(dict_data=_dictionary(base)))
        # max_output_size: frames written by streaming APIs may not record their size; ours do, this is
        # only a fallback. A tampered header claiming a huge size fails the hash check below anyway.
        raw = decompressor.decompress(data, max_output_size=1 << 30)
    except zstandard.ZstdError as exc:
        raise StoreError(f"blob {key} is corrupt: cannot decompress it ({exc})") from exc
    if sha256_hex(raw) != key:
        raise StoreError(f"blob {key} is corrupt: its content has sha256 {sha256_hex(raw)}")
    return raw


class BlobCache:
    """Decompressed blobs of one transaction, the oldest dropped beyond CACHE_BYTES."""

    def __init__(self) -> None:
        self._blobs: OrderedDict[int, Base] = OrderedDict()
        self._bytes = 0

    def get(self, blob_id: int) -> Base | None:
        return self._blobs.get(blob_id)

    def put(self, blob: Base) -> None:
        if blob.id in self._blobs or len(blob.raw) > CACHE_BYTES:
            return
        self._blobs[blob.id] = blob
        self._bytes += len(blob.raw)
        while self._bytes > CACHE_BYTES:
            self._bytes -= len(self._blobs.popitem(last=False)[1].raw)
