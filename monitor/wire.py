"""HTTP/1.1 GETs on the standard library's ``http.client``, with a pool of kept-alive connections per host.

Why not httpx, which newsmon used first: a cycle of unchanged articles is nearly all conditional GETs
answered ``304``, and measured here (benchmarks/fetch_clients.py) one costs about 0.13 ms of CPU through
``http.client`` against 0.7 ms through ``httpx.Client``, whose connection pool also looks at every idle
connection of every host at each request. This module does only what ``monitor.fetch`` needs: one GET,
the response's status and headers, its body read in slices as it arrives (still compressed:
``monitor.decode.BoundedDecoder`` inflates it and counts), and the connection kept for the host's next
request when the body was read to its end. Redirects, decoding, limits and deadlines are the fetcher's.

Errors are ``WireError`` subclasses saying which step failed (DNS, connecting, TLS, reading, a malformed
response), so the fetcher can give a reason a person can act on.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import itertools
import re
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlsplit

from monitor.url_parts import split_url

__all__ = ["ConnectError", "DeadlineExceeded", "Headers", "Pool", "ProtocolError", "ReadTimeout", "Response",
           "Timeouts", "WireError", "WirePool", "WireResponse", "WireTimeout"]

MAX_IDLE_PER_HOST = 4        # kept-alive connections per host; the checks take one at a time per host


class WireError(Exception):
    """A request that got no usable response. ``cause`` is the underlying exception, when there is one."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class ConnectError(WireError):
    """No connection: the name did not resolve, the host refused, or TLS failed."""


class WireTimeout(WireError):
    """No connection within the connect timeout."""


class ReadTimeout(WireError):
    """The server sent nothing for the read timeout."""


class DeadlineExceeded(ReadTimeout):
    """The status line and headers were not all in by the request's deadline."""


class ProtocolError(WireError):
    """The server closed the connection early or answered something that is not HTTP/1.x."""


@dataclass(frozen=True)
class Timeouts:
    connect: float
    read: float
    deadline: float | None = None      # time.monotonic() by which the status line and headers must be in


