"""newsmon's exceptions, one tree::

    MonitorError
    ├── ConfigError                  a configuration file is invalid (file, line, field path)
    ├── FetchError                   a URL could not be fetched as an article page (url, reason)
    │   ├── NetworkError             DNS, connection refused, TLS failure, reset
    │   ├── FetchTimeout             connect/idle timeout or the per-request total deadline
    │   ├── TooManyRedirects         more redirects than allowed, or a redirect loop
    │   ├── UnsupportedScheme        a URL or redirect to anything but http(s)
    │   ├── BodyTooLarge             the decoded body exceeded the byte cap
    │   ├── ContentDecodingError     a corrupt gzip/deflate/br body, or an unknown encoding
    │   ├── NotHTML                  the response is not an HTML page (PDF, image, JSON, ...)
    │   ├── HTTPStatusError          an HTTP status that is neither success, 304 nor 404/410
    │   └── NotFetched               politeness or shutdown kept us from asking at all (no request sent)
    │       ├── RobotsDisallowed     robots.txt disallows the URL for our User-Agent
    │       ├── HostDeferred         the host is backing off (failures, Retry-After, robots.txt 5xx)
    │       └── FetchCancelled       the daemon is shutting down
    ├── ExtractionError              no article text could be extracted from a page
    └── StoreError                   the store cannot be opened or written
        └── NotFound                 no such article or version in the store

Normal outcomes (an unchanged page, a 304, a 404 after a version existed) are return values, never
exceptions; these classes only describe failures, and each carries what a person needs to act on it.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base class of every error newsmon raises on purpose."""


class ConfigError(MonitorError):
    """Invalid configuration. ``str()`` reads ``file:line: field.path: what was expected``."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class FetchError(MonitorError):
    """A fetch failed. ``reason`` is a short sentence a person can act on."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class NetworkError(FetchError):
    """DNS failure, refused connection, TLS error or a connection dropped mid-response."""


class FetchTimeout(FetchError):
    """The connect or idle timeout, or the total per-request deadline, expired."""


class TooManyRedirects(FetchError):
    """The redirect chain was longer than allowed or looped."""


class UnsupportedScheme(FetchError):
    """The URL, or a redirect target, is not http or https."""


class BodyTooLarge(FetchError):
    """The body is larger than ``max_bytes``: as its Content-Length declares (``declared``), or as it grew
    while streaming, counted after decompression."""

    def __init__(self, url: str, limit: int, declared: int | None = None) -> None:
        self.limit = limit
        self.declared = declared
        if declared is not None:
            reason = f"the server declares {declared:,} bytes (Content-Length), more than max_bytes ({limit:,})"
        else:
            reason = f"body larger than {limit:,} bytes after decoding (max_bytes)"
        super().__init__(url, reason)


class ContentDecodingError(FetchError):
    """A compressed body could not be decoded."""


class NotHTML(FetchError):
    """The response is not an HTML page."""

    def __init__(self, url: str, content_type: str, expected: str = "an HTML page") -> None:
        self.content_type = content_type
        super().__init__(url, f"not {expected} (Content-Type: {content_type})")


class HTTPStatusError(FetchError):
    """An HTTP status other than 2xx, 304, 404 or 410."""

    def __init__(self, url: str, status: int, reason: str | None = None, *,
                 retry_after: str | None = None) -> None:
        self.status = status
        self.retry_after = retry_after   # the raw Retry-After header of a 429/503, if any
        super().__init__(url, reason or f"HTTP {status}")


class ExtractionError(MonitorError):
    """No article text could be found in a page."""


class StoreError(MonitorError):
    """The store could not be opened, read or written."""


class NotFound(StoreError):
    """The requested article or version is not in the store."""


class NotFetched(FetchError):
    """No request was sent for this URL: a rule of politeness or a shutdown stopped it beforehand."""


class RobotsDisallowed(NotFetched):
    """robots.txt disallows the URL for our product token."""


class HostDeferred(NotFetched):
    """The host may not be asked before ``retry_at`` (seconds on ``time.time``'s clock)."""

    def __init__(self, url: str, reason: str, retry_at: float) -> None:
        self.retry_at = retry_at
        super().__init__(url, reason)


class FetchCancelled(NotFetched):
    """The daemon is stopping: work not yet started is dropped, to be done after the next start."""
