"""CPU cost per request: httpx's sync Client in threads, its AsyncClient, http.client (monitor.wire), and
newsmon's Fetcher on top of it.

A monitor spends most requests on conditional GETs answered with 304, so the server here answers
every conditional request with 304 and no body: what is left to measure is the client's own overhead.
The requests go round ``--hosts`` loopback addresses (127.0.0.1, 127.0.0.2, ...; one server on each), as a
check spreads over many sites: a pool that looks at every host's idle connections at each request pays
for it here. The servers run in a child process, so ``time.process_time()`` counts the client only.

    python benchmarks/fetch_clients.py [--requests 2000] [--concurrency 16] [--hosts 20]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor import wire  # noqa: E402
from monitor.fetch import Fetcher, FetchSettings, user_agent  # noqa: E402
from monitor.models import Validators  # noqa: E402

ETAG = '"bench-1"'
PAGE = b"<!doctype html><html><body><p>" + b"x" * 2000 + b"</p></body></html>"
WARM_UP = 50


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"          # keep-alive, as a real crawl against one host would get

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        if self.headers.get("If-None-Match") == ETAG:
            self.send_response(304)
            self.send_header("ETag", ETAG)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.send_header("ETag", ETAG)
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (signature of the base class)
        pass


def serve(port_queue: multiprocessing.Queue[int], hosts: int) -> None:
    """One server per loopback address 127.0.0.1 .. 127.0.0.<hosts>, all on the first one's port."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler)]
    port = servers[0].server_address[1]
    servers += [ThreadingHTTPServer((f"127.0.0.{n}", port), Handler) for n in range(2, hosts + 1)]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    port_queue.put(port)
    threading.Event().wait()


def measure(label: str, run: Callable[[int], None], requests: int) -> float:
    """Run ``requests`` requests and print the CPU time (all threads of this process) per request."""
    run(WARM_UP)                            # connections open, code paths warm
    cpu, wall = time.process_time(), time.perf_counter()
    run(requests)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    per_request = cpu / requests * 1000
    print(f"{label:<44} {per_request:6.3f} ms CPU/request   "
          f"({cpu:5.2f} s CPU, {wall:5.2f} s wall, {requests / wall:6.0f} req/s)")
    return per_request


def sync_client(urls: list[str], concurrency: int) -> Callable[[int], None]:
    client = httpx.Client(headers={"If-None-Match": ETAG})
    pool = ThreadPoolExecutor(concurrency)

    def one(n: int) -> None:
        assert client.get(urls[n % len(urls)]).status_code == 304

    def run(n: int) -> None:
        list(pool.map(one, range(n)))

    return run


def async_client(urls: list[str], concurrency: int) -> Callable[[int], None]:
    async def batch(n: int) -> None:
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(headers={"If-None-Match": ETAG}) as client:
            async def one(i: int) -> None:
                async with gate:
                    assert (await client.get(urls[i % len(urls)])).status_code == 304

            await asyncio.gather(*(one(i) for i in range(n)))

    def run(n: int) -> None:
        asyncio.run(batch(n))

    return run


def wire_pool(urls: list[str], concurrency: int) -> Callable[[int], None]:
    connections = wire.Pool(proxies={})
    pool = ThreadPoolExecutor(concurrency)
    timeouts = wire.Timeouts(connect=10, read=20)

    def one(n: int) -> None:
        response = connections.get(urls[n % len(urls)], {"If-None-Match": ETAG}, timeouts)
        while response.read():
            pass
        assert response.status == 304

    def run(n: int) -> None:
        list(pool.map(one, range(n)))

    return run


def newsmon_fetcher(urls: list[str], concurrency: int) -> Callable[[int], None]:
    fetcher = Fetcher(FetchSettings(user_agent=user_agent("https://newsmon.example/benchmark")))
    pool = ThreadPoolExecutor(concurrency)
    validators = Validators(etag=ETAG)

    def one(n: int) -> None:
        assert fetcher.fetch(urls[n % len(urls)], validators).status == 304

    def run(n: int) -> None:
        list(pool.map(one, range(n)))

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--hosts", type=int, default=20)
    args = parser.parse_args()

    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports, args.hosts), daemon=True)
    server.start()
    port = ports.get(timeout=10)
    urls = [f"http://127.0.0.{n}:{port}/article" for n in range(1, args.hosts + 1)]
    try:
        print(f"{args.requests} conditional GETs answered 304 over {args.hosts} hosts, {args.concurrency} at a time, "
              f"httpx {httpx.__version__}, Python {sys.version.split()[0]}")
        sync_ms = measure(f"httpx.Client in {args.concurrency} threads", sync_client(urls, args.concurrency),
                          args.requests)
        async_ms = measure("httpx.AsyncClient on asyncio", async_client(urls, args.concurrency), args.requests)
        wire_ms = measure(f"monitor.wire.Pool in {args.concurrency} threads", wire_pool(urls, args.concurrency),
                          args.requests)
        fetcher_ms = measure("newsmon Fetcher (on monitor.wire)", newsmon_fetcher(urls, args.concurrency),
                             args.requests)
        print(f"AsyncClient / sync Client CPU per request: {async_ms / sync_ms:.2f}x; "
              f"sync Client / wire.Pool: {sync_ms / wire_ms:.2f}x; Fetcher over wire.Pool: {fetcher_ms / wire_ms:.2f}x")
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
