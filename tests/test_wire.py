"""monitor.wire: GETs over kept-alive connections, against loopback servers that write raw bytes."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from raw_server import RawServer

from monitor.wire import ConnectError, DeadlineExceeded, Pool, ProtocolError, ReadTimeout, Timeouts, WireError

FAST = Timeouts(connect=2, read=2)


class KeptAliveServer(RawServer):
    """Answers each request on a connection with ``reply(request_bytes, n)``, where n counts the
    requests so far; None closes the connection, as does every answer with ``hang_up``. Counts the
    connections accepted (the accept loop is ``raw_server.RawServer``'s; only a connection's handling
    differs: many requests on one connection, not one)."""

    def __init__(self, reply: Callable[[bytes, int], bytes | None], hang_up: bool = False) -> None:
        super().__init__()
        self.reply = reply
        self.hang_up = hang_up
        self.requests: list[bytes] = []
        self.start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            buffer = b""
            while not self.stop.is_set():
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    request, buffer = buffer.split(b"\r\n\r\n", 1)
                    self.requests.append(request)
                    answer = self.reply(request, len(self.requests))
                    if answer is None:
                        return
                    conn.sendall(answer)
                    if self.hang_up:
                        return


@pytest.fixture
def serve() -> Iterator[Callable[..., KeptAliveServer]]:
    servers: list[KeptAliveServer] = []

    def start(reply: Callable[[bytes, int], bytes | None], hang_up: bool = False) -> KeptAliveServer:
        servers.append(KeptAliveServer(reply, hang_up))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def ok(body: bytes, *extra: str) -> bytes:
    head = "\r\n".join(("HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *extra))
    return head.encode() + b"\r\n\r\n" + body


def read_all(pool: Pool, url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    response = pool.get(url, headers or {}, FAST)
    parts = []
    while chunk := response.read(7):                    # small slices: the body arrives in pieces
        parts.append(chunk)
    assert response.closed
    return response.status, b"".join(parts)


def test_connections_are_kept_alive_per_host(serve: Callable[..., KeptAliveServer]) -> None:
    server = serve(lambda request, n: ok(f"page {n}".encode()))
    with_conditional = serve(lambda request, n: b'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\n\r\n')
    pool = Pool(proxies={})
    for n in (1, 2, 3):
        assert read_all(pool, server.url_for(f"/a/{n}")) == (200, f"page {n}".encode())
    for _ in range(3):
        assert read_all(pool, with_conditional.url_for("/b"), {"If-None-Match": '"a"'}) == (304, b"")
    assert (server.connections, with_conditional.connections) == (1, 1)
    assert server.requests[0].startswith(b"GET /a/1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}".encode() in server.requests[0]
    assert b'If-None-Match: "a"' in with_conditional.requests[0]
    assert b"Accept-Encoding: identity" not in server.requests[0]    # only what the caller asks for
    pool.close()


def test_chunked_bodies_are_unchunked_and_content_coding_is_left_alone(serve: Callable[..., KeptAliveServer]) -> None:
    packed = gzip.compress(b"<p>compressed</p>" * 20)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(packed[i:i + 50]), packed[i:i + 50]) for i in range(0, len(packed), 50))
    server = serve(lambda request, n: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n"
                                      b"\r\n" + chunks + b"0\r\n\r\n")
    pool = Pool(proxies={})
    status, body = read_all(pool, server.url)
    assert status == 200 and body == packed                 # raw: BoundedDecoder inflates and counts
    assert read_all(pool, server.url)[1] == packed and server.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced(serve: Callable[..., KeptAliveServer]) -> None:
    # The server answers once per connection, then hangs up: the kept connection is dead at the next GET.
    server = serve(lambda request, n: ok(b"hello") if n % 2 else None)
    pool = Pool(proxies={})
    assert read_all(pool, server.url) == (200, b"hello")
    assert read_all(pool, server.url) == (200, b"hello")
    assert server.connections == 2


def test_connection_close_is_honoured(serve: Callable[..., KeptAliveServer]) -> None:
    server = serve(lambda request, n: ok(b"bye", "Connection: close"))
    pool = Pool(proxies={})
    assert read_all(pool, server.url) == (200, b"bye")
    assert read_all(pool, server.url) == (200, b"bye")
    assert server.connections == 2


def test_a_truncated_body_is_a_protocol_error(serve: Callable[..., KeptAliveServer]) -> None:
    server = serve(lambda request, n: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", hang_up=True)
    pool = Pool(proxies={})
    response = pool.get(server.url, {}, FAST)
    with pytest.raises(ProtocolError, match="before the body was complete .95 bytes missing"):
        while response.read():
            pass


def test_not_http_is_a_protocol_error(serve: Callable[..., KeptAliveServer]) -> None:
    server = serve(lambda request, n: b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    with pytest.raises(ProtocolError, match="no valid HTTP response"):
        Pool(proxies={}).get(server.url, {}, FAST)


def test_silence_is_a_read_timeout(serve: Callable[..., KeptAliveServer]) -> None:
    gate = threading.Event()

    def stall(request: bytes, n: int) -> bytes | None:
        gate.wait(5)
        return None

    server = serve(stall)
    with pytest.raises(ReadTimeout):
        Pool(proxies={}).get(server.url, {}, Timeouts(connect=2, read=0.3))
    gate.set()


def test_refused_and_unresolvable_hosts_say_so() -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(ConnectError, match=f"connection refused by 127.0.0.1:{port}"):
        Pool(proxies={}).get(f"http://127.0.0.1:{port}/", {}, FAST)
    with pytest.raises(ConnectError, match="could not resolve host news.invalid"):
        Pool(proxies={}).get("http://news.invalid/", {}, FAST)


def test_only_http_urls_and_header_injection_refused(serve: Callable[..., KeptAliveServer]) -> None:
    with pytest.raises(WireError, match="not an http"):
        Pool(proxies={}).get("ftp://example.com/", {}, FAST)
    server = serve(lambda request, n: ok(b"x"))
    with pytest.raises(ProtocolError):
        Pool(proxies={}).get(server.url, {"X-Test": "a\r\nInjected: yes"}, FAST)
    assert server.requests == []


def test_a_plain_http_proxy_gets_the_absolute_url(serve: Callable[..., KeptAliveServer]) -> None:
    proxy = serve(lambda request, n: ok(b"via proxy"))
    pool = Pool(proxies={"http": f"http://127.0.0.1:{proxy.port}"})
    assert read_all(pool, "http://news.example/story?id=1") == (200, b"via proxy")
    assert proxy.requests[0].startswith(b"GET http://news.example/story?id=1 HTTP/1.1\r\n")
    assert b"Host: news.example\r\n" in proxy.requests[0] + b"\r\n"


def test_headers_dripped_past_the_deadline_are_cut_off() -> None:
    """Each byte of the status line comes well within the read timeout; the deadline still ends it."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\n":
                time.sleep(0.2)
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    threading.Thread(target=drip, daemon=True).start()
    began = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        Pool(proxies={}).get(f"http://127.0.0.1:{port}/", {}, Timeouts(connect=2, read=2, deadline=began + 0.6))
    assert time.monotonic() - began < 1.2
    listener.close()


def test_a_refused_peer_gets_no_request_and_the_connection_stays_usable(serve: Callable[..., KeptAliveServer]) -> None:
    server = serve(lambda request, n: ok(b"fine"))
    pool = Pool(proxies={})
    seen: list[str] = []

    def refuse(address: str) -> None:
        seen.append(address)
        raise RuntimeError(f"refusing {address}")

    with pytest.raises(RuntimeError, match="refusing 127.0.0.1"):
        pool.get(server.url, {}, FAST, peer_check=refuse)
    assert seen == ["127.0.0.1"] and server.requests == []
    assert read_all(pool, server.url) == (200, b"fine")           # a trusted URL may use it
    assert server.connections == 1
    with pytest.raises(RuntimeError):                                 # a kept-alive connection is checked too
        pool.get(server.url, {}, FAST, peer_check=refuse)
    assert len(server.requests) == 1
