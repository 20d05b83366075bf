"""The one Jinja2 environment of every HTML, SVG and feed-content template newsmon writes.

Safety rules, enforced here rather than remembered in each template:

- ``autoescape=True`` for every template whatever its file name (``select_autoescape`` decides by
  extension, and a ``.svg.j2`` or ``.j2`` template would silently escape nothing).
- Article text only ever arrives as a variable: it is never compiled as a template, so ``{{ config }}``
  in a headline prints as those eleven characters.
- Only http(s) URLs become links (the ``http_url`` filter gives None for anything else: ``javascript:``,
  ``data:``, ``file:``, relative paths), and every page carries a Content-Security-Policy that allows no
  script, no external resource and no form, so even a mistake in a template could run nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined

from ..models import Diff, FigureChange
from ..summary import describe_diff, describe_figure
from ..word_diff import word_diff

__all__ = ["CSP", "environment", "http_url", "render"]

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


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("monitor.report", "templates"),
        autoescape=True,               # a bool, not select_autoescape: every template, whatever its name
        undefined=StrictUndefined,     # a misspelt variable fails the build instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,             # package files: no stat() of the template at every page
    )
    env.filters.update(http_url=http_url, utc_time=utc_time, iso_time=iso_time, figure_text=figure_text,
                       describe=describe_diff, title_words=title_words)
    env.globals.update(csp=CSP)
    return env


_ENV: Environment | None = None


def environment() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
