"""What the report site remembers between two builds, so that a build after each check costs little.

Recomputing the site means diffing every pair of versions of every changed article; after a check in which
a few articles changed, nearly all of that work would give the same result again. So the site folder keeps,
per changed article, a file ``.newsmon-cache/<article key>.json`` with:

- the article's *stamp* (``store.reporting.ArticleStamp``: latest version, fingerprint, take-down state,
  count of removed/restored checks), which moves whenever its page would change, since versions and
  checks are only ever added;
- the signature of its source's learned boilerplate (which the diffs set aside);
- the *build* signature: newsmon's version and its templates, so an upgrade redraws every page;
- the article's changes, diffs included (``Change.to_dict``).

A file whose stamp and signatures match means the article's pages are current and its changes can be read
back; anything else (missing, stale, unreadable, from another version) means the article is rebuilt from
the store. The cache is a pure optimisation: deleting the folder, or ``newsmon report --rebuild``, gives
the same site.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .. import __version__
from ..store.reporting import ArticleStamp
from .files import write_atomically
from .timeline import Change, article_key

__all__ = ["CACHE_DIR", "CachedArticle", "SiteCache", "boilerplate_signature"]

CACHE_DIR = ".newsmon-cache"
FORMAT = 1      # of the cache files; raise it when their layout changes


@lru_cache(maxsize=1)
def build_signature() -> str:
    """newsmon's version and the text of every template: what the pages look like."""
    digest = hashlib.sha256(f"{FORMAT}:{__version__}".encode())
    templates = resources.files("monitor.report") / "templates"
    for entry in sorted(templates.iterdir(), key=lambda e: e.name):
        if entry.is_file():
            digest.update(entry.name.encode() + b"\0" + entry.read_bytes())
    return digest.hexdigest()


def boilerplate_signature(keys: Collection[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def _stamp(stamp: ArticleStamp) -> list[object]:
    return [stamp.latest_version, stamp.fingerprint, stamp.gone, stamp.status_checks,
            None if stamp.last_status is None else stamp.last_status.isoformat()]


@dataclass(frozen=True)
class CachedArticle:
    stamp: list[object]
    boilerplate: str
    changes: tuple[Change, ...]

    @property
    def latest_version(self) -> int | None:
        value = self.stamp[0]
        return value if isinstance(value, int) else None

    def is_current(self, stamp: ArticleStamp, boilerplate: str) -> bool:
        return self.stamp == _stamp(stamp) and self.boilerplate == boilerplate


class SiteCache:
    """The cache files of one site folder."""

    def __init__(self, out_dir: Path) -> None:
        self.dir = out_dir / CACHE_DIR
        self.build = build_signature()
        self._made = False        # the folder, made at the first save rather than checked at every one

    def _path(self, url: str) -> Path:
        return self.dir / f"{article_key(url)}.json"

    def load(self, url: str) -> CachedArticle | None:
        """The cached article, or None when there is none usable (which only costs a rebuild)."""
        try:
            data = json.loads(self._path(url).read_text(encoding="utf-8"))
            if data["build"] != self.build or data["url"] != url:
                return None
            return CachedArticle(stamp=data["stamp"], boilerplate=data["boilerplate"],
                                 changes=tuple(Change.from_dict(c) for c in data["changes"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, stamp: ArticleStamp, boilerplate: str, changes: Sequence[Change]) -> None:
        if not self._made:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._made = True
        record = {"build": self.build, "url": stamp.url, "stamp": _stamp(stamp), "boilerplate": boilerplate,
                  "changes": [c.to_dict() for c in changes]}
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        # The folder may be served as it is: like the site's own JSON, no article text here reads as HTML.
        text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
        write_atomically(self._path(stamp.url), text)
