"""CPU cost per request: httpx's sync Client in a thread pool vs its AsyncClient (and our Fetcher).

A monitor spends most requests on conditional GETs answered with 304, so the server here answers
every conditional request with 304 and no body: what is left to measure is the client's own overhead.
The server runs in a child process, so ``time.process_time()`` in this process counts the client only.

    python benchmarks/fetch_clients.py [--requests 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def serve(port_queue: multiprocessing.Queue[int]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


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


def sync_client(url: str, concurrency: int) -> Callable[[int], None]:
    client = httpx.Client(headers={"If-None-Match": ETAG})
    pool = ThreadPoolExecutor(concurrency)

    def one(_: int) -> None:
        assert client.get(url).status_code == 304

    def run(n: int) -> None:
        list(pool.map(one, range(n)))

    return run


def async_client(url: str, concurrency: int) -> Callable[[int], None]:
    async def batch(n: int) -> None:
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(headers={"If-None-Match": ETAG}) as client:
            async def one() -> None:
                async with gate:
                    assert (await client.get(url)).status_code == 304

            await asyncio.gather(*(one() for _ in range(n)))

    def run(n: int) -> None:
        asyncio.run(batch(n))

    return run


def newsmon_fetcher(url: str, concurrency: int) -> Callable[[int], None]:
    fetcher = Fetcher(FetchSettings(user_agent=user_agent("https://newsmon.example/benchmark")))
    pool = ThreadPoolExecutor(concurrency)
    validators = Validators(etag=ETAG)

    def one(_: int) -> None:
        assert fetcher.fetch(url, validators).status == 304

    def run(n: int) -> None:
        list(pool.map(one, range(n)))

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ports,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=10)}/article"
    try:
        print(f"{args.requests} conditional GETs answered 304, {args.concurrency} at a time, "
              f"httpx {httpx.__version__}, Python {sys.version.split()[0]}")
        sync_ms = measure(f"httpx.Client in {args.concurrency} threads", sync_client(url, args.concurrency),
                          args.requests)
        async_ms = measure("httpx.AsyncClient on asyncio", async_client(url, args.concurrency), args.requests)
        measure("newsmon Fetcher (sync Client, threads)", newsmon_fetcher(url, args.concurrency),
                args.requests)
        print(f"AsyncClient / sync Client CPU per request: {async_ms / sync_ms:.2f}x")
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
