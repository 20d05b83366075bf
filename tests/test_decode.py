"""BoundedDecoder: round trips in any chunking, bombs stopped at the cap, broken streams reported."""

from __future__ import annotations

import gzip
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable

import brotli  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.decode import BoundedDecoder
from monitor.errors import BodyTooLarge, ContentDecodingError

MiB = 1024 * 1024


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


# header value -> how a server would produce the body
ENCODERS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": ("gzip", gzip.compress),
    "x-gzip": ("x-gzip", gzip.compress),
    "deflate (zlib)": ("deflate", zlib.compress),
    "deflate (raw)": ("deflate", raw_deflate),
    "br": ("br", lambda data: brotli.compress(data, quality=4)),
    "identity": ("identity", lambda data: data),
    "none": ("", lambda data: data),
    "gzip, br": ("gzip, br", lambda data: brotli.compress(gzip.compress(data), quality=4)),
    "br, deflate": ("br, deflate", lambda data: zlib.compress(brotli.compress(data, quality=4))),
}


def decode_in_chunks(encoding: str, body: bytes, sizes: list[int], limit: int) -> bytes:
    decoder = BoundedDecoder(encoding, limit, "http://example.test/")
    out, pos, n = [], 0, 0
    while pos < len(body):
        size = sizes[n % len(sizes)]
        out.append(decoder.feed(body[pos:pos + size]))
        pos, n = pos + size, n + 1
    out.append(decoder.flush())
    return b"".join(out)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(ENCODERS)),
    piece=st.binary(max_size=1500),
    repeat=st.integers(min_value=1, max_value=60),     # repetition makes the data compressible
    sizes=st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=8),
)
def test_round_trip_in_any_chunking(name: str, piece: bytes, repeat: int, sizes: list[int]) -> None:
    encoding, encode = ENCODERS[name]
    data = piece * repeat
    body = encode(data)
    assert decode_in_chunks(encoding, body, sizes, limit=len(data)) == data
    if data:
        with pytest.raises(BodyTooLarge):
            decode_in_chunks(encoding, body, sizes, limit=len(data) - 1)


def make_bombs(size: int = 50 * MiB) -> dict[str, bytes]:
    """``size`` zeros as gzip, zlib deflate and br. The deflate stream is compressed once and wrapped
    by hand for gzip and zlib, to keep the tests fast."""
    zeros = bytes(size)
    compressor = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = compressor.compress(zeros) + compressor.flush()
    gz_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    gz = gz_header + deflated + struct.pack("<II", zlib.crc32(zeros), size & 0xFFFFFFFF)
    zl = b"\x78\x01" + deflated + struct.pack(">I", zlib.adler32(zeros))
    return {"gzip": gz, "deflate": zl, "br": brotli.compress(zeros, quality=1)}


@pytest.fixture(scope="module")
def bombs() -> dict[str, tuple[str, bytes]]:
    made = make_bombs()
    return {
        "gzip": ("gzip", made["gzip"]),
        "deflate": ("deflate", made["deflate"]),
        "br": ("br", made["br"]),
        "gzip, gzip": ("gzip, gzip", gzip.compress(made["gzip"], compresslevel=1)),
        "br, gzip": ("br, gzip", gzip.compress(made["br"], compresslevel=1)),
    }


def test_hand_made_bombs_are_valid() -> None:
    made = make_bombs(3 * MiB)
    assert gzip.decompress(made["gzip"]) == bytes(3 * MiB)
    assert zlib.decompress(made["deflate"]) == bytes(3 * MiB)


@pytest.mark.parametrize("name", ["gzip", "deflate", "br", "gzip, gzip", "br, gzip"])
@pytest.mark.parametrize("chunk", [64 * 1024, None], ids=["64k-chunks", "one-chunk"])
def test_bomb_stops_at_limit_with_bounded_memory(bombs: dict[str, tuple[str, bytes]], name: str,
                                                 chunk: int | None) -> None:
    encoding, body = bombs[name]
    chunks = [body] if chunk is None else [body[i:i + chunk] for i in range(0, len(body), chunk)]
    decoder = BoundedDecoder(encoding, MiB, "http://bomb.test/")
    produced = 0
    tracemalloc.start()
    began = time.monotonic()
    try:
        with pytest.raises(BodyTooLarge) as info:
            for piece in chunks:
                produced += len(decoder.feed(piece))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - began < 1
    assert produced <= MiB
    assert peak < 2 * MiB, f"peak {peak:,} bytes while decoding a 50 MiB bomb"
    assert info.value.limit == MiB
    assert info.value.url == "http://bomb.test/"


@pytest.mark.parametrize("name", ["gzip", "deflate (zlib)", "deflate (raw)", "br", "gzip, br"])
def test_truncated_stream_is_a_decoding_error(name: str) -> None:
    encoding, encode = ENCODERS[name]
    body = encode(b"<p>an article</p>" * 200)
    decoder = BoundedDecoder(encoding, MiB)
    decoder.feed(body[: len(body) // 2])
    with pytest.raises(ContentDecodingError, match="truncated"):
        decoder.flush()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_corrupt_stream_is_a_decoding_error(encoding: str) -> None:
    decoder = BoundedDecoder(encoding, MiB, "http://x.test/")
    with pytest.raises(ContentDecodingError, match=f"corrupt {encoding} body"):
        decoder.feed(b"this is not compressed at all, just text" * 10)
        decoder.flush()


@pytest.mark.parametrize("encoding", ["zstd", "compress", "gzip, zstd"])
def test_unknown_encoding_is_refused_up_front(encoding: str) -> None:
    with pytest.raises(ContentDecodingError, match="unsupported Content-Encoding 'zstd'|'compress'"):
        BoundedDecoder(encoding, MiB)


def test_encoding_names_are_case_and_space_insensitive() -> None:
    decoder = BoundedDecoder(" GZip ,  Identity ", MiB)
    assert decoder.feed(gzip.compress(b"hello")) + decoder.flush() == b"hello"


def test_gzip_with_several_members_and_padding() -> None:
    body = gzip.compress(b"first ") + gzip.compress(b"second") + b"\0\0\0\0"
    decoder = BoundedDecoder("gzip", MiB)
    out = b"".join(decoder.feed(body[i:i + 3]) for i in range(0, len(body), 3)) + decoder.flush()
    assert out == b"first second"


def test_bytes_after_a_brotli_stream_are_an_error() -> None:
    decoder = BoundedDecoder("br", MiB)
    decoder.feed(brotli.compress(b"done"))
    with pytest.raises(ContentDecodingError):
        decoder.feed(b"junk")


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_empty_body_with_an_encoding_is_empty(encoding: str) -> None:
    assert BoundedDecoder(encoding, MiB).flush() == b""


def test_identity_counts_and_passes_through() -> None:
    decoder = BoundedDecoder(None, 10)
    assert decoder.identity
    assert decoder.feed(b"12345") == b"12345"
    assert decoder.feed(b"67890") == b"67890"
    assert decoder.total == 10
    with pytest.raises(BodyTooLarge):
        decoder.feed(b"!")
