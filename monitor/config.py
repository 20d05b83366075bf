"""The configuration file: YAML validated into typed pydantic models.

Every problem becomes a ``ConfigError`` reading ``file:line: field.path: what was expected``, raised
before any work starts. The YAML is composed into a node tree (which keeps each node's line), turned
into plain data and validated by pydantic; each error location (``sources.0.urls.1``) is walked back
down the node tree to find its line.

Choices worth knowing:

- **Anchors and aliases (``&name``/``*name``) are refused outright**, at the line of the first one. A
  configuration has no real need for them, and refusing them makes "billion laughs" alias bombs
  impossible rather than merely bounded.
- Duplicate keys in one mapping are errors (plain YAML would silently keep the last one).
- An empty value (``feeds:`` with every item commented out) means "use the default".
- A URL listed twice (in one source or across sources; ``#fragment`` and the case of scheme and host do
  not count) is checked once, under the first source listing it; a warning naming both lines goes to
  the logger ``monitor.config`` and to ``Config.warnings``.
- Only the first error in file order is reported: fix it and run again.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import yaml  # type: ignore[import-untyped,unused-ignore]

# pydantic looks for plugins in the entry points of every installed package when it builds its first model:
# 70 ms at every start of newsmon, for plugins newsmon does not use. A value the user set is kept.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from pydantic import (  # noqa: E402
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from monitor.config_values import (  # noqa: E402 (after the pydantic setting above)
    MAX_DURATION,
    _css,
    _describe,
    _did_you_mean,
    _domain,
    _http_url,
    _notify_url,
    _one_line,
    _positive_duration,
    _regex,
    _significance,
    parse_duration,
    parse_size,
)
from monitor.errors import ConfigError

__all__ = ["DEFAULT_USER_AGENT", "MAX_DURATION", "ArticleTarget", "Config", "NotifyTarget", "SourceConfig", "Timeouts",
           "load_config", "parse_config", "parse_duration", "parse_size"]

logger = logging.getLogger("monitor.config")

DEFAULT_USER_AGENT = "newsmon/0.1 (+https://github.com/newsmon/newsmon)"
Loc = tuple[str | int, ...]

# Field types: the parsers of monitor.config_values, as pydantic sees them.
PositiveDuration = Annotated[float, BeforeValidator(_positive_duration)]
OptionalDuration = Annotated[float | None, BeforeValidator(_positive_duration)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Line = Annotated[str, AfterValidator(_one_line)]
Css = Annotated[str, AfterValidator(_css)]


def _queue_url(value: str) -> str:
    # The parser lives with the distributed code (no Celery import there); a bad URL fails at load time,
    # like every other key, rather than when a worker first connects.
    from monitor.distributed.settings import parse_queue_url

    parse_queue_url(value)
    return value.strip()


# --- models ----------------------------------------------------------------------------------------


class _Section(BaseModel):
    # strict: YAML already yields real numbers and booleans; lax mode would read `concurrency: yes` as 1.
    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data


class Timeouts(_Section):
    """Seconds: ``connect`` to open a connection, ``idle`` between two reads, ``total`` per request."""

    connect: PositiveDuration = 10.0
    idle: PositiveDuration = 20.0
    total: PositiveDuration = 60.0


class SourceConfig(_Section):
    name: Line
    urls: list[HttpUrl] = []
    feeds: list[HttpUrl] = []
    sitemaps: list[HttpUrl] = []
    interval: OptionalDuration = None
    selector: Css | None = None
    exclude: list[Css] = []
    ignore: list[Annotated[str, AfterValidator(_regex)]] = []
    allow_private: bool = False
    max_age: OptionalDuration = None
    domains: list[Annotated[str, AfterValidator(_domain)]] = []


class StoriesConfig(_Section):
    """How articles of different sources are grouped into stories (monitor/stories)."""

    # TF-IDF cosine of headline and opening from which two articles report the same event. The default
    # is stories.DEFAULT_THRESHOLD, measured in benchmarks/story_grouping.py (not imported here: it would
    # load the grouping code at every start).
    threshold: Annotated[float, Field(gt=0, le=1)] = 0.3


class NotifyTarget(_Section):
    """Where changes are sent: ``url`` (apprise or http(s) webhook), from ``min_significance`` up, for
    ``sources`` (every source when empty)."""

    url: Annotated[str, AfterValidator(_notify_url)]
    min_significance: Annotated[str, AfterValidator(_significance)] = "medium"
    sources: list[Line] = []


@dataclass(frozen=True)
class ArticleTarget:
    url: str
    source: str


class Config(_Section):
    storage: Line = "snapshots/"
    reports: Line = "reports/"
    user_agent: Line = DEFAULT_USER_AGENT
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 16
    per_host_delay: Annotated[float, BeforeValidator(parse_duration)] = 2.0
    timeout: Timeouts = Field(default_factory=Timeouts)
    max_bytes: Annotated[int, BeforeValidator(parse_size), Field(gt=0)] = 10 * 1024 * 1024
    sources: list[SourceConfig] = []
    notify: list[NotifyTarget] = []
    stories: StoriesConfig = Field(default_factory=StoriesConfig)
    # The broker of `newsmon dispatch` and `newsmon worker` (monitor/distributed): redis:// or amqp://.
    queue: Annotated[str, AfterValidator(_queue_url)] | None = None
    # Not YAML keys (parse_config refuses them there): set by load_config and while loading.
    base_dir: Path = Field(default_factory=Path.cwd, strict=False)
    warnings: list[str] = Field(default_factory=list, exclude=True, repr=False)

    @field_validator("timeout", mode="before")
    @classmethod
    def _plain_timeout(cls, value: object) -> object:
        # `timeout: 30` (or "30s") is the common case: the deadline for a whole request.
        return value if isinstance(value, dict | Timeouts) else {"total": _positive_duration(value)}

    @field_validator("storage")
    @classmethod
    def _storage(cls, value: str) -> str:
        # The store speaks SQLite and PostgreSQL only: say so now rather than at the first check.
        if "://" in value and not re.match(r"(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("expected a folder, a sqlite:/// URL or a postgresql+psycopg:// URL, "
                             f"got {value!r}")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        first: dict[str, int] = {}
        for i, source in enumerate(self.sources):
            if source.name in first:
                # An after-validator cannot set its error's location: ctx "where" carries it to parse_config.
                message = f"source name {source.name!r} is already used by sources.{first[source.name]}"
                raise PydanticCustomError("config", "{message}", {"message": message,
                                                                  "where": ("sources", i, "name")})
            first[source.name] = i
        return self

    @model_validator(mode="after")
    def _notify_sources(self) -> Config:
        names = [source.name for source in self.sources]
        for i, target in enumerate(self.notify):
            for j, name in enumerate(target.sources):
                if name not in names:
                    valid = f"configured sources: {', '.join(names)}" if names else "no sources are configured"
                    message = f"unknown source {name!r}{_did_you_mean(name, names)}; {valid}"
                    raise PydanticCustomError("config", "{message}", {"message": message,
                                                                      "where": ("notify", i, "sources", j)})
        return self

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
        valid = f"configured sources: {', '.join(names)}" if names else "no sources are configured"
        raise ConfigError(f"unknown source {name!r}{_did_you_mean(name, names)}; {valid}", field="source")

    def articles(self, source: str | None = None) -> list[ArticleTarget]:
        """Every configured article URL once; a URL in two sources belongs to the first of them."""
        if source is not None:
            self.source(source)  # an unknown name is an error, not an empty list
        targets: dict[str, ArticleTarget] = {}
        for s in self.sources:
            for url in s.urls:
                targets.setdefault(_url_key(url), ArticleTarget(url, s.name))
        return [t for t in targets.values() if source is None or t.source == source]


_INTERNAL = frozenset({"base_dir", "warnings"})  # model fields that are not YAML keys
_SECTIONS: dict[str, type[BaseModel]] = {"sources": SourceConfig, "timeout": Timeouts, "notify": NotifyTarget}


def _url_key(url: str) -> str:
    """Two URLs are the same article when they differ only in #fragment or the case of scheme and host."""
    parts = urlsplit(url)
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower(), fragment="").geturl()


