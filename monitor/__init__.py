"""newsmon: a monitor for news articles that change after publication.

Public API::

    from monitor import load_config, open_store, check_articles, extract, diff_texts, diff_documents
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import (
    ConfigError,
    ExtractionError,
    FetchError,
    MonitorError,
    NotFound,
    StoreError,
)
from .models import CheckEvent, Diff, Document, FetchResult, FigureChange, Version

__version__ = "0.1.0"

# The heavier stages (trafilatura, SQLAlchemy, httpx) load on first use, so that `newsmon --help`
# and commands that need only some of them start quickly.
_LAZY = {
    "load_config": ".config",
    "Config": ".config",
    "open_store": ".store",
    "check_articles": ".check",
    "extract": ".extract",
    "diff_texts": ".diff",
    "diff_documents": ".diff",
    "Fetcher": ".fetch",
}

__all__ = [
    "CheckEvent", "ConfigError", "Diff", "Document", "ExtractionError", "FetchError", "FetchResult",
    "FigureChange", "MonitorError", "NotFound", "StoreError", "Version", "__version__", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'monitor' has no attribute {name!r}")
