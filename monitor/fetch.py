"""Fetch one article page: conditional GET, our own redirect loop, a bounded decoded body.

Normal outcomes are return values (2xx with a body, 304 unchanged, 404/410 gone); every failure is a
``FetchError`` subclass whose reason a person can act on. Requests go through ``monitor.wire`` (the
standard library's http.client with kept-alive connections per host), shared by the worker threads of
``monitor.hosts.run_per_host``: a conditional GET answered 304 costs a fifth of the CPU it cost through
httpx (docs/DESIGN.md, benchmarks/fetch_clients.py), and most requests of a cycle are such GETs.

The redirect loop is ours, so that every hop is checked (``Fetcher.check_url``); so is the decoding:
``BoundedDecoder`` counts the body after decompression while it streams, so a decompression bomb stops at
the cap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from types import TracebackType
from urllib.parse import urljoin, urlsplit

from monitor import wire
from monitor.decode import BoundedDecoder
from monitor.errors import (
    BodyTooLarge,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    NetworkError,
    NotHTML,
    TooManyRedirects,
    UnsupportedScheme,
)
from monitor.models import FetchResult, Validators
from monitor.url_parts import split_url

__all__ = ["FEED", "HTML", "ContentKind", "FetchSettings", "Fetcher", "user_agent"]

ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
ACCEPT_ENCODING = "gzip, deflate, br"        # what BoundedDecoder can undo
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
GONE_STATUSES = frozenset({404, 410})
ALLOWED_SCHEMES = frozenset({"http", "https"})

_DRAIN_BYTES = 64 * 1024         # an unwanted body up to this size is read so the connection is kept
_READ_BYTES = 64 * 1024          # the largest slice of a body read at once

# Without a Content-Type, the start of the body decides whether it is what we asked for.
_SNIFF_BYTES = 1024
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body")


@dataclass(frozen=True)
class ContentKind:
    """What a fetch accepts: articles are HTML; discovery reads feeds and sitemaps."""

    description: str                 # for the error: "not an HTML page (Content-Type: ...)"
    media_types: frozenset[str]
    markers: tuple[bytes, ...]       # any of these near the start of an untyped body (lower-cased)
    accept: str                      # the Accept header


HTML = ContentKind("an HTML page", HTML_TYPES, _HTML_MARKERS, ACCEPT)
FEED = ContentKind(
    "a feed or sitemap",
    frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml",
               "text/xml", "application/x-gzip", "application/gzip", "application/octet-stream",
               "text/plain"}),
    (b"<?xml", b"<rss", b"<feed", b"<rdf:rdf", b"<urlset", b"<sitemapindex", b"\x1f\x8b"),
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1",
)


def user_agent(contact_url: str, version: str = "0.1") -> str:
    """A User-Agent naming the project and where a site operator can reach whoever runs it."""
    return f"newsmon/{version} (+{contact_url})"


@dataclass(frozen=True)
class FetchSettings:
    user_agent: str
    connect_timeout: float = 10
    idle_timeout: float = 20      # longest wait for any single read or write
    total_timeout: float = 60     # whole fetch, redirects included
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 10


class Fetcher:
    """Fetches pages over one ``wire.Pool``; safe to call ``fetch`` from many threads at once.

    ``pool`` replaces the network (a ``wire_mock.MockPool`` in tests)."""

    def __init__(self, settings: FetchSettings, pool: wire.WirePool | None = None) -> None:
        self.settings = settings
        self._pool: wire.WirePool = pool if pool is not None else wire.Pool()
        self._headers = {"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING}

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._pool.close()

    def check_url(self, url: str) -> None:
        """Raise a ``FetchError`` if ``url`` must not be fetched.

        Called for the URL asked for and for every redirect target, before any request to it.
        Subclasses extend it (call ``super().check_url``), e.g. to refuse private addresses.
        """
        try:
            parts = split_url(url)
        except ValueError as exc:
            raise FetchError(url, f"invalid URL: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            what = f"{scheme}: URLs" if scheme else "URLs without a scheme"
            raise UnsupportedScheme(url, f"only http and https URLs can be fetched, not {what}")
        if not parts.hostname:
            raise FetchError(url, "the URL has no host name")

    def peer_check(self, url: str) -> Callable[[str], None] | None:
        """What to check of the address a connection for ``url`` reaches (None: nothing). Subclasses that
        refuse private addresses check the connected address too (``GuardedFetcher``)."""
        return None

    def fetch(self, url: str, validators: Validators = Validators(), *,  # noqa: B008
              kind: ContentKind = HTML, check_url: Callable[[str], None] | None = None) -> FetchResult:
        """Fetch ``url`` and follow redirects; conditional when ``validators`` hold an ETag or date.

        Returns a 2xx result with its decoded body, a 304 (unchanged) or a 404/410 (gone). Raises a
        ``FetchError`` subclass for anything else; its ``url`` is always the URL asked for, and its
        reason names the redirect target when the failure happened after a redirect. ``kind`` says
        which content is accepted (``NotHTML`` otherwise); ``check_url``, when given, is called on every
        hop after ``Fetcher.check_url`` (discovered URLs use it to refuse private addresses).
        """
        start = time.monotonic()
        try:
            return self._fetch(url, validators, start, kind, check_url)
        except FetchError as exc:
            if exc.url != url:
                _relabel(exc, url)
            raise

    def _fetch(self, url: str, validators: Validators, start: float, kind: ContentKind,
               hop_check: Callable[[str], None] | None) -> FetchResult:
        settings = self.settings
        deadline = start + settings.total_timeout
        # Cookies set along one redirect chain are sent on its later hops (some sites redirect to
        # themselves after setting a consent cookie), then forgotten.
        jar = _ChainCookies()
        chain: list[str] = []
        seen: set[tuple[str, frozenset[tuple[str, str, str, str]]]] = set()
        current = url
        while True:
            self.check_url(current)
            if hop_check is not None:
                hop_check(current)
            self._check_deadline(current, deadline)
            # The same URL with the same cookies gets the same answer: a loop, no need to go round it
            # max_redirects times.
            state = (current, jar.state())
            chain.append(current)
            if state in seen:
                raise TooManyRedirects(url, "redirect loop: " + " -> ".join(chain))
            seen.add(state)

            response, remaining = self._send(current, validators, jar, deadline, kind.accept)
            try:
                jar.take(current, response.headers.get_list("Set-Cookie"))
                target = _redirect_target(current, response)
                if target is None:
                    return self._result(url, current, validators, response, start, deadline, remaining, kind)
            finally:
                _discard(response, deadline)
            if len(chain) > settings.max_redirects:
                raise TooManyRedirects(url, f"more than {settings.max_redirects} redirects "
                                            f"(last one to {target})")
            current = target

    def _send(self, url: str, validators: Validators, jar: _ChainCookies,
              deadline: float, accept: str) -> tuple[wire.WireResponse, float]:
        """Send one GET and return the response with its headers read and its body not yet read."""
        settings = self.settings
        # Shrink every timeout to the time left, so a silent server cannot hold a fetch far past its
        # deadline (a server dripping bytes is caught by the check after each slice).
        remaining = deadline - time.monotonic()
        timeouts = wire.Timeouts(connect=max(min(settings.connect_timeout, remaining), 0.001),
                                 read=max(min(settings.idle_timeout, remaining), 0.001), deadline=deadline)
        headers = {**self._headers, "Accept": accept}
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        cookie = jar.header_for(url)
        if cookie:
            headers["Cookie"] = cookie
        try:
            return self._pool.get(url, headers, timeouts, peer_check=self.peer_check(url)), remaining
        except wire.WireError as exc:
            raise self._wire_error(url, exc, remaining, reading_body=False) from exc

    def _result(self, url: str, final_url: str, validators: Validators, response: wire.WireResponse,
                start: float, deadline: float, remaining: float, kind: ContentKind) -> FetchResult:
        status = response.status
        if status == 304:
            # A 304 should repeat the validators; if it does not, the ones we sent are still good.
            returned = _validators(response)
            kept = Validators(etag=returned.etag or validators.etag,
                              last_modified=returned.last_modified or validators.last_modified)
            return FetchResult(url=url, final_url=final_url, status=status, validators=kept,
                               duration=time.monotonic() - start)
        if status in GONE_STATUSES:
            return FetchResult(url=url, final_url=final_url, status=status,
                               duration=time.monotonic() - start)
        if not 200 <= status < 300:
            raise HTTPStatusError(final_url, status, _status_text(response),
                                  retry_after=response.headers.get("Retry-After"))

        media_type, charset = _parse_content_type(response.headers.get("Content-Type") or "")
        if media_type is not None and media_type not in kind.media_types:
            raise NotHTML(final_url, media_type, kind.description)
        decoder = BoundedDecoder(response.headers.get("Content-Encoding"), self.settings.max_bytes, final_url)
        expected = _content_length(response)
        if expected is not None and decoder.identity and expected > self.settings.max_bytes:
            raise BodyTooLarge(final_url, self.settings.max_bytes, declared=expected)

        body, wire_bytes = self._read_body(final_url, response, decoder, deadline, remaining,
                                           sniff=None if media_type is not None else kind)
        if expected is not None and wire_bytes < expected:
            raise NetworkError(final_url, "connection closed before the body was complete "
                                          f"({wire_bytes:,} of {expected:,} bytes)")
        return FetchResult(url=url, final_url=final_url, status=status, body=body,
                           content_type=media_type, charset=charset, validators=_validators(response),
                           wire_bytes=wire_bytes, duration=time.monotonic() - start)

    def _read_body(self, url: str, response: wire.WireResponse, decoder: BoundedDecoder, deadline: float,
                   remaining: float, *, sniff: ContentKind | None) -> tuple[bytes, int]:
        parts: list[bytes] = []
        wire_bytes = 0
        try:
            # Raw slices, still compressed: BoundedDecoder inflates them and counts.
            while raw := response.read(_READ_BYTES):
                wire_bytes += len(raw)
                parts.append(decoder.feed(raw))
                self._check_deadline(url, deadline)
                if sniff is not None and decoder.total >= _SNIFF_BYTES:
                    _sniff(url, b"".join(parts), sniff)
                    sniff = None
        except wire.WireError as exc:
            raise self._wire_error(url, exc, remaining, reading_body=True) from exc
        parts.append(decoder.flush())
        body = b"".join(parts)
        if sniff is not None:
            _sniff(url, body, sniff)
        return body, wire_bytes

    def _check_deadline(self, url: str, deadline: float) -> None:
        if time.monotonic() > deadline:
            raise FetchTimeout(url, self._deadline_reason())

    def _deadline_reason(self) -> str:
        return f"no complete response within {self.settings.total_timeout:g} s (total deadline)"

    def _wire_error(self, url: str, exc: wire.WireError, remaining: float, *, reading_body: bool) -> FetchError:
        """Translate a wire error into our tree, with a reason a person can act on."""
        settings = self.settings
        if isinstance(exc, wire.WireTimeout):
            if remaining < settings.connect_timeout:
                return FetchTimeout(url, self._deadline_reason())
            return FetchTimeout(url, f"could not connect within {settings.connect_timeout:g} s "
                                     "(connect timeout)")
        if isinstance(exc, wire.ReadTimeout):
            if isinstance(exc, wire.DeadlineExceeded) or remaining < settings.idle_timeout:
                return FetchTimeout(url, self._deadline_reason())
            return FetchTimeout(url, f"no data from the server for {settings.idle_timeout:g} s "
                                     "(idle timeout)")
        if isinstance(exc, wire.ConnectError):
            return NetworkError(url, str(exc))
        if isinstance(exc, wire.ProtocolError):
            # wire's reason already says what went wrong ("no valid HTTP response (BadStatusLine: ...)",
            # "connection closed before the body was complete ..."): a garbled answer is not a closed one.
            return NetworkError(url, str(exc))
        return FetchError(url, str(exc))


def _discard(response: wire.WireResponse, deadline: float) -> None:
    """Close a response, first reading what is left of a small body (a 304's, a redirect's): only a
    connection whose response was read to its end can carry the host's next request."""
    if response.closed:
        return
    length = _content_length(response)
    try:
        if length is None or length <= _DRAIN_BYTES:
            drained = 0
            while chunk := response.read(_DRAIN_BYTES):
                drained += len(chunk)
                if drained > _DRAIN_BYTES or time.monotonic() > deadline:
                    break
    except wire.WireError:
        pass                           # the outcome is decided already; a broken connection is dropped
    finally:
        response.close()


