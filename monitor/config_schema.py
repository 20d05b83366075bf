"""The configuration's sections as dataclasses, and how each is read from YAML data: a table of each
section's keys, with the parser of each key's value (monitor.config_values).

Reading notes every problem with its place (``("sources", 0, "urls", 1)``) rather than stopping at the first:
the keys of a mapping are read in the order of the section's fields, which is not the file's order, and
monitor.config reports the problem that comes first in the file. A key whose value is null (``feeds:`` with
every item commented out) is left out, so that its default applies.

Like any dataclass, the sections take what code gives them as it is; ``from_dict`` reads a mapping as the
configuration file's is read. ``Config`` itself refuses a source name used twice and a notification target
naming no configured source, so that a configuration built in code is checked for those too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Self

from monitor.config_values import (
    _boolean,
    _check_bounds,
    _css,
    _describe,
    _did_you_mean,
    _domain,
    _http_url,
    _notify_url,
    _number,
    _one_line,
    _positive_duration,
    _regex,
    _significance,
    _text,
    _whole_number,
    parse_duration,
    parse_size,
)
from monitor.errors import ConfigError
from monitor.url_parts import split_url

DEFAULT_USER_AGENT = "newsmon/0.1 (+https://github.com/newsmon/newsmon)"

Loc = tuple[str | int, ...]        # where a value is: ("sources", 0, "urls", 1) is sources.0.urls.1
Problems = list[tuple[Loc, str]]   # (where, what is wrong), in the order they were found
# Reads one value at its place: returns what to keep, or adds to the problems (and what it returns is unused).
Reader = Callable[[Any, Loc, Problems], Any]


# --- sections --------------------------------------------------------------------------------------


class _Section:
    """What every section can do: be read from a mapping, as from the file."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """``data`` read as this section of a configuration file is; a ConfigError names the first bad field."""
        problems: Problems = []
        section = _section(cls)(data, (), problems)
        if problems:
            where, message = problems[0]
            raise ConfigError(message, field=".".join(map(str, where)) or None)
        return section


@dataclass
class Timeouts(_Section):
    """Seconds: ``connect`` to open a connection, ``idle`` between two reads, ``total`` per request."""

    connect: float = 10.0
    idle: float = 20.0
    total: float = 60.0


@dataclass
class SourceConfig(_Section):
    name: str
    urls: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    interval: float | None = None
    selector: str | None = None
    exclude: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    allow_private: bool = False
    max_age: float | None = None
    domains: list[str] = field(default_factory=list)


@dataclass
class StoriesConfig(_Section):
    """How articles of different sources are grouped into stories (monitor/stories)."""

    # TF-IDF cosine of headline and opening from which two articles report the same event. The default
    # is stories.DEFAULT_THRESHOLD, measured in benchmarks/story_grouping.py (not imported here: it would
    # load the grouping code at every start).
    threshold: float = 0.3


@dataclass
class NotifyTarget(_Section):
    """Where changes are sent: ``url`` (apprise or http(s) webhook), from ``min_significance`` up, for
    ``sources`` (every source when empty)."""

    url: str
    min_significance: str = "medium"
    sources: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ArticleTarget:
    url: str
    source: str


class SourceNameError(ConfigError):
    """A source name used twice, or a notification target naming no configured source: found by Config
    itself, which knows the place (``where``) but not the line; monitor.config adds the file and line."""

    def __init__(self, message: str, where: Loc) -> None:
        super().__init__(message, field=".".join(map(str, where)))
        self.where = where


@dataclass
class Config(_Section):
    storage: str = "snapshots/"
    reports: str = "reports/"
    user_agent: str = DEFAULT_USER_AGENT
    concurrency: int = 16
    per_host_delay: float = 2.0
    timeout: Timeouts = field(default_factory=Timeouts)
    max_bytes: int = 10 * 1024 * 1024
    sources: list[SourceConfig] = field(default_factory=list)
    notify: list[NotifyTarget] = field(default_factory=list)
    stories: StoriesConfig = field(default_factory=StoriesConfig)
    # The broker of `newsmon dispatch` and `newsmon worker` (monitor/distributed): redis:// or amqp://.
    queue: str | None = None
    # Not YAML keys (parse_config refuses them there): set by load_config and while loading.
    base_dir: Path = field(default_factory=Path.cwd)
    warnings: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.base_dir = Path(self.base_dir)  # a str given in code is a folder too
        self._check_unique_names()
        self._check_notify_sources()

    def _check_unique_names(self) -> None:
        first: dict[str, int] = {}
        for i, source in enumerate(self.sources):
            if source.name in first:
                raise SourceNameError(f"source name {source.name!r} is already used by sources.{first[source.name]}",
                                      ("sources", i, "name"))
            first[source.name] = i

    def _check_notify_sources(self) -> None:
        names = [source.name for source in self.sources]
        for i, target in enumerate(self.notify):
            for j, name in enumerate(target.sources):
                if name not in names:
                    raise SourceNameError(f"unknown source {name!r}{_did_you_mean(name, names)}; {_valid(names)}",
                                          ("notify", i, "sources", j))

    def storage_url(self) -> str:
        """A SQLAlchemy URL: a folder becomes ``sqlite:///<absolute folder>/newsmon.db``."""
        if "://" in self.storage:
            return self.storage
        return f"sqlite:///{(self._resolve(self.storage) / 'newsmon.db').as_posix()}"

    def reports_dir(self) -> Path:
        return self._resolve(self.reports)

    def _resolve(self, folder: str) -> Path:
        path = Path(folder).expanduser()
        return Path(os.path.abspath(path if path.is_absolute() else self.base_dir / path))

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        names = [s.name for s in self.sources]
        raise ConfigError(f"unknown source {name!r}{_did_you_mean(name, names)}; {_valid(names)}", field="source")

    def articles(self, source: str | None = None) -> list[ArticleTarget]:
        """Every configured article URL once; a URL in two sources belongs to the first of them."""
        if source is not None:
            self.source(source)  # an unknown name is an error, not an empty list
        targets: dict[str, ArticleTarget] = {}
        for s in self.sources:
            for url in s.urls:
                targets.setdefault(url_key(url), ArticleTarget(url, s.name))
        return [t for t in targets.values() if source is None or t.source == source]


