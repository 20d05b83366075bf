"""The scalar values of a configuration: text, whole numbers, numbers and booleans (strictly: YAML already
tells them apart), durations ("90s", "1h30m"), sizes ("10MiB"), URLs, notification targets, regular
expressions, CSS selectors, domain names. Each parser raises ValueError with a message a person can act on;
monitor.config turns it into an error naming the file, line and field."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence

from monitor.url_parts import split_url

__all__ = ["MAX_DURATION", "parse_duration", "parse_size"]


_DURATION = re.compile(r"(?:\s*\d+(?:\.\d+)?\s*[smhd])+\s*")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*", re.IGNORECASE)
_BYTES = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}


def _describe(value: object) -> str:
    """A value as it was written in YAML, for the "got ..." of a message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return "a mapping" if isinstance(value, dict) else "a list"
    if isinstance(value, int) and value.bit_length() > 100:     # about 30 digits; str() refuses past 4,300
        return f"a number of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    return repr(value) if isinstance(value, str) else str(value)


# Strict types: YAML already yields real numbers and booleans, so `concurrency: yes` or `name: 2024` is a
# mistake to point out, not a value to convert.


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {_describe(value)}")
    return value


def _whole_number(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):  # bool is an int subclass
        raise ValueError(f"expected a whole number, got {_describe(value)}")
    return value


def _number(value: object) -> float:
    """A float from an int or a float (``threshold: 1`` is 1.0)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an int of hundreds of digits
            pass
    raise ValueError(f"expected a number, got {_describe(value)}")


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_describe(value)}")
    return value


def _check_bounds(number: float, written: object, *, gt: float | None = None, ge: float | None = None,
                  le: float | None = None) -> None:
    """A ValueError quoting the value as ``written`` unless ``number`` is within the bounds. The upper bound is
    checked first, so NaN reads "expected a number <= 1.0"."""
    if le is not None and not number <= le:
        raise ValueError(f"expected a number <= {le}, got {_describe(written)}")
    if ge is not None and not number >= ge:
        raise ValueError(f"expected a number >= {ge}, got {_describe(written)}")
    if gt is not None and not number > gt:
        raise ValueError(f"expected a number > {gt}, got {_describe(written)}")


MAX_DURATION = 36500 * 86400.0


def parse_duration(value: object) -> float:
    """Seconds from ``90``, ``"90"``, ``"30s"``, ``"15m"``, ``"1h"``, ``"1d"`` or ``"1h30m"``."""
    expected = ("expected a duration such as 90 (seconds), '30s', '15m', '1h' or '1h30m', "
                f"got {_describe(value)}")
    if isinstance(value, bool):  # an int subclass, but `interval: yes` is a mistake, not one second
        raise ValueError(expected)
    def too_long() -> ValueError:
        return ValueError(f"expected a duration of at most 100 years ('36500d'), got {_describe(value)}")

    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:       # an integer beyond any float, such as 10 ** 400
            raise too_long() from None
    elif isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            if not _DURATION.fullmatch(value):
                raise ValueError(expected) from None
            seconds = sum(float(n) * _SECONDS[unit] for n, unit in _DURATION_PART.findall(value))
    else:
        raise ValueError(expected)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(expected)
    if seconds > MAX_DURATION:  # planned times must stay inside datetime's range (year 9999)
        raise too_long()
    return seconds


def parse_size(value: object) -> int:
    """Bytes from ``10485760``, ``"500kB"``, ``"2MB"`` (powers of 1000) or ``"10MiB"`` (powers of 1024)."""
    expected = f"expected a size such as 10485760, '500kB', '2MB' or '10MiB', got {_describe(value)}"
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 and value % 1 == 0:
        return int(value)
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(expected)
    return round(float(match[1]) * _BYTES[(match[2] or "b").lower()])


def _positive_duration(value: object) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"expected a duration greater than zero, got {_describe(value)}")
    return seconds


# Any character for which str.isspace() is true, and the C0 controls (one search, not a loop per character).
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f]")


def _http_url(url: str) -> str:
    url = url.strip()
    if not url or _SPACE_OR_CONTROL.search(url):
        raise ValueError(f"expected a URL without spaces, got {url!r}")
    # Look for "://" before trusting urlsplit, which reads "localhost:8080/x" as scheme "localhost".
    if "://" not in url:
        raise ValueError(f"expected an absolute URL starting with https:// or http://, got {url!r}")
    try:
        parts = split_url(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"invalid URL {url!r}: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"only http and https URLs are supported, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"URL has no host name: {url!r}")
    return url


_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_SIGNIFICANCES = ("none", "low", "medium", "high")
# Schemes that name files, scripts or transfers, never a notification service (apprise has none of them).
_NOT_NOTIFICATION = frozenset({"file", "javascript", "vbscript", "data", "about", "blob", "view-source", "ftp",
                               "ftps", "sftp", "scp", "ssh", "smb", "gopher", "ldap", "ldaps", "jar"})


def _notify_url(url: str) -> str:
    """An apprise URL (``slack://...``, ``mailto://...``) or a plain http(s) webhook."""
    url = url.strip()
    if not url or _SPACE_OR_CONTROL.search(url):
        raise ValueError(f"expected a URL without spaces, got {url!r}")
    if not _SCHEME.match(url):
        raise ValueError("expected an apprise URL (slack://, discord://, tgram://, mailto://, ntfy://, "
                         f"json://, ...) or an https:// webhook, got {url!r}")
    if url.lower().startswith(("http://", "https://")):
        return _http_url(url)
    scheme = url.split(":", 1)[0].lower()
    if scheme in _NOT_NOTIFICATION:
        raise ValueError(f"{scheme}:// is not a notification service; expected an apprise URL (slack://, "
                         f"discord://, tgram://, mailto://, ntfy://, json://, ...) or an https:// webhook, "
                         f"got {url!r}")
    return url


def _significance(value: str) -> str:
    if value not in _SIGNIFICANCES:
        raise ValueError(f"expected one of {', '.join(_SIGNIFICANCES)}, got {value!r}"
                         f"{_did_you_mean(value, _SIGNIFICANCES)}")
    return value


def _regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return pattern


def _css(selector: str) -> str:
    # soupsieve is the engine behind BeautifulSoup.select(): what compiles here works at extraction.
    # Imported here: a tenth of a second at every start, and most configurations have no selector.
    import soupsieve

    try:
        soupsieve.compile(selector)
    except Exception as exc:  # SelectorSyntaxError, or ValueError for an empty selector
        raise ValueError(f"invalid CSS selector {selector!r}: {str(exc).splitlines()[0]}") from None
    return selector


def _domain(name: str) -> str:
    name = name.strip().lower().rstrip(".")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", name):
        raise ValueError(f"expected a host name such as 'bbc.co.uk', got {name!r}")
    return name


def _one_line(text: str) -> str:
    # user_agent goes into an HTTP header: a newline there would be header injection.
    if not text.strip():
        raise ValueError("must not be empty")
    if any(ord(ch) < 32 for ch in text):
        raise ValueError(f"expected one line of text, got {text!r}")
    return text.strip()


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
