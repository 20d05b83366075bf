"""A fast local news site for benchmarks: N generated articles over H loopback hosts, edited in rounds.

Every article is a complete news page (newsmon's demo page: navigation, ads, related links, comments
around the article) carrying 600-1,000 words made from the seed article (/work/shared/seed/article.txt,
read from that path) with the article's own figures, plus sentences drawn from a small pool. Article ``i``
lives at ``http://127.0.0.<1 + i % H>:<port>/news/<section>/article-<i>`` (on Linux all of 127.0.0.0/8
is loopback; the server binds 0.0.0.0, so every host name is a separate host to the client).

Responses carry an ETag and a Last-Modified; ``If-None-Match`` (or, without it, ``If-Modified-Since``)
that matches the current revision is answered ``304`` with no body. HTTP/1.1 keep-alive, identity encoding.

Control (never counted in the statistics):

    POST /_control/round?changed=0.1   a new round: that share of the articles (chosen by --seed and the
                                       round number, so every run edits the same ones) gets a new revision,
                                       one figure changed (every third revision also adds a sentence);
                                       answers JSON {"round", "changed": [article numbers]}
    GET  /_control/stats               JSON {"round", "articles", "hosts", "requests": {"200": n, ...},
                                       "cpu": seconds of CPU this process used}
    SIGUSR1                            a new round with --changed

It is one asyncio process with a hand-written HTTP/1.1 parser and pages rendered once per revision, so
it serves thousands of requests per second (``--bench`` measures it: a client in another process, with 32
keep-alive connections, asks for every page in turn, then for every page again with its ETag).

    python benchmarks/news_site.py --articles 1000 --hosts 20 --port 8800 [--latency-ms 0] [--seed 1]
    python benchmarks/news_site.py --articles 1000 --bench
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.demo.site import ArticleText, parse_article_text, render_article_page  # noqa: E402

SEED_ARTICLE = Path("/work/shared/seed/article.txt")
SECTIONS = ("world", "politics", "business", "science", "health", "europe", "asia", "economy")
EPOCH = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)

# A number in the seed: "1,000", "45,100", "four" is not one. Years (1900-2099) stay as they are.
NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")
YEAR = re.compile(r"(19|20)\d\d")

# Sentences added to the seed's paragraphs to reach 600-1,000 words; {} is a figure of the article.
POOL = (
    "Officials said at least {} people had been moved from villages near the border in the past week.",
    "The ministry put the cost of the operation at about {} million dollars, a figure analysts called low.",
    "Satellite images reviewed by independent researchers showed {} vehicles gathered near a rail depot.",
    "A spokesman for the regional governor said {} homes had lost power after overnight strikes.",
    "According to the United Nations, more than {} civilians have been displaced since the autumn.",
    "Lawmakers briefed behind closed doors were told that {} soldiers had been treated in field hospitals.",
    "The defence ministry said its air defences had intercepted {} drones over the weekend.",
    "Aid agencies warned that {} families in the area were relying on food deliveries.",
    "Prices of basic goods in border towns have risen by {} per cent since the start of the year.",
    "A senior diplomat said talks involving {} delegations would resume in Geneva next month.",
    "Local media reported that {} prisoners had been exchanged in the latest swap.",
    "The agency said it had identified {} new training sites in the east of the country.",
    "Engineers have repaired {} kilometres of railway line damaged during the fighting.",
    "Some {} volunteers have registered with the regional authorities since January.",
    "The report estimated that {} tonnes of ammunition had been shipped by sea and rail.",
    "Military analysts said the figures could not be verified independently.",
    "Neither government responded to requests for comment on Thursday.",
    "The foreign ministry summoned the ambassador for the second time this month.",
    "Residents described long queues at petrol stations and pharmacies in the regional capital.",
    "Officials declined to say how many of the troops had returned home.",
    "The statement did not give a timetable for the withdrawal of the remaining units.",
    "Observers noted that the announcement came a day before a scheduled summit of regional leaders.",
    "In a televised address, the president thanked allies for what he called steadfast support.",
    "The intelligence service said it would brief parliament again once the assessment was complete.",
)
TITLES = (
    "{} more North Korean troops sent to Russia, Seoul says",
    "Spy agency says {} North Korean soldiers redeployed to Kursk front",
    "North Korea's losses in Russia reach {}, officials estimate",
    "Seoul: {} North Korean troops now in Russia's Kursk region",
)


def _seed() -> ArticleText:
    return parse_article_text(SEED_ARTICLE.read_text(encoding="utf-8"))


class Article:
    """One article's text as templates with figure slots, and the edits made to it round by round."""

    def __init__(self, number: int, seed: int, base: ArticleText) -> None:
        rng = random.Random(f"{seed}:article:{number}")
        self.number = number
        self.title = rng.choice(TITLES)
        self.standfirst = base.standfirst
        paragraphs = list(base.paragraphs)
        words = sum(len(p.split()) for p in paragraphs)
        target = rng.randint(600, 1000)
        while words < target:                      # pool sentences, 2-4 to a paragraph, at random places
            sentences = rng.sample(POOL, rng.randint(2, 4))
            paragraphs.insert(rng.randint(1, len(paragraphs)), " ".join(sentences).replace("{}", "\0"))
            words += sum(len(s.split()) for s in sentences)
        # Every figure of the text becomes a slot, filled with this article's own value.
        self.templates: list[str] = []
        self.figures: list[int] = [rng.randint(500, 20_000)]            # slot 0: the headline's
        for paragraph in paragraphs:
            template = paragraph.replace("{", "{{").replace("}", "}}")
            parts = []
            last = 0
            for match in NUMBER.finditer(template):
                if YEAR.fullmatch(match.group()):
                    continue
                parts.append(template[last:match.start()] + "{" + str(len(self.figures)) + "}")
                original = int(match.group().replace(",", ""))
                self.figures.append(max(2, round(original * rng.uniform(0.5, 1.5))))
                last = match.end()
            template = "".join(parts) + template[last:]
            for _ in range(template.count("\0")):       # the pool sentences' slots
                template = template.replace("\0", "{" + str(len(self.figures)) + "}", 1)
                self.figures.append(rng.randint(2, 5_000))
            self.templates.append(template)
        self.title = self.title.replace("{}", "{0}")
        self.added: list[str] = []                 # sentences added by revisions
        self.revision = 0
        self.changed_round = 0
        self._rng = rng

    def revise(self) -> None:
        """A new revision: one figure changes; every third revision also adds a sentence at the end."""
        self.revision += 1
        slot = self._rng.randrange(len(self.figures))
        self.figures[slot] += self._rng.randint(1, 500)
        if self.revision % 3 == 0:
            self.added.append(f"Update: officials later said {self._rng.randint(2, 900):,} more people "
                              f"were affected (revision {self.revision}).")

    def text(self) -> ArticleText:
        values = [f"{v:,}" for v in self.figures]
        paragraphs = [t.format(*values) for t in self.templates] + self.added
        return ArticleText(title=self.title.format(*values), standfirst=self.standfirst,
                           paragraphs=tuple(paragraphs))

    def html(self) -> bytes:
        published = EPOCH + timedelta(minutes=self.number)
        modified = published + timedelta(hours=self.changed_round) if self.revision else None
        return render_article_page(self.text(), variant=self.number * 7 + self.revision,
                                   site=f"The Daily Ledger {self.number % 10}",
                                   published=_iso(published), modified=None if modified is None else _iso(modified)
                                   ).encode()


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def url_of(number: int, hosts: int, port: int) -> str:
    """The URL of article ``number`` (the runner uses the same function to list them)."""
    return f"http://127.0.0.{1 + number % hosts}:{port}/news/{SECTIONS[number % len(SECTIONS)]}/article-{number}"