def _valid(names: list[str]) -> str:
    return f"configured sources: {', '.join(names)}" if names else "no sources are configured"


def url_key(url: str) -> str:
    """Two URLs are the same article when they differ only in #fragment or the case of scheme and host."""
    parts = split_url(url)
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower(), fragment="").geturl()


# --- reading ---------------------------------------------------------------------------------------


def read_keys(cls: type, data: dict[Any, Any], where: Loc, problems: Problems) -> dict[str, Any]:
    """The values of the section ``cls`` in ``data``, by field name, read in the order of the fields; a missing,
    unknown or wrong key adds to ``problems``."""
    keys = _KEYS[cls]
    given = {key: value for key, value in data.items() if value is not None}  # null: the default
    values: dict[str, Any] = {}
    for name, read in keys.items():
        if name in given:
            values[name] = read(given[name], (*where, name), problems)
        elif name in _REQUIRED[cls]:
            problems.append(((*where, name), "this key is required"))
    for key in given:
        if key not in keys:
            # A key that is not text (`1:`, `~:`) is placed as an int (a boolean, `yes:`, as 1) or its repr.
            place = key if isinstance(key, str) else int(key) if isinstance(key, int) else repr(key)
            problems.append(((*where, place), unknown_key(place, cls)))
    return values


def unknown_key(key: object, cls: type) -> str:
    valid = list(_KEYS[cls])
    return f"unknown key {key!r}{_did_you_mean(str(key), valid)}; valid keys: {', '.join(valid)}"


