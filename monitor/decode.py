"""Bounded decoding of HTTP ``Content-Encoding`` (gzip, deflate, br and chains of them).

httpx inflates a whole network read before the caller can count the result, so one 64 KiB read of a
decompression bomb can become gigabytes. ``BoundedDecoder`` instead asks each decompressor for at
most a small step of output at a time and counts as it goes: decoding stops with ``BodyTooLarge`` as
soon as the decoded total passes the limit, having materialised at most the limit plus one step.

Decoding is a pipeline of stages, one per encoding, in the reverse of the order the header lists
them ("gzip, br" means gzip was applied first, so br is undone first). Each stage keeps its unread
input and hands out output on demand (``pull``), so no stage ever holds more than one step of its
upstream's output.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import brotli  # type: ignore[import-untyped]

from monitor.errors import BodyTooLarge, ContentDecodingError

__all__ = ["BoundedDecoder", "SUPPORTED_ENCODINGS"]

# Largest piece of output asked of a decompressor at once. zlib honours it exactly; brotli's
# output_buffer_limit is soft (its buffer grows in blocks), so one brotli pull may return up to about
# one and a half steps. Either way a bomb costs at most the limit plus about one step.
_STEP = 64 * 1024

_GZIP_MAGIC = b"\x1f\x8b"

SUPPORTED_ENCODINGS = ("gzip", "x-gzip", "deflate", "br", "identity")


class _Stage(Protocol):
    """One decoding step of the pipeline."""

    name: str

    def push(self, data: bytes) -> None:
        """Queue compressed input. Only called when the previous ``pull`` returned ``b""``."""

    def pull(self, max_length: int) -> bytes:
        """Up to about ``max_length`` decoded bytes; ``b""`` when more input is needed."""

    def finish(self) -> None:
        """Raise ``ValueError`` if the stream stopped before its end."""


class _ZlibStage:
    """gzip (``wbits`` 31) or deflate; deflate picks zlib-wrapped or raw from the first two bytes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._gzip = name == "gzip"
        self._pending = b""            # input zlib has not consumed yet
        self._inflater: zlib._Decompress | None = None   # None between gzip members
        self._members = 0              # complete gzip members (or deflate streams) decoded
        self._done = False             # after the end of the stream: further input is ignored

    def push(self, data: bytes) -> None:
        if not self._done:
            self._pending += data

    def pull(self, max_length: int) -> bytes:
        while not self._done:
            if self._inflater is None and not self._start():
                return b""
            assert self._inflater is not None
            out = self._inflater.decompress(self._pending, max_length)
            self._pending = self._inflater.unconsumed_tail
            if self._inflater.eof:
                self._end_of_member()
            if out or self._inflater is not None:
                # Either output, or all input consumed mid-stream. With no output, a member that just
                # ended may leave the next one in _pending: loop to start it.
                return out
        return b""

    def finish(self) -> None:
        if self._done or (self._inflater is None and self._members):
            return
        if self._inflater is None and self._pending:
            raise ValueError("stream too short to be valid")
        if self._inflater is not None:
            raise ValueError("stream ended before its end marker (truncated)")

    def _start(self) -> bool:
        """Create the inflater once enough input has arrived to choose its format."""
        if len(self._pending) < 2:
            return False
        if self._gzip:
            if self._members and not self._pending.startswith(_GZIP_MAGIC):
                # Servers sometimes pad a gzip body; like browsers, ignore what follows the last member.
                self._stop()
                return False
            wbits = 16 + zlib.MAX_WBITS
        else:
            # RFC 9110 says "deflate" is zlib-wrapped, but many servers send raw deflate: a zlib header
            # has compression method 8 and a check value that makes the first two bytes divisible by 31.
            cmf, flg = self._pending[0], self._pending[1]
            zlib_wrapped = cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0
            wbits = zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS
        self._inflater = zlib.decompressobj(wbits)
        return True

    def _end_of_member(self) -> None:
        assert self._inflater is not None
        self._members += 1
        if self._gzip:
            # A gzip body may be several members back to back (RFC 1952 section 2.2); the next one may
            # not have arrived yet, so _start decides once two bytes are there.
            self._pending = self._inflater.unused_data + self._pending
            self._inflater = None
        else:
            self._stop()               # bytes after a deflate stream: ignored, as for gzip padding

    def _stop(self) -> None:
        self._done = True
        self._pending = b""


