"""For tests: a pool whose answers are made by a function, as httpx's MockTransport, for ``Fetcher(settings,
MockPool(handler))``. Nothing is sent; ``handler(MockRequest)`` returns a ``MockReply`` or raises a
``monitor.wire.WireError`` to act out a network failure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus

from monitor.wire import Headers, Timeouts

__all__ = ["MockPool", "MockReply", "MockRequest", "StaticResponse"]


@dataclass(frozen=True)
class MockRequest:
    url: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class MockReply:
    """What a ``MockPool`` handler answers: a status, headers, and a body in one or more pieces."""

    status: int = 200
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = ()
    body: bytes | Iterable[bytes] = b""


class StaticResponse:
    """A response made from a ``MockReply``, read like a ``Response``."""

    def __init__(self, url: str, reply: MockReply) -> None:
        self.url = url
        self.status = reply.status
        try:
            self.reason = HTTPStatus(reply.status).phrase
        except ValueError:
            self.reason = ""
        items = reply.headers.items() if isinstance(reply.headers, Mapping) else reply.headers
        self.headers = Headers(items)
        self._body = reply.body
        self._pieces: Iterator[bytes] | None = None     # the body is looked at only when it is read
        self._rest = b""
        self.closed = False

    def read(self, amount: int = 64 * 1024) -> bytes:
        if self._pieces is None:
            self._pieces = iter([self._body] if isinstance(self._body, bytes) else self._body)
        while not self.closed:
            piece = self._rest or next(self._pieces, None)
            if piece is None:
                break
            piece, self._rest = piece[:amount], piece[amount:]
            if piece:
                return piece
        self.closed = True
        return b""

    def close(self) -> None:
        self.closed = True


class MockPool:
    """A ``Pool`` that sends nothing: ``handler(MockRequest)`` makes each answer (it may raise a
    ``WireError`` to act out a network failure). For tests."""

    def __init__(self, handler: Callable[[MockRequest], MockReply]) -> None:
        self.handler = handler

    def get(self, url: str, headers: Mapping[str, str], timeouts: Timeouts,
            peer_check: Callable[[str], None] | None = None) -> StaticResponse:
        return StaticResponse(url, self.handler(MockRequest(url, dict(headers))))

    def close(self) -> None:
        pass