def _section(cls: type) -> Reader:
    def read(value: Any, where: Loc, problems: Problems) -> Any:
        if not isinstance(value, dict):
            problems.append((where, f"expected a mapping (key: value lines), got {_describe(value)}"))
            return None
        problems_before = len(problems)
        values = read_keys(cls, value, where, problems)
        return cls(**values) if len(problems) == problems_before else None
    return read


def _list_of(read_item: Reader) -> Reader:
    def read(value: Any, where: Loc, problems: Problems) -> Any:
        if not isinstance(value, list):
            problems.append((where, f"expected a list (one '- item' per line), got {_describe(value)}"))
            return None
        return [read_item(item, (*where, i), problems) for i, item in enumerate(value)]
    return read


def _value(*checks: Callable[[Any], Any]) -> Reader:
    """A scalar passed through ``checks`` in turn; each returns the value to keep or raises ValueError."""
    def read(value: Any, where: Loc, problems: Problems) -> Any:
        try:
            for check in checks:
                value = check(value)
        except ValueError as exc:
            problems.append((where, str(exc)))
        return value
    return read


def _timeout(value: Any, where: Loc, problems: Problems) -> Any:
    # `timeout: 30` (or "30s") is the common case: the deadline for a whole request.
    if isinstance(value, dict):
        return _section(Timeouts)(value, where, problems)
    try:
        return Timeouts(total=_positive_duration(value))
    except ValueError as exc:
        problems.append((where, str(exc)))
        return None


def _storage(value: str) -> str:
    # The store speaks SQLite and PostgreSQL only: say so now rather than at the first check.
    if "://" in value and not re.match(r"(sqlite|postgresql)(\+\w+)?://", value):
        raise ValueError(f"expected a folder, a sqlite:/// URL or a postgresql+psycopg:// URL, got {value!r}")
    return value


def _queue_url(value: str) -> str:
    # The parser lives with the distributed code (no Celery import there); a bad URL fails at load time,
    # like every other key, rather than when a worker first connects.
    from monitor.distributed.settings import parse_queue_url

    parse_queue_url(value)
    return value.strip()


def _concurrency(value: object) -> int:
    number = _whole_number(value)
    _check_bounds(number, value, ge=1, le=1000)
    return number


def _max_bytes(value: object) -> int:
    size = parse_size(value)
    _check_bounds(size, value, gt=0)
    return size


def _threshold(value: object) -> float:
    number = _number(value)
    _check_bounds(number, value, gt=0.0, le=1.0)
    return number


_LINE = _value(_text, _one_line)
_URLS = _list_of(_value(_text, _http_url))
_DURATION = _value(_positive_duration)
_CSS = _value(_text, _css)

# Each section's YAML keys, in the order of its fields, with the reader of each value.
_KEYS: dict[type, dict[str, Reader]] = {
    Timeouts: {"connect": _DURATION, "idle": _DURATION, "total": _DURATION},
    SourceConfig: {
        "name": _LINE, "urls": _URLS, "feeds": _URLS, "sitemaps": _URLS, "interval": _DURATION, "selector": _CSS,
        "exclude": _list_of(_CSS), "ignore": _list_of(_value(_text, _regex)), "allow_private": _value(_boolean),
        "max_age": _DURATION, "domains": _list_of(_value(_text, _domain)),
    },
    StoriesConfig: {"threshold": _value(_threshold)},
    NotifyTarget: {"url": _value(_text, _notify_url), "min_significance": _value(_text, _significance),
                   "sources": _list_of(_LINE)},
    Config: {
        "storage": _value(_text, _one_line, _storage), "reports": _LINE, "user_agent": _LINE,
        "concurrency": _value(_concurrency), "per_host_delay": _value(parse_duration), "timeout": _timeout,
        "max_bytes": _value(_max_bytes), "sources": _list_of(_section(SourceConfig)),
        "notify": _list_of(_section(NotifyTarget)), "stories": _section(StoriesConfig),
        "queue": _value(_text, _queue_url),
    },
}
# The keys a section cannot do without: its fields that have no default.
_REQUIRED = {cls: {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
             for cls in _KEYS}