def pages(articles: int, seed: int = 1) -> list[bytes]:
    """The first revision of every page, as the site serves it (for in-process extraction benchmarks)."""
    base = _seed()
    return [Article(i, seed, base).html() for i in range(articles)]


PATH = re.compile(r"/news/[a-z]+/article-(\d+)")


class Site:
    """The articles, their current page (rendered once per revision) and the request counts by status."""

    def __init__(self, articles: int, hosts: int, seed: int, latency: float) -> None:
        base = _seed()
        self.articles = [Article(i, seed, base) for i in range(articles)]
        self.hosts = hosts
        self.seed = seed
        self.latency = latency
        self.round = 0
        self.counts: Counter[int] = Counter()
        self._pages: dict[int, tuple[bytes, bytes, datetime, bytes]] = {}
        for number in range(articles):             # every page rendered before the first request
            self.page(number)

    def new_round(self, changed: float) -> list[int]:
        self.round += 1
        rng = random.Random(f"{self.seed}:round:{self.round}")
        chosen = sorted(rng.sample(range(len(self.articles)), round(len(self.articles) * changed)))
        for number in chosen:
            article = self.articles[number]
            article.revise()
            article.changed_round = self.round
            self._pages.pop(number, None)
            self.page(number)                      # rendered now, not while a client waits
        return chosen

    def page(self, number: int) -> tuple[bytes, bytes, datetime, bytes]:
        """(ETag, Last-Modified header value, Last-Modified time, body) of the article's current revision."""
        cached = self._pages.get(number)
        if cached is None:
            article = self.articles[number]
            modified = EPOCH + timedelta(hours=article.changed_round)
            etag = f'"a{number}-r{article.revision}-s{self.seed}"'.encode()
            cached = (etag, format_datetime(modified, usegmt=True).encode(), modified, article.html())
            self._pages[number] = cached
        return cached

    def stats(self) -> dict[str, object]:
        return {"round": self.round, "articles": len(self.articles), "hosts": self.hosts,
                "requests": {str(k): v for k, v in sorted(self.counts.items())}, "cpu": time.process_time()}


