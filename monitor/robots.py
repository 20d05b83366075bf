"""robots.txt per RFC 9309: fetched once per origin, cached, and asked before every article fetch.

What the answer for ``/robots.txt`` means (RFC 9309 2.3.1): 2xx, the rules apply (the group of our
product token, else ``*``); 3xx is followed up to 5 hops, and a longer or refused chain counts as 4xx;
4xx (401 and 403 too) allows everything, except 429, which like Google we treat as a server error;
5xx or no answer (DNS, refused, timeout) defers the whole host, and that failure is cached for
``failure_ttl`` (10 min) so the host is not asked at every check. A copy from an earlier fetch, at most
30 days old, stands in for an unreachable robots.txt (2.4 allows it): one failed refresh of a healthy
site should not stop its checks. Answers are cached per origin for ``ttl`` (24 h, the RFC's maximum);
only the first 500 KiB (the RFC's minimum) are parsed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

from monitor.decode import BoundedDecoder
from monitor.errors import BodyTooLarge, FetchError
from monitor.fetch import ACCEPT_ENCODING, Fetcher, FetchSettings

__all__ = ["FAILURE_TTL", "MAX_CRAWL_DELAY", "ROBOTS_MAX_BYTES", "RobotsCache", "RobotsDecision", "RobotsFetcher",
           "RobotsResponse", "fetcher_robots", "product_token", "robots_url"]

log = logging.getLogger(__name__)

ROBOTS_MAX_BYTES = 500 * 1024    # RFC 9309 2.5: parse at least 500 KiB; we parse exactly that much
ROBOTS_MAX_REDIRECTS = 5         # RFC 9309 2.3.1.2: follow at least five consecutive redirects
MAX_CRAWL_DELAY = 30.0           # a larger Crawl-delay would all but stop checks of a site
DEFAULT_TTL = 24 * 3600.0        # RFC 9309 2.4: SHOULD NOT use a cached copy for more than 24 h
FAILURE_TTL = 600.0              # how long an unreachable robots.txt defers its host before we ask again
MAX_STALE = 30 * 24 * 3600.0     # how old a copy may be and still stand in for an unreachable robots.txt

_SLICE = 1024                    # compressed bytes per decoder call: gzip inflates 1 KiB to at most ~1 MiB
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_LOCATION = "newsmon.robots.location"


@dataclass(frozen=True)
class RobotsResponse:
    """The outcome of fetching one robots.txt. ``status`` is None when no HTTP answer arrived."""

    status: int | None
    body: bytes = b""
    error: str | None = None


@dataclass(frozen=True)
class RobotsDecision:
    """Whether a URL may be fetched. ``retry_at`` (clock seconds) is set when the host is deferred."""

    allowed: bool
    reason: str
    crawl_delay: float | None = None
    retry_at: float | None = None


@dataclass(frozen=True)
class _Entry:
    rules: Protego | None        # parsed robots.txt, or None: allow everything (or nothing, if deferred)
    deferred: bool
    reason: str
    crawl_delay: float | None
    expires_at: float
    answered_at: float | None    # when the host last gave a usable answer (2xx-4xx), for stale reuse
    stale: str | None = None     # why a cached copy stands in for robots.txt now


def product_token(user_agent: str) -> str:
    """The token robots.txt groups are matched against: ``newsmon/0.1 (+url)`` -> ``newsmon``.

    RFC 9309 2.2.1 allows only letters, ``_`` and ``-`` in it; matching the whole User-Agent instead
    would let a group named after a word of our contact URL apply to us.
    """
    first = user_agent.split(None, 1)[0] if user_agent.strip() else ""
    token = "".join(c for c in first.split("/", 1)[0] if c.isascii() and (c.isalpha() or c in "_-"))
    return token.lower() or "*"


def robots_url(url: str) -> str:
    """``scheme://host[:port]/robots.txt`` for a page URL; raises ValueError for non-http(s) URLs."""
    return _origin(url) + "/robots.txt"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = parts.hostname                      # lower-cased, without brackets
    if ":" in host:
        host = f"[{host}]"
    port = parts.port                          # raises ValueError for a bad port
    if port is None or port == {"http": 80, "https": 443}[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


class RobotsCache:
    """Answers "may we fetch this URL?" from robots.txt, fetching it at most once per origin per ``ttl``.

    Thread-safe: one lock per origin, so concurrent checks of one origin fetch its robots.txt once
    while other origins are fetched in parallel. ``fetch_robots`` must not raise; if it does, the
    error counts as an unreachable robots.txt.
    """

    def __init__(self, fetch_robots: Callable[[str], RobotsResponse], user_agent: str, *,
                 ttl: float = DEFAULT_TTL, failure_ttl: float = FAILURE_TTL,
                 clock: Callable[[], float] = time.time) -> None:
        self._fetch = fetch_robots
        self.token = product_token(user_agent)
        self._ttl = ttl
        self._failure_ttl = failure_ttl
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()           # only for creating per-origin locks

    def check(self, url: str) -> RobotsDecision:
        """Whether ``url`` may be fetched now; fetches its origin's robots.txt if not cached."""
        origin = _origin(url)
        entry = self._entry(origin)
        if entry.deferred:
            return RobotsDecision(False, entry.reason, None, entry.expires_at)
        stale = "" if entry.stale is None else f" (cached copy; robots.txt now unreachable: {entry.stale})"
        if entry.rules is None or entry.rules.can_fetch(url, self.token):
            return RobotsDecision(True, entry.reason + stale, entry.crawl_delay, None)
        return RobotsDecision(False, f"disallowed by {origin}/robots.txt for {self.token}{stale}",
                              entry.crawl_delay, None)

    def _entry(self, origin: str) -> _Entry:
        entry = self._entries.get(origin)
        if entry is not None and self._clock() < entry.expires_at:
            return entry
        with self._guard:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:
            # Another thread may have refreshed it while we waited for the lock.
            entry = self._entries.get(origin)
            now = self._clock()
            if entry is not None and now < entry.expires_at:
                return entry
            url = origin + "/robots.txt"
            try:
                response = self._fetch(url)
            except Exception as exc:  # a broken fetcher must defer the host, not allow it
                log.warning("fetching %s failed: %r", url, exc)
                response = RobotsResponse(None, b"", f"{type(exc).__name__}: {exc}")
            entry = self._interpret(url, response, entry, now)
            self._entries[origin] = entry
            return entry

    def _interpret(self, url: str, response: RobotsResponse, previous: _Entry | None, now: float) -> _Entry:
        status = response.status
        if status is not None and 200 <= status < 300:
            rules = _parse(response.body)
            delay = rules.crawl_delay(self.token)    # also warms protego's per-agent memo before sharing
            rules.can_fetch(url, self.token)          # ... and its prefix index
            if delay is not None:
                delay = min(delay, MAX_CRAWL_DELAY)
            return _Entry(rules, False, f"allowed by {url}", delay, now + self._ttl, now)
        if status is not None and (300 <= status < 400 or (400 <= status < 500 and status != 429)):
            what = response.error or f"HTTP {status}"
            return _Entry(None, False, f"{url} unavailable ({what}): everything allowed", None,
                          now + self._ttl, now)

        what = f"HTTP {status}" if status is not None else (response.error or "no response")
        retry_at = now + self._failure_ttl
        if previous is not None and previous.answered_at is not None and now - previous.answered_at <= MAX_STALE:
            log.info("%s unreachable (%s); keeping the copy from %.0f s ago", url, what,
                     now - previous.answered_at)
            return _Entry(previous.rules, False, previous.reason, previous.crawl_delay, retry_at,
                          previous.answered_at, stale=what)
        log.info("%s unreachable (%s): host deferred for %.0f s", url, what, self._failure_ttl)
        return _Entry(None, True, f"{url} unreachable ({what}): host deferred", None, retry_at, None)


def _parse(body: bytes) -> Protego:
    """Parse the first ROBOTS_MAX_BYTES of a robots.txt; a line cut by that limit is dropped."""
    if len(body) > ROBOTS_MAX_BYTES:
        body = body[:ROBOTS_MAX_BYTES]
        cut = max(body.rfind(b"\n"), body.rfind(b"\r"))
        # "Disallow: /private-area" cut to "Disallow: /p" would be a different rule.
        body = body[:cut + 1] if cut >= 0 else b""
    return Protego.parse(body.decode("utf-8", errors="replace").lstrip("\ufeff"))


class RobotsFetcher:
    """A ``fetch_robots`` for ``RobotsCache`` with a ``Fetcher``'s settings; never raises.

    ``Fetcher.fetch`` refuses text/plain (NotHTML), raises BodyTooLarge where robots.txt must be cut,
    and follows 10 redirects. This is the minimal GET robots.txt needs: same User-Agent, timeouts, TLS
    verification and per-hop ``check_url``; no cookies; 5 redirects; the decoded body cut at 500 KiB.
    Its own connection pool costs one extra handshake per origin per day.
    """

    def __init__(self, settings: FetchSettings, *, transport: httpx.BaseTransport | None = None,
                 check_url: Callable[[str], None] | None = None,
                 limit: int = ROBOTS_MAX_BYTES, max_redirects: int = ROBOTS_MAX_REDIRECTS) -> None:
        self.settings = settings
        self._check_url = check_url
        self._limit = limit
        self._max_redirects = max_redirects
        self._client = httpx.Client(
            transport=transport,
            headers={"User-Agent": settings.user_agent, "Accept": "text/plain, */*;q=0.1",
                     "Accept-Encoding": ACCEPT_ENCODING},
            timeout=httpx.Timeout(connect=settings.connect_timeout, read=settings.idle_timeout,
                                  write=settings.idle_timeout, pool=settings.total_timeout),
            follow_redirects=False, verify=True, event_hooks={"response": [_stash_location]})

    def __enter__(self) -> RobotsFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def __call__(self, url: str) -> RobotsResponse:
        deadline = time.monotonic() + self.settings.total_timeout
        current, status = url, None
        for _ in range(self._max_redirects + 1):
            if time.monotonic() > deadline:
                return RobotsResponse(None, b"", f"no response from {current} in time")
            refused = self._refused(current)
            if refused is not None:
                if status is None:      # the origin itself: nothing can be asked, so unreachable
                    return RobotsResponse(None, b"", refused)
                # A redirect we may not follow leaves robots.txt unavailable (RFC 9309 2.3.1.2).
                return RobotsResponse(status, b"", f"redirect to {current} refused: {refused}")
            try:
                with self._client.stream("GET", current) as response:
                    status = response.status_code
                    if status not in _REDIRECTS:
                        body = self._read(current, response, deadline) if 200 <= status < 300 else b""
                        return RobotsResponse(status, body)
                    location = response.extensions.get(_LOCATION)
            except httpx.TimeoutException:
                return RobotsResponse(None, b"", f"no response from {current} in time")
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                return RobotsResponse(None, b"", f"{type(exc).__name__}: {exc}")
            except FetchError as exc:   # a corrupt compressed body: the server is broken, not silent
                return RobotsResponse(None, b"", exc.reason)
            if not location:
                return RobotsResponse(status, b"", "redirect without a Location")
            try:
                current = urljoin(current, location)
            except ValueError:
                return RobotsResponse(status, b"", f"redirect to an invalid URL {location!r}")
        return RobotsResponse(status, b"", f"more than {self._max_redirects} redirects")

    def _refused(self, url: str) -> str | None:
        """Why ``url`` must not be requested, or None."""
        try:
            if urlsplit(url).scheme.lower() not in ("http", "https"):
                return "only http and https URLs are fetched"
            if self._check_url is not None:
                self._check_url(url)
        except ValueError as exc:
            return f"invalid URL: {exc}"
        except FetchError as exc:
            return exc.reason
        return None

    def _read(self, url: str, response: httpx.Response, deadline: float) -> bytes:
        if response.is_stream_consumed:     # MockTransport responses built from bytes: read and decoded
            return response.content[:self._limit]
        # The decoder's limit leaves room for one slice's output past ours, so the cut happens here.
        decoder = BoundedDecoder(response.headers.get("Content-Encoding"), 4 * self._limit, url)
        parts: list[bytes] = []
        size = 0
        try:
            for piece in _decoded(response, decoder):
                parts.append(piece)
                size += len(piece)
                if size >= self._limit:
                    break
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("total deadline passed")
        except BodyTooLarge:
            pass                # a brotli bomb can beat the slicing: keep what came before it
        return b"".join(parts)[:self._limit]


def _decoded(response: httpx.Response, decoder: BoundedDecoder) -> Iterator[bytes]:
    """The decoded body, compressed input fed in small slices so no single step inflates far."""
    for raw in response.iter_raw():
        step = max(len(raw), 1) if decoder.identity else _SLICE
        for start in range(0, len(raw), step):
            yield decoder.feed(raw[start:start + step])
    yield decoder.flush()


def fetcher_robots(fetcher: Fetcher, *, transport: httpx.BaseTransport | None = None) -> RobotsFetcher:
    """A ``fetch_robots`` for ``RobotsCache`` with ``fetcher``'s settings and URL checks; close it after use."""
    return RobotsFetcher(fetcher.settings, transport=transport, check_url=fetcher.check_url)


def _stash_location(response: httpx.Response) -> None:
    """Move ``Location`` where httpx does not look: with it, httpx raises on unbuildable targets."""
    location = response.headers.get("Location")
    if location is not None:
        del response.headers["Location"]
        response.extensions[_LOCATION] = location