# --- YAML with line numbers ------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader that refuses anchors, aliases and duplicate keys, each at its line."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        # Checked per event, before composing, so a bomb is refused at its first anchor, in microseconds.
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (&name, *name) are not allowed in a newsmon "
                "configuration (they allow alias bombs); write the value out", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        return _unique_mapping(self, node, deep)


def _unique_mapping(loader: Any, node: Any, deep: bool) -> Any:
    """A mapping whose keys are unique, or a ConstructorError at the repeated key's line."""
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key_node.value!r} (first on line {seen[key_node.value]})",
                key_node.start_mark)
        if isinstance(key_node, yaml.ScalarNode):
            seen[key_node.value] = key_node.start_mark.line + 1
    return yaml.constructor.SafeConstructor.construct_mapping(loader, node, deep=deep)


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser with the same duplicate-key rule: about ten times faster on a configuration of
    thousands of URLs. Anchors are refused before it composes anything (``_fast_read``)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        return _unique_mapping(self, node, deep)


_PARSERS_DIFFER = "\t!|>"


def _fast_read(text: str) -> tuple[Any, Any] | None:
    """(root node, data) read by libyaml, or None to read the text with ``_Loader``: when libyaml is
    missing, and for any text it would refuse or that is not plain block YAML, so that every message
    about a configuration's YAML is ``_Loader``'s, whichever parser read it."""
    # The two parsers differ on some texts with tabs ("key: 1<TAB>"), tags ("!"), block scalars ("|#"),
    # flow collections ("{1?}") and a byte-order mark after the start, found by the property test in
    # tests/test_config.py. A file must mean the same with or without libyaml, so such texts are read by
    # _Loader; the usual configuration (block mappings and lists of URLs) is not one of them.
    if (not getattr(yaml, "__with_libyaml__", False) or any(c in text for c in _PARSERS_DIFFER)
            or "\ufeff" in text[1:]):
        return None
    try:
        if not all(map(_plain_block_event, yaml.parse(text, Loader=_FastLoader))):
            return None
        loader = _FastLoader(text)
        try:
            root = loader.get_single_node()
            return root, (loader.construct_document(root) if root is not None else {})
        finally:
            loader.dispose()
    except (yaml.YAMLError, RecursionError, ValueError, TypeError):
        return None


