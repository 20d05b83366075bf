"""Blobs stored as deltas against the article's previous version (monitor/store/blobs.py), on both backends."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from test_store import URL, check, count, new_version, revise, seed_document

from monitor.errors import StoreError
from monitor.models import Document
from monitor.store import Store, blob_codec
from monitor.store.blobs import CODEC, DELTA_CODEC, MAX_DEPTH, Base, Blob, get_blob, put_blobs, sha256_hex
from monitor.store.schema import blobs, versions


def rows(store: Store) -> dict[int, Any]:
    """Every blob row by id."""
    with store.engine.connect() as conn:
        return {r.id: r for r in conn.execute(
            select(blobs.c.id, blobs.c.sha256, blobs.c.codec, blobs.c.base, blobs.c.size, blobs.c.data))}


def blob_id(store: Store, key: str) -> int:
    """The id of the blob with this sha256."""
    with store.engine.connect() as conn:
        return int(conn.execute(select(blobs.c.id).where(blobs.c.sha256 == key)).scalar_one())


def text_ids(store: Store) -> list[int]:
    """The text blob of each version, oldest first."""
    with store.engine.connect() as conn:
        return list(conn.execute(select(versions.c.text_blob).order_by(versions.c.number)).scalars())


def depth(stored: dict[int, Any], ident: int) -> int:
    hops = 0
    while stored[ident].base is not None:
        ident, hops = stored[ident].base, hops + 1
    return hops


def record_revisions(store: Store, count_: int) -> list[Document]:
    doc = seed_document()
    docs = [revise(doc, n) for n in range(count_)]
    for n, d in enumerate(docs):
        outcome = "new" if n == 0 else "modified"
        assert store.record(URL, "BBC", check(n, outcome), new_version=new_version(d, n)) == n + 1
    return docs


def test_a_small_revision_is_a_small_delta_against_the_previous_version(store: Store) -> None:
    docs = record_revisions(store, 2)
    stored, (first, second) = rows(store), text_ids(store)
    assert (stored[first].codec, stored[first].base) == (CODEC, None)
    assert (stored[second].codec, stored[second].base) == (DELTA_CODEC, first)
    # One figure changed in a 2.7 kB text: the delta is a few dozen bytes, the keyframe over a kilobyte.
    assert len(stored[second].data) < 80 < 1000 < len(stored[first].data)
    assert store.version(URL, 2).text == docs[1].text
    html = store.version(URL, 2).html_sha256
    assert stored[blob_id(store, html)].codec == DELTA_CODEC and sha256_hex(store.raw_html(URL, 2)) == html


def test_chains_are_bounded_by_keyframes(store: Store) -> None:
    docs = record_revisions(store, 2 * MAX_DEPTH + 4)
    stored, keys = rows(store), text_ids(store)
    # Version 1 is a keyframe, each next one a delta on the one before, until the chain is MAX_DEPTH long.
    assert [depth(stored, key) for key in keys] == [n % (MAX_DEPTH + 1) for n in range(len(keys))]
    for previous, key in zip(keys, keys[1:], strict=False):
        assert stored[key].base in (None, previous)
    for number, doc in enumerate(docs, 1):
        assert store.version(URL, number).text == doc.text
    assert store.latest_version(URL).text == docs[-1].text  # type: ignore[union-attr]


def test_a_flip_back_reuses_the_first_blob(store: Store) -> None:
    doc, other = seed_document(), revise(seed_document(), 1)
    for n, d in enumerate([doc, other, doc]):
        store.record(URL, "BBC", check(n), new_version=new_version(d, n))
    first, second, third = text_ids(store)
    assert third == first and rows(store)[first].codec == CODEC    # stored once, as it was
    assert count(store, blobs) == 4                                 # two texts, two pages
    assert store.version(URL, 3).text == doc.text


def test_an_unrelated_text_is_stored_standalone(store: Store) -> None:
    record_revisions(store, 1)
    rng = random.Random(7)
    noise = Document(title="Other", text=" ".join(f"{rng.getrandbits(64):x}" for _ in range(400)))
    store.record(URL, "BBC", check(1, "modified"), new_version=new_version(noise, 1))
    key = text_ids(store)[1]
    assert rows(store)[key].codec == CODEC           # a delta would not have been smaller
    assert store.version(URL, 2).text == noise.text


def test_blob_of_never_chains_past_max_depth_or_onto_itself() -> None:
    raw = b"The minister said the budget would rise. " * 20
    edited = raw.replace(b"rise", b"fall", 1)
    assert Blob.of(edited, Base(1, sha256_hex(raw), raw, MAX_DEPTH - 1)).base == 1
    assert Blob.of(edited, Base(1, sha256_hex(raw), raw, MAX_DEPTH)).codec == CODEC
    assert Blob.of(raw, Base(1, sha256_hex(raw), raw, 0)).base is None
    assert Blob.of(edited, Base(1, sha256_hex(b""), b"", 0)).codec == CODEC


def test_a_damaged_base_is_reported_and_the_next_version_still_stores(store: Store) -> None:
    docs = record_revisions(store, 3)
    first = text_ids(store)[0]
    with store.engine.begin() as conn:
        conn.execute(update(blobs).where(blobs.c.id == first).values(data=b"\x00garbage"))
    with pytest.raises(StoreError, match=f"blob {rows(store)[first].sha256} is corrupt"):
        store.version(URL, 3)
    # The latest text cannot serve as a base: the next version is written standalone, and reads back.
    fresh = revise(docs[0], 9)
    assert store.record(URL, "BBC", check(9, "modified"), new_version=new_version(fresh, 9)) == 4
    assert rows(store)[text_ids(store)[3]].codec == CODEC
    assert store.version(URL, 4).text == fresh.text


def test_a_chain_without_a_keyframe_is_refused_not_looped(store: Store) -> None:
    record_revisions(store, 2)
    first, second = text_ids(store)
    with store.engine.begin() as conn:
        conn.execute(update(blobs).where(blobs.c.id == first).values(codec=DELTA_CODEC, base=second))
    with pytest.raises(StoreError, match="no keyframe"):
        store.version(URL, 2)


def test_a_delta_on_a_base_that_is_not_stored_is_refused(store: Store) -> None:
    raw = b"some text " * 50
    base = Base(12345, sha256_hex(raw[:-5]), raw[:-5], 0)       # no blob has this id
    with store.engine.connect() as conn, pytest.raises(IntegrityError):
        # The foreign key on blobs.base: the database itself keeps every delta readable.
        put_blobs(conn, [Blob.of(raw, base)])
        conn.commit()


def test_one_transaction_decompresses_each_blob_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = record_revisions(store, MAX_DEPTH + 1)
    calls: list[str] = []
    decompress = blob_codec._decompress

    def counting(key: str, data: bytes, base: bytes | None) -> bytes:
        calls.append(key)
        return decompress(key, data, base)

    monkeypatch.setattr(blob_codec, "_decompress", counting)
    ids = text_ids(store)
    with store.engine.begin() as conn:
        # Newest first: the first read walks the whole chain, the others find their blob in the cache.
        assert [get_blob(conn, ident).decode() for ident in reversed(ids)] == [d.text for d in reversed(docs)]
    stored = rows(store)
    assert sorted(calls) == sorted(stored[ident].sha256 for ident in ids)
    calls.clear()
    store.version(URL, MAX_DEPTH + 1)         # a new transaction starts without the cache
    assert len(calls) == MAX_DEPTH + 1


def test_a_chain_longer_than_any_written_is_refused(store: Store) -> None:
    # Depth 0 given for every base: the chain grows past anything Blob.of would write from real depths.
    raw, base = b"budget line 0 " * 40, None
    with store.engine.begin() as conn:
        for n in range(blob_codec.CHAIN_LIMIT + 2):
            blob = Blob.of(raw, base)
            ident = put_blobs(conn, [blob])[blob.sha256]
            base, raw = Base(ident, blob.sha256, raw, 0), raw + f" line {n}".encode()
    assert rows(store)[ident].codec == DELTA_CODEC
    with store.engine.connect() as conn, pytest.raises(StoreError, match="no keyframe"):
        get_blob(conn, ident)


def test_only_a_delta_that_is_not_surely_smaller_costs_a_whole_compression(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small edit's delta is taken as it is; a larger one is compared with the whole compressed alone,
    and the smaller of the two is stored."""
    calls: list[bool] = []
    compress = blob_codec._compress

    def counting(raw: bytes, base: bytes | None = None) -> bytes:
        calls.append(base is None)
        return compress(raw, base)

    monkeypatch.setattr(blob_codec, "_compress", counting)
    rng = random.Random(3)
    words = [f"{rng.getrandbits(24):x}" for _ in range(2000)]
    raw = " ".join(words).encode()
    base = Base(1, sha256_hex(raw), raw, 0)

    small = Blob.of(raw.replace(words[10].encode(), b"casualties", 1), base)
    assert small.codec == DELTA_CODEC and calls == [False]            # the delta alone: no whole compressed
    assert len(small.data) * blob_codec.DELTA_SURELY_SMALLER < len(raw)

    calls.clear()
    rewritten = " ".join(words[:1000] + [f"{rng.getrandbits(24):x}" for _ in range(1000)]).encode()
    large = Blob.of(rewritten, base)
    assert calls == [False, True]                                     # the delta, then the whole to compare
    alone = blob_codec._compress(rewritten)
    delta = blob_codec._compress(rewritten, raw)
    assert large.codec == (DELTA_CODEC if len(delta) < len(alone) else CODEC)
    assert len(large.data) == min(len(delta), len(alone))