class _Watched:
    """One request being watched: its socket until the headers are in, and whether the deadline cut it."""

    __slots__ = ("cut", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock: socket.socket | None = sock
        self.cut = False


class _Watchdog:
    """Shuts down the socket of a request whose deadline passes while its headers are still coming.

    The read timeout applies to each read, so a server sending its status line and headers a byte at a
    time could hold a request for as long as it liked. One thread for every request (a heap of deadlines)
    costs a lock and a heap push per request; a timer thread per request would cost a thread start. A
    released entry stays in the heap until its deadline, then is dropped: a few hundred bytes each."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Watched]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, sock: socket.socket) -> _Watched:
        watched = _Watched(sock)
        with self._cond:
            heapq.heappush(self._heap, (deadline, next(self._order), watched))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="newsmon-wire-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()
        return watched

    def release(self, watched: _Watched) -> bool:
        """Stop watching; True when the deadline had already cut the socket."""
        with self._cond:
            watched.sock = None
            return watched.cut

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                deadline, _, watched = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                sock, watched.sock = watched.sock, None
                watched.cut = sock is not None
            if sock is not None:
                with contextlib.suppress(OSError):     # already closed: nothing left to cut
                    sock.shutdown(socket.SHUT_RDWR)    # the blocked read returns at once


_WATCHDOG = _Watchdog()


class Headers:
    """Response headers: case-insensitive, repeated names kept in order."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = list(items)

    def get(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        for key, value in self._items:
            if key.lower() == wanted:
                return value
        return default

    def get_list(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self._items if key.lower() == wanted]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)


_Key = tuple[str, str, int]        # scheme, host, port


class WireResponse(Protocol):
    """What the fetcher reads of a response: a ``Response``, or a ``StaticResponse`` in tests."""

    url: str
    status: int
    reason: str
    headers: Headers

    @property
    def closed(self) -> bool: ...

    def read(self, amount: int = ...) -> bytes: ...

    def close(self) -> None: ...


class WirePool(Protocol):
    """Where the fetcher sends its GETs: a ``Pool``, or a ``MockPool`` in tests."""

    def get(self, url: str, headers: Mapping[str, str], timeouts: Timeouts,
            peer_check: Callable[[str], None] | None = None) -> WireResponse: ...

    def close(self) -> None: ...


class Response:
    """A response whose headers are read and whose body is read with ``read`` (raw: still compressed)."""

    def __init__(self, url: str, raw: http.client.HTTPResponse, connection: http.client.HTTPConnection,
                 pool: Pool | None, key: _Key) -> None:
        self.url = url
        self.status = raw.status
        self.reason = raw.reason
        self.headers = Headers(raw.getheaders())
        self._raw = raw
        self._connection: http.client.HTTPConnection | None = connection
        self._pool = pool
        self._key = key

    @property
    def closed(self) -> bool:
        return self._connection is None

    def read(self, amount: int = 64 * 1024) -> bytes:
        """Up to ``amount`` bytes of the body as they arrive; ``b""`` at its end. Chunked transfer coding
        is undone; content coding (gzip, br) is not."""
        if self._connection is None:
            return b""
        try:
            data = self._raw.read1(amount)
        except TimeoutError as exc:
            self._drop()
            raise ReadTimeout("no data from the server within the read timeout", exc) from exc
        except http.client.IncompleteRead as exc:
            self._drop()
            raise ProtocolError(f"connection closed before the body was complete ({exc})", exc) from exc
        except (http.client.HTTPException, OSError) as exc:
            self._drop()
            raise ProtocolError(f"connection broken while reading the body ({exc})", exc) from exc
        if not data:
            missing = self._raw.length       # what Content-Length promised and never came (None: no length)
            if missing:
                self._drop()
                raise ProtocolError("connection closed before the body was complete "
                                    f"({missing:,} bytes missing)")
            self.close()
        return data

    def close(self) -> None:
        """Give the connection back to the pool if the body was read to its end and it may be kept."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        raw = self._raw
        # http.client marks a body read to its Content-Length as done only at the next read: look at the
        # length left too.
        complete = raw.isclosed() or (not raw.chunked and raw.length == 0)
        if complete and not raw.will_close and self._pool is not None:
            raw.close()
            self._pool._release(self._key, connection)
        else:
            connection.close()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class Pool:
    """GETs over kept-alive connections, at most MAX_IDLE_PER_HOST idle ones per host; thread-safe.

    Proxies come from the environment (``http_proxy``, ``https_proxy``, ``no_proxy``), as with curl."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None,
                 proxies: Mapping[str, str] | None = None) -> None:
        self._ssl_given = ssl_context
        self._ssl_context: ssl.SSLContext | None = None
        self._proxies = dict(urllib.request.getproxies() if proxies is None else proxies)
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    @property
    def _ssl(self) -> ssl.SSLContext:
        # Made at the first https connection: loading the CA roots costs 30 ms, which a cycle of plain
        # http sites (or of articles answered from kept-alive connections) never needs.
        if self._ssl_context is None:
            with self._lock:
                if self._ssl_context is None:
                    self._ssl_context = self._ssl_given or _default_context()
        return self._ssl_context

    def get(self, url: str, headers: Mapping[str, str], timeouts: Timeouts,
            peer_check: Callable[[str], None] | None = None) -> Response:
        """Send a GET for ``url`` (http or https) and return the response once its headers are read.

        ``peer_check`` is given the IP address the connection reached, before anything is sent on it, and
        raises to refuse it (an untrusted URL whose name resolved to a private address this time). It is
        not called through a proxy, whose address says nothing of the server's."""
        parts = split_url(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise WireError(f"not an http(s) URL: {url}")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise WireError(f"invalid port in {url}", exc) from exc
        host = _ascii_host(parts.hostname)
        key = (scheme, host, port)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        # http.client refuses spaces, controls and non-ASCII in a request target; a browser escapes them.
        target = _UNSAFE.sub(lambda m: quote(m.group(), safe=""), target)
        proxy = self._proxy_for(scheme, host)
        if proxy is not None and scheme == "http":
            target = f"http://{_authority(host, port, 80)}{target}"   # a plain HTTP proxy gets the absolute URL
        check = peer_check if proxy is None else None
        reused = self._take(key)
        if reused is not None:
            self._check_peer(key, reused, check)
            try:
                return self._send(reused, key, url, target, host, port, headers, timeouts)
            except ProtocolError:
                pass                       # the server closed the idle connection meanwhile: a fresh one
        connection = self._connect(key, proxy, timeouts)
        self._check_peer(key, connection, check)
        return self._send(connection, key, url, target, host, port, headers, timeouts)

    def _check_peer(self, key: _Key, connection: http.client.HTTPConnection,
                    check: Callable[[str], None] | None) -> None:
        if check is None or connection.sock is None:
            return
        try:
            check(str(connection.sock.getpeername()[0]))
        except BaseException:
            self._release(key, connection)     # unused: still good for a URL allowed to go there
            raise

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    # -- connections ----------------------------------------------------------------------------------

    def _take(self, key: _Key) -> http.client.HTTPConnection | None:
        with self._lock:
            connections = self._idle.get(key)
            return connections.pop() if connections else None

    def _release(self, key: _Key, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            connections = self._idle.setdefault(key, [])
            if len(connections) < MAX_IDLE_PER_HOST:
                connections.append(connection)
                return
        connection.close()

    def _proxy_for(self, scheme: str, host: str) -> str | None:
        proxy = self._proxies.get(scheme)
        if not proxy or urllib.request.proxy_bypass(host):
            return None
        return proxy

    def _connect(self, key: _Key, proxy: str | None, timeouts: Timeouts) -> http.client.HTTPConnection:
        scheme, host, port = key
        connection: http.client.HTTPConnection
        if proxy is not None:
            proxied = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            proxy_host, proxy_port = proxied.hostname or "", proxied.port or 80
            if scheme == "https":
                connection = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=timeouts.connect,
                                                         context=self._ssl)
                connection.set_tunnel(host, port)
            else:
                connection = http.client.HTTPConnection(proxy_host, proxy_port, timeout=timeouts.connect)
        elif scheme == "https":
            connection = http.client.HTTPSConnection(host, port, timeout=timeouts.connect, context=self._ssl)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeouts.connect)
        try:
            connection.connect()
        except TimeoutError as exc:
            connection.close()
            raise WireTimeout(f"could not connect to {host}:{port} within the connect timeout", exc) from exc
        except (OSError, http.client.HTTPException) as exc:    # ssl.SSLError and socket.gaierror are OSErrors
            connection.close()
            raise ConnectError(_connect_message(host, port, exc), exc) from exc
        assert connection.sock is not None
        connection.sock.settimeout(timeouts.read)
        return connection

    def _send(self, connection: http.client.HTTPConnection, key: _Key, url: str, target: str, host: str,
              port: int, headers: Mapping[str, str], timeouts: Timeouts) -> Response:
        if connection.sock is not None:
            connection.sock.settimeout(timeouts.read)
        try:
            connection.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", _authority(host, port, 443 if key[0] == "https" else 80))
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            raw = self._response_by(connection, timeouts.deadline)
        except DeadlineExceeded:
            connection.close()
            raise
        except TimeoutError as exc:
            connection.close()
            raise ReadTimeout("no response from the server within the read timeout", exc) from exc
        except (http.client.HTTPException, OSError, ValueError) as exc:
            # ValueError: a header value with a line break, refused by http.client before sending.
            connection.close()
            raise ProtocolError(f"no valid HTTP response ({_describe(exc)})", exc) from exc
        return Response(url, raw, connection, self, key)

    @staticmethod
    def _response_by(connection: http.client.HTTPConnection, deadline: float | None) -> http.client.HTTPResponse:
        """``getresponse()``, cut off at ``deadline`` (see ``_Watchdog``)."""
        if deadline is None or connection.sock is None:
            return connection.getresponse()
        watched = _WATCHDOG.watch(deadline, connection.sock)
        try:
            raw = connection.getresponse()
        except (http.client.HTTPException, OSError) as exc:
            if _WATCHDOG.release(watched):
                raise DeadlineExceeded("the response headers were not all in by the deadline", exc) from exc
            raise
        if _WATCHDOG.release(watched):     # cut as the headers came in: the connection is of no use now
            raise DeadlineExceeded("the response headers were not all in by the deadline")
        return raw


_UNSAFE = re.compile(r"[^\x21-\x7e]+")


def _default_context() -> ssl.SSLContext:
    """TLS verified against certifi's roots when installed (as httpx and requests do), else the system's."""
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _authority(host: str, port: int, default_port: int) -> str:
    """``host[:port]`` as in a URL or a Host header: the port only when not the scheme's, IPv6 in brackets."""
    name = f"[{host}]" if ":" in host else host
    return name if port == default_port else f"{name}:{port}"


def _ascii_host(host: str) -> str:
    """The host name as sent on the wire: IDNA for a non-ASCII name."""
    try:
        host.encode("ascii")
        return host
    except UnicodeEncodeError:
        return host.encode("idna").decode("ascii")


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _connect_message(host: str, port: int, exc: BaseException) -> str:
    where = f"{host}:{port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed for {where}: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {where} failed: {exc.reason or exc}"
    if isinstance(exc, socket.gaierror):
        return f"could not resolve host {host} ({exc.strerror})"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where}"
    return f"could not connect to {where}: {_describe(exc)}"