def _response(status: bytes, headers: list[tuple[bytes, bytes]], body: bytes, head_only: bool = False) -> bytes:
    lines = [b"HTTP/1.1 " + status]
    if not status.startswith(b"304"):              # a 304 has no body, and no Content-Length to say so
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head_only else body)


def _not_modified(headers: dict[bytes, bytes], etag: bytes, modified: datetime) -> bool:
    if b"if-none-match" in headers:               # RFC 9110: If-None-Match wins over If-Modified-Since
        return etag in [tag.strip().removeprefix(b"W/") for tag in headers[b"if-none-match"].split(b",")]
    if b"if-modified-since" in headers:
        try:
            return modified <= parsedate_to_datetime(headers[b"if-modified-since"].decode("latin-1"))
        except (TypeError, ValueError):
            return False
    return False


async def _handle(site: Site, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            request_line, *header_lines = head[:-4].split(b"\r\n")
            try:
                method, target, version = request_line.split(b" ")
            except ValueError:
                writer.write(_response(b"400 Bad Request", [(b"Connection", b"close")], b""))
                return
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            body = b""
            if b"content-length" in headers:
                body = await reader.readexactly(int(headers[b"content-length"]))
            keep_alive = (headers.get(b"connection", b"").lower() != b"close" and version == b"HTTP/1.1")
            writer.write(await _answer(site, method, target.decode("latin-1"), headers, body))
            if not keep_alive:
                return
            await writer.drain()
    except ConnectionError:
        return
    finally:
        try:
            await writer.drain()
            writer.close()
        except ConnectionError:
            pass


async def _answer(site: Site, method: bytes, target: str, headers: dict[bytes, bytes], body: bytes) -> bytes:
    path = urlsplit(target).path
    if path.startswith("/_control/"):
        if path == "/_control/round" and method == b"POST":
            changed = float(parse_qs(urlsplit(target).query).get("changed", ["0.1"])[0])
            result: object = {"round": site.round + 1, "changed": site.new_round(changed)}
        elif path == "/_control/stats":
            result = site.stats()
        else:
            return _response(b"404 Not Found", [], b"unknown control endpoint\n")
        return _response(b"200 OK", [(b"Content-Type", b"application/json")], json.dumps(result).encode())

    if site.latency:
        await asyncio.sleep(site.latency)
    match = PATH.fullmatch(path)
    number = int(match.group(1)) if match else -1
    host = headers.get(b"host", b"").split(b":")[0]
    if (method not in (b"GET", b"HEAD") or not 0 <= number < len(site.articles)
            or host != f"127.0.0.{1 + number % site.hosts}".encode()):
        site.counts[404] += 1
        return _response(b"404 Not Found", [(b"Content-Type", b"text/plain")], b"not found\n", method == b"HEAD")
    etag, last_modified, modified, page = site.page(number)
    validators = [(b"ETag", etag), (b"Last-Modified", last_modified), (b"Cache-Control", b"max-age=60")]
    if _not_modified(headers, etag, modified):
        site.counts[304] += 1
        return _response(b"304 Not Modified", validators, b"")
    site.counts[200] += 1
    return _response(b"200 OK", [(b"Content-Type", b"text/html; charset=utf-8"), *validators], page,
                     method == b"HEAD")


async def serve(site: Site, host: str, port: int, changed: float) -> None:
    server = await asyncio.start_server(lambda r, w: _handle(site, r, w), host, port, backlog=1024,
                                        reuse_address=True)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, site.new_round, changed)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bound = server.sockets[0].getsockname()[1]
    # The runner waits for this line and reads the port from it.
    print(f"listening on {host}:{bound} articles={len(site.articles)} hosts={site.hosts}", flush=True)
    async with server:
        await stop.wait()
    print(f"requests by status: {dict(sorted(site.counts.items()))}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------------
# --bench: how many requests per second the site serves (a client in another process).

async def _client(port: int, hosts: int, numbers: list[int], etags: dict[int, bytes] | None,
                  connections: int) -> int:
    queue = list(numbers)
    done = 0

    async def worker() -> None:
        nonlocal done
        readers: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        while queue:
            number = queue.pop()
            host = 1 + number % hosts
            if host not in readers:
                readers[host] = await asyncio.open_connection(f"127.0.0.{host}", port)
            reader, writer = readers[host]
            path = f"/news/{SECTIONS[number % len(SECTIONS)]}/article-{number}"
            extra = b"" if etags is None else b"If-None-Match: " + etags[number] + b"\r\n"
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.{host}\r\n".encode() + extra + b"\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"Content-Length: (\d+)", head)
            if length:
                await reader.readexactly(int(length.group(1)))
            if etags is not None:
                assert head.startswith(b"HTTP/1.1 304"), head
            done += 1
        for _, writer in readers.values():
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return done


