"""Fetch one article page: conditional GET, our own redirect loop, a bounded decoded body.

Normal outcomes are return values (2xx with a body, 304 unchanged, 404/410 gone); every failure is a
``FetchError`` subclass whose reason a person can act on. The sync httpx ``Client`` is shared by the
worker threads of ``monitor.hosts.run_per_host``: measured here it costs about a third of the CPU per
request of the ``AsyncClient`` (see docs/DESIGN.md and benchmarks/fetch_clients.py).

httpx's own redirect following and content decoding are switched off: the redirect loop lets every
hop be checked (``Fetcher.check_url``), and ``BoundedDecoder`` counts the body after decompression
while it streams, so a decompression bomb stops at the cap.
"""

from __future__ import annotations

import http.cookiejar
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from urllib.parse import urlsplit

import httpx

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

__all__ = ["FEED", "HTML", "ContentKind", "FetchSettings", "Fetcher", "user_agent"]

ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
# Only what BoundedDecoder can undo: httpx would otherwise also offer zstd when it is installed.
ACCEPT_ENCODING = "gzip, deflate, br"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
GONE_STATUSES = frozenset({404, 410})
ALLOWED_SCHEMES = frozenset({"http", "https"})

_DRAIN_BYTES = 64 * 1024         # an unwanted body up to this size is read so the connection is kept
_LOCATION = "newsmon.location"   # where _hide_location keeps a response's Location header

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
    """Fetches pages with one ``httpx.Client``; safe to call ``fetch`` from many threads at once."""

    def __init__(self, settings: FetchSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._client = httpx.Client(
            transport=transport,
            headers={"User-Agent": settings.user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=httpx.Timeout(connect=settings.connect_timeout, read=settings.idle_timeout,
                                  write=settings.idle_timeout, pool=settings.total_timeout),
            follow_redirects=False,
            # A jar that accepts no domain stays empty: cookies must not carry from one fetch to the
            # next (a metered paywall would count our visits; the daemon's jar would grow forever).
            cookies=http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[])),
            verify=True,
            event_hooks={"response": [_hide_location]},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def check_url(self, url: str) -> None:
        """Raise a ``FetchError`` if ``url`` must not be fetched.

        Called for the URL asked for and for every redirect target, before any request to it.
        Subclasses extend it (call ``super().check_url``), e.g. to refuse private addresses.
        """
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise FetchError(url, f"invalid URL: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            what = f"{scheme}: URLs" if scheme else "URLs without a scheme"
            raise UnsupportedScheme(url, f"only http and https URLs can be fetched, not {what}")
        if not parts.hostname:
            raise FetchError(url, "the URL has no host name")

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
        jar = httpx.Cookies()
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
            state = (current, frozenset((c.domain, c.path, c.name, c.value or "") for c in jar.jar))
            chain.append(current)
            if state in seen:
                raise TooManyRedirects(url, "redirect loop: " + " -> ".join(chain))
            seen.add(state)

            response, remaining = self._send(current, validators, jar, deadline, kind.accept)
            try:
                if "set-cookie" in response.headers:
                    jar.extract_cookies(response)
                target = _redirect_target(current, response)
                if target is None:
                    return self._result(url, current, validators, response, start, deadline, remaining, kind)
            finally:
                _discard(response, deadline)
            if len(chain) > settings.max_redirects:
                raise TooManyRedirects(url, f"more than {settings.max_redirects} redirects "
                                            f"(last one to {target})")
            current = target

    def _send(self, url: str, validators: Validators, jar: httpx.Cookies,
              deadline: float, accept: str) -> tuple[httpx.Response, float]:
        """Send one GET and return the response with its headers read and its body not yet read."""
        settings = self.settings
        # Shrink every timeout to the time left, so a silent server cannot hold a fetch far past its
        # deadline (a server dripping bytes is caught by the check after each chunk).
        remaining = deadline - time.monotonic()
        timeout = httpx.Timeout(connect=min(settings.connect_timeout, remaining),
                                read=min(settings.idle_timeout, remaining),
                                write=min(settings.idle_timeout, remaining), pool=remaining)
        headers = {"Accept": accept}
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        try:
            request = self._client.build_request("GET", url, headers=headers, cookies=jar, timeout=timeout)
            return self._client.send(request, stream=True), remaining
        except httpx.InvalidURL as exc:
            raise FetchError(url, f"invalid URL: {exc}") from exc
        except httpx.TransportError as exc:
            raise self._transport_error(url, exc, remaining, reading_body=False) from exc

    def _result(self, url: str, final_url: str, validators: Validators, response: httpx.Response,
                start: float, deadline: float, remaining: float, kind: ContentKind) -> FetchResult:
        status = response.status_code
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

        media_type, charset = _parse_content_type(response.headers.get("Content-Type", ""))
        if media_type is not None and media_type not in kind.media_types:
            raise NotHTML(final_url, media_type, kind.description)
        # A transport that builds its responses from bytes (httpx.MockTransport handlers returning
        # httpx.Response(content=...)) hands over a body httpx has already read and decoded.
        preread = response.is_stream_consumed
        encoding = None if preread else response.headers.get("Content-Encoding")
        decoder = BoundedDecoder(encoding, self.settings.max_bytes, final_url)
        expected = None if preread else _content_length(response)
        if expected is not None and decoder.identity and expected > self.settings.max_bytes:
            raise BodyTooLarge(final_url, self.settings.max_bytes)

        body, wire_bytes = self._read_body(final_url, response, decoder, deadline, remaining,
                                           sniff=None if media_type is not None else kind)
        if expected is not None and wire_bytes < expected:
            raise NetworkError(final_url, "connection closed before the body was complete "
                                          f"({wire_bytes:,} of {expected:,} bytes)")
        return FetchResult(url=url, final_url=final_url, status=status, body=body,
                           content_type=media_type, charset=charset, validators=_validators(response),
                           wire_bytes=wire_bytes, duration=time.monotonic() - start)

    def _read_body(self, url: str, response: httpx.Response, decoder: BoundedDecoder, deadline: float,
                   remaining: float, *, sniff: ContentKind | None) -> tuple[bytes, int]:
        parts: list[bytes] = []
        wire_bytes = 0
        try:
            # iter_raw, not iter_bytes: the body must reach BoundedDecoder still compressed.
            chunks = [response.content] if response.is_stream_consumed else response.iter_raw()
            for raw in chunks:
                wire_bytes += len(raw)
                parts.append(decoder.feed(raw))
                self._check_deadline(url, deadline)
                if sniff is not None and decoder.total >= _SNIFF_BYTES:
                    _sniff(url, b"".join(parts), sniff)
                    sniff = None
        except httpx.TransportError as exc:
            raise self._transport_error(url, exc, remaining, reading_body=True) from exc
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

    def _transport_error(self, url: str, exc: httpx.TransportError, remaining: float, *,
                         reading_body: bool) -> FetchError:
        """Translate an httpx transport error into our tree, with a reason a person can act on."""
        settings = self.settings
        if isinstance(exc, httpx.ConnectTimeout):
            if remaining < settings.connect_timeout:
                return FetchTimeout(url, self._deadline_reason())
            return FetchTimeout(url, f"could not connect within {settings.connect_timeout:g} s "
                                     "(connect timeout)")
        if isinstance(exc, httpx.PoolTimeout):
            return FetchTimeout(url, self._deadline_reason())
        if isinstance(exc, httpx.TimeoutException):
            if remaining < settings.idle_timeout:
                return FetchTimeout(url, self._deadline_reason())
            return FetchTimeout(url, f"no data from the server for {settings.idle_timeout:g} s "
                                     "(idle timeout)")
        if isinstance(exc, httpx.UnsupportedProtocol):
            return UnsupportedScheme(url, str(exc))
        if isinstance(exc, httpx.ConnectError):
            return NetworkError(url, _connect_reason(url, exc))
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            if reading_body:
                return NetworkError(url, f"connection closed before the body was complete ({exc})")
            return NetworkError(url, f"connection closed before a complete response arrived ({exc})")
        return NetworkError(url, f"{type(exc).__name__}: {exc}")


def _discard(response: httpx.Response, deadline: float) -> None:
    """Close a response, first reading what is left of a small body (a 304's, a redirect's).

    httpcore can only reuse a connection whose response was read to its end; closing it unread
    drops the connection, and the next request to the host pays for a new TCP and TLS handshake.
    """
    if response.is_closed:
        return
    length = _content_length(response)
    try:
        if not response.is_stream_consumed and (length is None or length <= _DRAIN_BYTES):
            drained = 0
            for chunk in response.iter_raw():
                drained += len(chunk)
                if drained > _DRAIN_BYTES or time.monotonic() > deadline:
                    break
    except httpx.HTTPError:
        pass                           # the outcome is decided already; a broken connection is dropped
    finally:
        response.close()


def _relabel(exc: FetchError, url: str) -> None:
    """Make an error raised for a redirect target name the URL asked for, keeping the target."""
    exc.reason = f"{exc.reason} (redirected to {exc.url})"
    exc.url = url
    exc.args = (f"{url}: {exc.reason}",)


def _hide_location(response: httpx.Response) -> None:
    """Move ``Location`` out of httpx's sight, into ``response.extensions``.

    Even with ``follow_redirects=False`` httpx builds the next request of every redirect, and raises
    on a Location it cannot build one for (``data:``, malformed URLs) before we see the response. Our
    own loop reads the Location instead, so that every target goes through ``check_url``.
    """
    locations = response.headers.get_list("Location")
    if locations:
        del response.headers["Location"]
        response.extensions[_LOCATION] = locations[0]


def _redirect_target(url: str, response: httpx.Response) -> str | None:
    if response.status_code not in REDIRECT_STATUSES:
        return None
    location = response.extensions.get(_LOCATION)
    if not location:
        raise HTTPStatusError(url, response.status_code,
                              f"{_status_text(response)} without a Location header")
    try:
        return str(response.url.join(location.strip()))
    except httpx.InvalidURL as exc:
        raise HTTPStatusError(url, response.status_code,
                              f"{_status_text(response)} to an invalid Location {location!r}") from exc


def _status_text(response: httpx.Response) -> str:
    """'HTTP 503 Service Unavailable': the standard phrase, or the server's for unknown codes."""
    try:
        phrase = HTTPStatus(response.status_code).phrase
    except ValueError:
        phrase = response.reason_phrase
    return f"HTTP {response.status_code} {phrase}".rstrip()


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


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or "chunked" in response.headers.get("Transfer-Encoding", "").lower():
        return None
    try:
        return int(value.split(",")[0])   # repeated identical values are allowed (RFC 9110 8.6)
    except ValueError:
        return None


def _validators(response: httpx.Response) -> Validators:
    return Validators(etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified"))


def _sniff(url: str, start: bytes, kind: ContentKind) -> None:
    head = start[:_SNIFF_BYTES].lower()
    if not any(marker in head for marker in kind.markers):
        raise NotHTML(url, f"missing, and the body does not look like {kind.description}", kind.description)


def _connect_reason(url: str, exc: httpx.ConnectError) -> str:
    """Say which part of connecting failed: DNS, the TCP connection or TLS."""
    parsed = httpx.URL(url)
    host = parsed.host if parsed.port is None else f"{parsed.host}:{parsed.port}"
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed for {host}: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake with {host} failed: {cause.reason or cause}"
        if isinstance(cause, socket.gaierror):
            return f"could not resolve host {host} ({cause.strerror})"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {host}"
    # httpcore does not always chain the original error: fall back to its text.
    text = str(exc)
    lowered = text.lower()
    if "certificate_verify_failed" in lowered or "certificate verify failed" in lowered:
        return f"TLS certificate verification failed for {host}: {text}"
    if any(s in lowered for s in ("name or service not known", "nodename nor servname",
                                  "name resolution", "getaddrinfo", "no address associated")):
        return f"could not resolve host {host} ({text})"
    if "refused" in lowered:
        return f"connection refused by {host}"
    return f"could not connect to {host}: {text or type(exc).__name__}"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
