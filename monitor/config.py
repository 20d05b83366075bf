"""The configuration file: YAML read into the dataclasses of monitor.config_schema.

Every problem becomes a ``ConfigError`` reading ``file:line: field.path: what was expected``, raised
before any work starts. The YAML is composed into a node tree (which keeps each node's line), turned
into plain data and read by the tables of monitor.config_schema; each problem's place
(``sources.0.urls.1``) is walked back down the node tree to find its line.

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
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from monitor.config_schema import (
    DEFAULT_USER_AGENT,
    ArticleTarget,
    Config,
    Loc,
    NotifyTarget,
    Problems,
    SourceConfig,
    SourceNameError,
    StoriesConfig,
    Timeouts,
    read_keys,
    unknown_key,
    url_key,
)
from monitor.config_values import MAX_DURATION, _describe, parse_duration, parse_size
from monitor.errors import ConfigError

__all__ = ["DEFAULT_USER_AGENT", "MAX_DURATION", "ArticleTarget", "Config", "NotifyTarget", "SourceConfig",
           "StoriesConfig", "Timeouts", "load_config", "parse_config", "parse_duration", "parse_size"]

logger = logging.getLogger("monitor.config")

_INTERNAL = frozenset({"base_dir", "warnings"})  # fields of Config that are not YAML keys


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
    except ValueError as exc:  # a value PyYAML cannot make: a date such as 2024-13-45, a number too long
        node, digits = _failing_scalar(loader), sys.get_int_max_str_digits()
        too_long = node is not None and sum(c.isdigit() for c in node.value) > digits
        raise fail(f"a number of more than {digits} digits" if too_long else f"invalid value: {exc}",
                   line=None if node is None else int(node.start_mark.line) + 1) from None
    finally:
        loader.dispose()
    return root, data


def _failing_scalar(loader: Any) -> Any:
    """The scalar node PyYAML failed to make into a value (it is still among the nodes it was making), if any."""
    return next((node for node in getattr(loader, "recursive_objects", ()) if isinstance(node, yaml.ScalarNode)),
                None)


def _validate(data: Any, root: Any, fail: Callable[..., ConfigError], filename: str,
              base_dir: Path | None) -> Config:
    if data is None:  # "---" or "null" alone: as empty as an empty file
        data = {}
    if not isinstance(data, dict):
        raise fail(f"expected settings (key: value lines) at the top level, got {_describe(data)}")
    for key in data:
        if key in _INTERNAL:
            raise fail(unknown_key(key, Config), (key,))
    problems: Problems = []
    values = read_keys(Config, data, (), problems)
    if problems:
        where, message = min(problems, key=lambda problem: _line_of(root, problem[0]) or 0)  # the first in the file
        raise fail(message, where)
    try:
        config = Config(**values, base_dir=base_dir or Path.cwd())
    except SourceNameError as exc:
        raise fail(exc.message, exc.where) from None
    _merge_duplicate_urls(config, filename, lambda loc: _line_of(root, loc))
    return config


def _merge_duplicate_urls(config: Config, filename: str, line_of: Callable[[Loc], int | None]) -> None:
    """Keep the first occurrence of each URL (per kind of list); warn about each later one."""
    for kind in ("urls", "feeds", "sitemaps"):
        first: dict[str, tuple[str, Loc]] = {}     # URL key -> (source name, where); lines looked up
        for i, source in enumerate(config.sources):  # only for a warning: thousands of URLs, few repeats
            kept: list[str] = []
            for j, url in enumerate(getattr(source, kind)):
                key, where = url_key(url), ("sources", i, kind, j)
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
