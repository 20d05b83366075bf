"""An article's changes, recomputed from its stored versions: the data behind every page and feed of the site.

Each change between two consecutive versions is diffed again (the store keeps versions, not diffs), with
the source's learned boilerplate set aside as a check does. Take-downs and returns come from the checks
table. Pure: the store is read by the callers (monitor.report.site, monitor.serve).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from ..boilerplate import strip_boilerplate
from ..diff import diff_documents
from ..models import SIGNIFICANCE_ORDER, CheckEvent, Diff, Significance, Version
from ..store.reporting import ArticleHistory

__all__ = ["Change", "Timeline", "article_key", "build_timeline", "sort_changes", "source_slug"]

# A take-down or a return has no diff; its weight is ours to give. A story pulled from a site is news in
# itself (the reason NewsDiffs and its successors exist), so it ranks with the largest edits.
STATUS_SIGNIFICANCE: dict[str, Significance] = {"removed": "high", "restored": "medium"}


def article_key(url: str) -> str:
    """The file-name key of an article: never the URL itself (path traversal, length, odd characters)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


@lru_cache(maxsize=4096)
def source_slug(name: str) -> str:
    """A readable, safe file-name stem for a source; the hash keeps two names that fold alike apart.
    Remembered: every list page links every source (24 pages of 20 sources after a check)."""
    readable = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "source"
    return f"{readable}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:10]}"


@dataclass(frozen=True)
class Change:
    """One reported event of an article: an edit between two versions, a take-down or a return."""

    url: str
    source: str
    title: str                     # the article's headline at this change
    event: str                     # "modified", "cosmetic", "restored" or "removed"
    version: int                   # the version current after the change
    previous_version: int | None   # the version compared against (None for a take-down)
    time: datetime
    diff: Diff | None
    significance: Significance
    reverted_to: int | None = None

    @property
    def key(self) -> str:
        return article_key(self.url)

    @property
    def anchor(self) -> str:
        """The id of this change on its article page."""
        if self.event == "removed" or self.diff is None:
            return f"{self.event}-{self.time.strftime('%Y%m%dT%H%M%S')}"
        return f"v{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """The ``changes.json`` item: the contract's diff object with url, source, versions and time."""
        return {"url": self.url, "source": self.source, "title": self.title, "event": self.event,
                "version": self.version, "previous_version": self.previous_version,
                "time": self.time.isoformat(), "significance": self.significance,
                "reverted_to": self.reverted_to,
                "diff": None if self.diff is None else self.diff.to_dict(),
                "page": f"articles/{self.key}.html#{self.anchor}"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        """The inverse of ``to_dict`` (the site's cache keeps changes this way)."""
        return cls(url=data["url"], source=data["source"], title=data["title"], event=data["event"],
                   version=data["version"], previous_version=data["previous_version"],
                   time=datetime.fromisoformat(data["time"]),
                   diff=None if data["diff"] is None else Diff.from_dict(data["diff"]),
                   significance=data["significance"], reverted_to=data["reverted_to"])

    def to_event(self) -> CheckEvent:
        """As a check event, for the Markdown writer shared with run reports."""
        return CheckEvent(url=self.url, source=self.source, event=self.event,  # type: ignore[arg-type]
                          version=self.version, previous_version=self.previous_version, diff=self.diff,
                          title=self.title, checked_at=self.time, reverted_to=self.reverted_to)


@dataclass(frozen=True)
class Timeline:
    """Everything the site shows about one article."""

    url: str
    source: str
    gone: bool
    versions: tuple[Version, ...]          # oldest first
    changes: tuple[Change, ...]            # oldest first

    @property
    def key(self) -> str:
        return article_key(self.url)

    @property
    def title(self) -> str:
        return self.versions[-1].title

    def version_events(self) -> dict[int, str]:
        """What each version was: "new" for the first, else the event of the change that made it."""
        events = {self.versions[0].number: "new"}
        events.update({c.version: c.event for c in self.changes if c.diff is not None})
        return events


def _version_at(history: ArticleHistory, when: datetime) -> int:
    """The version that was current at ``when`` (the first one if the check predates every version)."""
    current = history.versions[0].number
    for version in history.versions:
        if version.created_at <= when:
            current = version.number
    return current


def build_timeline(history: ArticleHistory, boilerplate: Collection[str] = frozenset(),
                   known: Mapping[tuple[int, int], Diff] | None = None) -> Timeline:
    """Diff each pair of consecutive versions and place the take-downs and returns among them.

    ``known`` holds diffs computed before with the same boilerplate, by (previous, current) version number:
    versions never change, so those pairs need no diffing again."""
    known = known or {}
    changes: list[Change] = []
    seen: dict[str, int] = {}     # fingerprint -> newest version number with it, to name reverts
    versions = history.versions
    for previous, current in zip((None, *versions[:-1]), versions, strict=True):
        if previous is None:
            seen[current.text_sha256] = current.number
            continue
        diff = known.get((previous.number, current.number)) or diff_documents(
            strip_boilerplate(previous.document, boilerplate), strip_boilerplate(current.document, boilerplate))
        reverted_to = seen.get(current.text_sha256)
        seen[current.text_sha256] = current.number
        outcome = history.outcomes.get(current.number)
        if diff.kind == "unchanged" and outcome != "restored":
            continue  # only boilerplate learned since differed: not a change any more
        event = "restored" if outcome == "restored" else diff.kind
        changes.append(Change(
            url=history.url, source=history.source, title=current.title, event=event,
            version=current.number, previous_version=previous.number, time=current.created_at, diff=diff,
            significance=diff.significance if diff.kind != "unchanged" else STATUS_SIGNIFICANCE["restored"],
            reverted_to=reverted_to if reverted_to != previous.number else None))
    for mark in history.marks:
        if mark.version is not None:
            continue  # a return with new text: already a change above, with its diff
        number = _version_at(history, mark.checked_at)
        title = next(v.title for v in versions if v.number == number)
        changes.append(Change(
            url=history.url, source=history.source, title=title, event=mark.outcome, version=number,
            previous_version=number if mark.outcome == "restored" else None, time=mark.checked_at, diff=None,
            significance=STATUS_SIGNIFICANCE.get(mark.outcome, "low")))
    changes.sort(key=lambda c: c.time)
    return Timeline(url=history.url, source=history.source, gone=history.gone, versions=versions,
                    changes=tuple(changes))


def sort_changes(changes: Iterable[Change]) -> list[Change]:
    """Most significant first, then newest first; URL and version keep the order stable."""
    ordered = sorted(changes, key=lambda c: (c.url, c.version))
    ordered.sort(key=lambda c: c.time, reverse=True)
    ordered.sort(key=lambda c: SIGNIFICANCE_ORDER[c.significance], reverse=True)
    return ordered