def _plain_block_event(event: Any) -> bool:
    """False for anything but block collections and plain or quoted scalars: aliases and anchors (which
    _Loader refuses, with its message), flow collections, block scalars."""
    if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
        return False
    if isinstance(event, yaml.CollectionStartEvent) and event.flow_style:
        return False
    return not (isinstance(event, yaml.ScalarEvent) and event.style in ("|", ">"))


def _line_of(root: Any, loc: Sequence[str | int]) -> int | None:
    """The line of the deepest node ``loc`` reaches; for a mapping entry, the line of its key."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            entry = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)
                          and k.value == str(part)), None)
            if entry is None:
                break
            line, node = entry[0].start_mark.line + 1, entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return int(line)




def _unknown_key(key: object, section: Loc) -> str:
    """``section`` is where the key sits: () for the top level, ("sources", 2) or ("timeout",)."""
    model = _SECTIONS.get(str(section[0]), Config) if section else Config
    valid = [name for name in model.model_fields if name not in _INTERNAL]
    return f"unknown key {key!r}{_did_you_mean(str(key), valid)}; valid keys: {', '.join(valid)}"


_MAPPING = "a mapping (key: value lines)"
_EXPECTED = {"float_type": "a number", "int_type": "a whole number", "bool_type": "true or false",
             "string_type": "text", "list_type": "a list (one '- item' per line)", "model_type": _MAPPING,
             "dict_type": _MAPPING}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _message(error: Any) -> str:
    """A pydantic error as a sentence a person can act on."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_describe(value)}"
    if kind in _BOUNDS:
        return f"expected a number {_BOUNDS[kind]} {next(iter(ctx.values()))}, got {_describe(value)}"
    if kind == "missing":
        return "this key is required"
    if kind in ("extra_forbidden", "invalid_key"):  # invalid_key: a key that is not text, e.g. `1:`
        return _unknown_key(error["loc"][-1], error["loc"][:-1])
    if kind == "value_error":
        return str(ctx["error"])
    return str(error["msg"])