def bench(args: argparse.Namespace) -> None:
    server = subprocess.Popen([sys.executable, __file__, "--articles", str(args.articles), "--hosts",
                               str(args.hosts), "--port", "0", "--seed", str(args.seed)],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().split()[2].rsplit(":", 1)[1])  # type: ignore[union-attr]
        numbers = [n % args.articles for n in range(args.requests)]
        site = Site(args.articles, args.hosts, args.seed, 0)
        etags = {n: site.page(n)[0] for n in range(args.articles)}
        print(f"{args.articles} articles on {args.hosts} hosts, {args.connections} keep-alive connections, "
              f"client in this process, server in another")
        for label, validators in (("200 (full page)", None), ("304 (If-None-Match)", etags)):
            wall = time.perf_counter()
            done = asyncio.run(_client(port, args.hosts, numbers, validators, args.connections))
            wall = time.perf_counter() - wall
            print(f"{label:<44} {done / wall:8.0f} requests/s ({done} in {wall:.2f} s)")
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20, help="127.0.0.1 .. 127.0.0.H (at most 254)")
    parser.add_argument("--port", type=int, default=8800, help="0: any free port (printed on stdout)")
    parser.add_argument("--bind", default="0.0.0.0")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added before every page answer")
    parser.add_argument("--changed", type=float, default=0.1, help="share of articles a SIGUSR1 round edits")
    parser.add_argument("--bench", action="store_true", help="measure the requests per second served")
    parser.add_argument("--connections", type=int, default=32, help="client connections for --bench")
    parser.add_argument("--requests", type=int, default=20_000, help="requests of each kind for --bench")
    args = parser.parse_args()
    if not 1 <= args.hosts <= 254:
        parser.error("--hosts must be between 1 and 254")
    if args.bench:
        bench(args)
        return
    site = Site(args.articles, args.hosts, args.seed, args.latency_ms / 1000)
    asyncio.run(serve(site, args.bind, args.port, args.changed))


if __name__ == "__main__":
    main()
