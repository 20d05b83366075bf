"""Values passed between the stages of a check. Frozen dataclasses, no I/O.

fetch -> FetchResult, extract -> Document, diff -> Diff, check -> CheckEvent; the store hands back
Version and VersionSummary. ``to_dict`` methods produce the JSON contracts of docs/ARCHITECTURE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

EventName = Literal["new", "unchanged", "cosmetic", "modified", "removed", "restored", "error"]
EVENTS: tuple[EventName, ...] = ("new", "unchanged", "cosmetic", "modified", "removed", "restored", "error")
# The events that are changes of a stored article: what the report site shows.
CHANGE_EVENTS: frozenset[str] = frozenset({"cosmetic", "modified", "removed", "restored"})

DiffKind = Literal["unchanged", "cosmetic", "modified"]
Significance = Literal["none", "low", "medium", "high"]
SIGNIFICANCE_ORDER: dict[str, int] = {"none": 0, "low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class Validators:
    """What a server gave us to make the next request conditional."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """One completed HTTP exchange (after redirects).

    ``body`` is the decoded (decompressed) body, never longer than the configured cap; it is empty for
    a 304 and for error statuses. ``status`` may be 200-299, 304, or 404/410 (a page that is gone):
    every other status is raised as ``HTTPStatusError`` by the fetcher.
    """

    url: str                       # the URL asked for
    final_url: str                 # after redirects
    status: int
    body: bytes = b""
    content_type: str | None = None
    charset: str | None = None     # from the Content-Type header, if any
    validators: Validators = field(default_factory=Validators)
    wire_bytes: int = 0            # bytes received on the wire (before decompression)
    duration: float = 0.0          # seconds, whole request including redirects

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def gone(self) -> bool:
        return self.status in (404, 410)


@dataclass(frozen=True)
class Document:
    """An extracted article. ``text`` is the body only (no title), paragraphs separated by blank lines."""

    title: str
    text: str
    byline: str | None = None
    published: str | None = None   # ISO 8601 date or datetime, as found in the page
    modified: str | None = None
    url: str | None = None
    # The URL the page declares as its own (rel=canonical, else og:url), absolute; not part of the
    # version: the daemon tracks a discovered article under it (monitor/daemon.py).
    canonical: str | None = field(default=None, compare=False)

    @property
    def paragraphs(self) -> tuple[str, ...]:
        return tuple(p for p in (part.strip() for part in self.text.split("\n\n")) if p)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "text": self.text, "byline": self.byline,
                "published": self.published, "modified": self.modified, "url": self.url}


@dataclass(frozen=True)
class TitleChange:
    old: str
    new: str


@dataclass(frozen=True)
class FigureChange:
    """A number that changed its value between two aligned sentences."""

    old: str                       # as written: "1,000"
    new: str
    old_value: float | int
    new_value: float | int
    unit: str | None               # "%", "USD", "people", ... or None
    qualifier_old: str | None      # "at least"
    qualifier_new: str | None
    context: str | None            # the counted noun or subject: "additional soldiers"
    old_sentence: str
    new_sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "old_value": self.old_value, "new_value": self.new_value,
                "unit": self.unit, "qualifier_old": self.qualifier_old, "qualifier_new": self.qualifier_new,
                "context": self.context, "old_sentence": self.old_sentence, "new_sentence": self.new_sentence}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FigureChange:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class QualifierChange:
    """A figure whose value stayed while its qualifier changed: "at least 1,000" -> "more than 1,000"."""

    figure: str                    # as written in the new sentence: "1,000"
    value: float | int             # scale applied, as FigureChange.new_value
    old: str | None                # "at least"; None when the old sentence had no qualifier
    new: str | None                # "more than"; None when the qualifier was dropped
    context: str | None            # the counted noun or subject, as FigureChange.context
    old_sentence: str
    new_sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {"figure": self.figure, "value": self.value, "old": self.old, "new": self.new,
                "context": self.context, "old_sentence": self.old_sentence, "new_sentence": self.new_sentence}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualifierChange:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


WordOp = tuple[str, str]           # ("=", "same"), ("-", "removed"), ("+", "added")


@dataclass(frozen=True)
class ChangedSentence:
    old: str
    new: str
    words: tuple[WordOp, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "words": [list(op) for op in self.words]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChangedSentence:
        return cls(old=data["old"], new=data["new"], words=tuple((op, word) for op, word in data["words"]))


@dataclass(frozen=True)
class Diff:
    """The diff object of the contract: what changed between two versions of an article."""

    kind: DiffKind
    significance: Significance
    title: TitleChange | None = None
    figures: tuple[FigureChange, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[ChangedSentence, ...] = ()
    moved: tuple[str, ...] = ()
    qualifiers: tuple[QualifierChange, ...] = ()   # "at least" -> "more than" on an unchanged figure

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "significance": self.significance,
            "title": None if self.title is None else {"old": self.title.old, "new": self.title.new},
            "figures": [f.to_dict() for f in self.figures],
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [c.to_dict() for c in self.changed],
            "moved": list(self.moved),
            "qualifiers": [q.to_dict() for q in self.qualifiers],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diff:
        """The inverse of ``to_dict``: ``Diff.from_dict(d.to_dict()) == d``."""
        title = data.get("title")
        return cls(
            kind=data["kind"], significance=data["significance"],
            title=None if title is None else TitleChange(old=title["old"], new=title["new"]),
            figures=tuple(FigureChange.from_dict(f) for f in data.get("figures", ())),
            added=tuple(data.get("added", ())), removed=tuple(data.get("removed", ())),
            changed=tuple(ChangedSentence.from_dict(c) for c in data.get("changed", ())),
            moved=tuple(data.get("moved", ())),
            qualifiers=tuple(QualifierChange.from_dict(q) for q in data.get("qualifiers", ())),
        )


@dataclass(frozen=True)
class Version:
    """One stored version of an article."""

    url: str
    number: int                    # 1, 2, 3, ... per article
    created_at: datetime           # UTC
    title: str
    text: str
    byline: str | None
    published: str | None
    modified: str | None
    final_url: str | None
    html_sha256: str               # the raw HTML blob this version was extracted from
    text_sha256: str               # the comparable (normalised) title + text

    @property
    def document(self) -> Document:
        return Document(title=self.title, text=self.text, byline=self.byline,
                        published=self.published, modified=self.modified, url=self.final_url or self.url)


@dataclass(frozen=True)
class VersionSummary:
    number: int
    created_at: datetime
    title: str
    size: int                      # characters of body text

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "time": self.created_at.isoformat(), "title": self.title,
                "size": self.size}


@dataclass(frozen=True)
class CheckEvent:
    """What one check of one article found: one JSON line of ``newsmon check --format json``."""

    url: str
    source: str
    event: EventName
    version: int | None = None           # the version current after this check
    previous_version: int | None = None  # the version compared against
    diff: Diff | None = None
    error: str | None = None
    title: str | None = None
    checked_at: datetime | None = None
    reverted_to: int | None = None       # the text is again that of this earlier version (an A -> B -> A flip)

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "source": self.source, "event": self.event, "version": self.version,
                "previous_version": self.previous_version,
                "diff": None if self.diff is None else self.diff.to_dict(), "error": self.error,
                "title": self.title,
                "checked_at": None if self.checked_at is None else self.checked_at.isoformat(),
                "reverted_to": self.reverted_to}