def _relabel(exc: FetchError, url: str) -> None:
    """Make an error raised for a redirect target name the URL asked for, keeping the target."""
    exc.reason = f"{exc.reason} (redirected to {exc.url})"
    exc.url = url
    exc.args = (f"{url}: {exc.reason}",)


def _redirect_target(url: str, response: wire.WireResponse) -> str | None:
    if response.status not in REDIRECT_STATUSES:
        return None
    location = (response.headers.get("Location") or "").strip()
    if not location:
        raise HTTPStatusError(url, response.status, f"{_status_text(response)} without a Location header")
    try:
        target = urljoin(url, location)
        urlsplit(target).port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError as exc:
        raise HTTPStatusError(url, response.status,
                              f"{_status_text(response)} to an invalid Location {location!r}") from exc
    return target


class _ChainCookies:
    """Cookies of one redirect chain: taken from each hop's Set-Cookie, sent to later hops on the same
    site (the cookie's Domain, or the host that set it, and its Path). Expiry and flags are ignored:
    the jar lives for a few requests."""

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str, str], str] = {}    # (domain, path, name) -> value

    def take(self, url: str, headers: list[str]) -> None:
        host = (urlsplit(url).hostname or "").lower()
        for header in headers:
            parsed: SimpleCookie = SimpleCookie()
            try:
                parsed.load(header)
            except CookieError:
                continue                   # a malformed cookie is ignored, as browsers do
            for name, morsel in parsed.items():
                domain = morsel["domain"].lstrip(".").lower() or host
                if host != domain and not host.endswith("." + domain):
                    continue               # a cookie for another site is refused
                self._cookies[(domain, morsel["path"] or "/", name)] = morsel.value

    def header_for(self, url: str) -> str:
        parts = urlsplit(url)
        host, path = (parts.hostname or "").lower(), parts.path or "/"
        return "; ".join(f"{name}={value}" for (domain, prefix, name), value in sorted(self._cookies.items())
                         if (host == domain or host.endswith("." + domain)) and path.startswith(prefix))

    def state(self) -> frozenset[tuple[str, str, str, str]]:
        return frozenset((d, p, n, v) for (d, p, n), v in self._cookies.items())


def _status_text(response: wire.WireResponse) -> str:
    """'HTTP 503 Service Unavailable': the standard phrase, or the server's for unknown codes."""
    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = response.reason
    return f"HTTP {response.status} {phrase}".rstrip()


def _parse_content_type(header: str) -> tuple[str | None, str | None]:
    """Media type (lower case) and charset parameter; ``(None, None)`` when the header is missing."""
    media_type, *params = header.split(";")
    media_type = media_type.strip().lower()
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower() or None
    return media_type or None, charset


def _content_length(response: wire.WireResponse) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or "chunked" in (response.headers.get("Transfer-Encoding") or "").lower():
        return None
    try:
        return int(value.split(",")[0])   # repeated identical values are allowed (RFC 9110 8.6)
    except ValueError:
        return None


def _validators(response: wire.WireResponse) -> Validators:
    return Validators(etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified"))


def _sniff(url: str, start: bytes, kind: ContentKind) -> None:
    head = start[:_SNIFF_BYTES].lower()
    if not any(marker in head for marker in kind.markers):
        raise NotHTML(url, f"missing, and the body does not look like {kind.description}", kind.description)