class _BrotliStage:
    name = "br"

    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()
        self._pending = b""
        self._seen_input = False

    def push(self, data: bytes) -> None:
        if data:
            self._seen_input = True
            self._pending += data

    def pull(self, max_length: int) -> bytes:
        if self._decompressor.is_finished():
            if self._pending:
                # brotli itself rejects trailing bytes that arrive with the end of the stream; do the
                # same when they arrive in a later chunk, so the outcome does not depend on chunking.
                raise ValueError("data after the end of the brotli stream")
            return b""
        # The decoder may hold output from earlier input even when it says it can accept more, so an
        # empty process() call is how it is drained; it returns b"" once it needs more input.
        data = b""
        if self._pending and self._decompressor.can_accept_more_data():
            data, self._pending = self._pending, b""
        out: bytes = self._decompressor.process(data, output_buffer_limit=max_length)
        return out

    def finish(self) -> None:
        if self._seen_input and not self._decompressor.is_finished():
            raise ValueError("stream ended before its end marker (truncated)")


def _parse(content_encoding: str | None) -> list[str]:
    """Encodings in the order they were applied, without ``identity``; aliases normalised."""
    names = []
    for part in (content_encoding or "").split(","):
        name = part.strip().lower()
        if name in ("", "identity"):
            continue
        if name == "x-gzip":
            name = "gzip"
        if name not in SUPPORTED_ENCODINGS:
            raise ValueError(name)
        names.append(name)
    return names


class BoundedDecoder:
    """Decode a body chunk by chunk, refusing to produce more than ``limit`` bytes in total."""

    def __init__(self, content_encoding: str | None, limit: int, url: str = "") -> None:
        self._url = url
        self._limit = limit
        self._total = 0
        try:
            applied = _parse(content_encoding)
        except ValueError as exc:
            raise ContentDecodingError(
                url, f"unsupported Content-Encoding {exc.args[0]!r} (supported: gzip, deflate, br)"
            ) from None
        # Undo the last-applied encoding first.
        self._stages: list[_Stage] = [
            _BrotliStage() if name == "br" else _ZlibStage(name) for name in reversed(applied)
        ]

    @property
    def identity(self) -> bool:
        """True when the body is not encoded, so its wire length is its decoded length."""
        return not self._stages

    @property
    def total(self) -> int:
        """Decoded bytes produced so far."""
        return self._total

    def feed(self, chunk: bytes) -> bytes:
        """Decode one raw chunk; raises ``BodyTooLarge`` once the decoded total passes the limit."""
        if not self._stages:
            return self._count(chunk)
        self._stages[0].push(chunk)
        return self._drain()

    def flush(self) -> bytes:
        """Signal the end of the body: returns any last bytes, or raises on a truncated stream."""
        if not self._stages:
            return b""
        out = self._drain()
        for stage in self._stages:
            try:
                stage.finish()
            except ValueError as exc:
                raise ContentDecodingError(self._url, f"corrupt {stage.name} body: {exc}") from None
        return out

    def _drain(self) -> bytes:
        parts: list[bytes] = []
        last = len(self._stages) - 1
        while True:
            # Ask for one byte more than the room left, so an oversized body is noticed.
            room = self._limit - self._total + 1
            piece = self._produce(last, min(_STEP, room))
            if not piece:
                return b"".join(parts)
            parts.append(self._count(piece))

    def _produce(self, index: int, max_length: int) -> bytes:
        """Output of stage ``index``, feeding it from upstream stages only when it runs dry."""
        stage = self._stages[index]
        while True:
            try:
                piece = stage.pull(max_length)
            except (zlib.error, brotli.error, ValueError) as exc:
                raise ContentDecodingError(self._url, f"corrupt {stage.name} body: {exc}") from None
            if piece or index == 0:
                return piece
            upstream = self._produce(index - 1, _STEP)
            if not upstream:
                return b""
            stage.push(upstream)

    def _count(self, piece: bytes) -> bytes:
        self._total += len(piece)
        if self._total > self._limit:
            raise BodyTooLarge(self._url, self._limit)
        return piece
