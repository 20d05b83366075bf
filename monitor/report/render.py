"""The one Jinja2 environment of every HTML, SVG and feed-content template newsmon writes.

Safety rules, enforced here rather than remembered in each template:

- ``autoescape=True`` for every template whatever its file name (``select_autoescape`` decides by
  extension, and a ``.svg.j2`` or ``.j2`` template would silently escape nothing).
- Article text only ever arrives as a variable: it is never compiled as a template, so ``{{ config }}``
  in a headline prints as those eleven characters.
- Only http(s) URLs become links (the ``http_url`` filter gives None for anything else: ``javascript:``,
  ``data:``, ``file:``, relative paths), and every page carries a Content-Security-Policy that allows no
  script, no external resource and no form, so even a mistake in a template could run nothing.

Compiling the templates costs about 60 ms of CPU, paid by every process that draws a page (each ``newsmon
check`` that found a change): the compiled code is kept in the user's cache folder (``TemplateCache``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from jinja2 import BaseLoader, Environment, FileSystemBytecodeCache, PackageLoader, StrictUndefined
from jinja2.bccache import Bucket

from ..models import Diff, FigureChange
from ..summary import describe_diff, describe_figure
from ..word_diff import word_diff

__all__ = ["CSP", "TemplateCache", "environment", "http_url", "render", "template_cache_dir"]

# Inline styles only (one <style> per page, SVG presentation attributes); images only as data: URIs (none
# are made today); base-uri and form-action are not covered by default-src, so they are closed too.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f<>\"'`\\]")


def http_url(value: object) -> str | None:
    """``value`` if it is an absolute http(s) URL fit for an href, else None (the caller prints it as text)."""
    if not isinstance(value, str) or _UNSAFE_IN_URL.search(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


def utc_time(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def title_words(diff: Diff) -> tuple[tuple[str, str], ...]:
    """The headline change as word operations, so a rewritten headline shows what was rewritten."""
    if diff.title is None:
        return ()
    return _title_ops(diff.title.old, diff.title.new)


@lru_cache(maxsize=4096)
def _title_ops(old: str, new: str) -> tuple[tuple[str, str], ...]:
    # One change is drawn on several pages (index, filters, its source, its article, the feeds).
    return word_diff(old, new)


def figure_text(change: FigureChange) -> str:
    return describe_figure(change)


class TemplateCache(FileSystemBytecodeCache):
    """Compiled templates in a folder of the user's, never a reason for a page not to be drawn.

    Jinja2 names each entry by the template's name and path, and checks it against a checksum of the
    template's source, so a template changed by an upgrade (or an edit) is compiled again, never read
    stale. What the checksum does not cover, Jinja2's version and the environment's options that shape
    the compiled code, is in the entries' names. A folder that cannot be written (read-only, full,
    removed) only means compiling again."""

    def __init__(self, directory: Path, env: Environment) -> None:
        shape = (jinja2.__version__, env.autoescape, env.trim_blocks, env.lstrip_blocks,
                 env.keep_trailing_newline, env.newline_sequence, env.optimized)
        tag = hashlib.sha256(repr(shape).encode()).hexdigest()[:12]
        super().__init__(str(directory), f"{tag}-%s.cache")

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:   # an unreadable entry (a damaged disk, a foreign file): compiled again
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def template_cache_dir(directory: Path | None = None) -> Path | None:
    """The folder of compiled templates (default: ``$XDG_CACHE_HOME/newsmon/templates``, else
    ``~/.cache/newsmon/templates``), made if need be; None when it cannot be made or is not safe to load
    code from: owned by someone else, or writable by others (what is read from it runs in this process)."""
    if directory is None:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        directory = Path(base) / "newsmon" / "templates"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except (OSError, RuntimeError):      # RuntimeError: no home folder to be found
        return None
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return directory


def _environment(loader: BaseLoader, cache_dir: Path | None) -> Environment:
    env = Environment(
        loader=loader,
        autoescape=True,               # a bool, not select_autoescape: every template, whatever its name
        undefined=StrictUndefined,     # a misspelt variable fails the build instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,             # package files: no stat() of the template at every page
    )
    if cache_dir is not None:
        env.bytecode_cache = TemplateCache(cache_dir, env)
    env.filters.update(http_url=http_url, utc_time=utc_time, iso_time=iso_time, figure_text=figure_text,
                       describe=describe_diff, title_words=title_words)
    env.globals.update(csp=CSP)
    return env


_ENV: Environment | None = None


def environment() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = _environment(PackageLoader("monitor.report", "templates"), template_cache_dir())
    return _ENV


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