# --- loading ---------------------------------------------------------------------------------------


def load_config(path: str | Path) -> Config:
    """Read and validate a configuration file; any problem is a ``ConfigError`` naming ``file:line``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("configuration file not found", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", file=str(path)) from None
    return parse_config(text, filename=str(path), base_dir=Path(os.path.abspath(path)).parent)


def parse_config(text: str, *, filename: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate configuration text; relative folders in it resolve against ``base_dir`` (default: cwd)."""
    root: Any = None

    def fail(message: str, loc: Loc = (), line: int | None = None) -> ConfigError:
        return ConfigError(message, file=filename, line=line or _line_of(root, loc),
                           field=".".join(map(str, loc)) or None)

    fast = _fast_read(text)
    if fast is not None:
        root, data = fast
    else:
        root, data = _slow_read(text, fail)
    return _validate(data, root, fail, filename, base_dir)


def _slow_read(text: str, fail: Callable[..., ConfigError]) -> tuple[Any, Any]:
    """(root node, data) read by ``_Loader``, which says what is wrong with YAML it refuses, and where."""
    try:
        loader = _Loader(text)            # the reader refuses control characters (NUL, ESC ...) here
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise fail(f"invalid YAML: the control character U+{code:04X} is not allowed in a configuration file",
                   line=line) from None
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "not a YAML document"
        if exc.context and exc.context.startswith("expected"):  # "expected a single document ..."
            problem = f"{exc.context}, {problem}"
        if "<block" in problem:  # PyYAML's words for a line indented differently from its siblings
            problem += " (check the indentation)"
        raise fail(f"invalid YAML: {problem}", line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:  # e.g. a reader error for a control character
        raise fail(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise fail("invalid YAML: nested too deeply", line=loader.get_mark().line + 1) from None
    finally:
        loader.dispose()
    return root, data


def _validate(data: Any, root: Any, fail: Callable[..., ConfigError], filename: str,
              base_dir: Path | None) -> Config:
    if data is None:  # "---" or "null" alone: as empty as an empty file
        data = {}
    if not isinstance(data, dict):
        raise fail(f"expected settings (key: value lines) at the top level, got {_describe(data)}")
    for key in data:
        if key in _INTERNAL:
            raise fail(_unknown_key(key, ()), (key,))
    try:
        config = Config.model_validate({**data, "base_dir": base_dir or Path.cwd()})
    except ValidationError as exc:
        located = [(tuple((err.get("ctx") or {}).get("where") or err["loc"]), err) for err in exc.errors()]
        loc, err = min(located, key=lambda item: _line_of(root, item[0]) or 0)  # the first in the file
        raise fail(_message(err), loc) from None
    _merge_duplicate_urls(config, filename, lambda loc: _line_of(root, loc))
    return config


def _merge_duplicate_urls(config: Config, filename: str, line_of: Callable[[Loc], int | None]) -> None:
    """Keep the first occurrence of each URL (per kind of list); warn about each later one."""
    for kind in ("urls", "feeds", "sitemaps"):
        first: dict[str, tuple[str, Loc]] = {}     # URL key -> (source name, where); lines looked up
        for i, source in enumerate(config.sources):  # only for a warning: thousands of URLs, few repeats
            kept: list[str] = []
            for j, url in enumerate(getattr(source, kind)):
                key, where = _url_key(url), ("sources", i, kind, j)
                if key not in first:
                    first[key] = (source.name, where)
                    kept.append(url)
                    continue
                owner, first_where = first[key]
                warning = (f"{filename}:{line_of(where)}: sources.{i}.{kind}.{j}: {url} is already listed on "
                           f"line {line_of(first_where)} (source {owner!r}); checking it once, under {owner!r}")
                config.warnings.append(warning)
                logger.warning("%s", warning)
            setattr(source, kind, kept)
