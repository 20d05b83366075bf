"""The values the store takes and gives besides the shared models: frozen dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor.models import Document, Validators


@dataclass(frozen=True)
class ArticleState:
    """What a check needs to know about an article before fetching it."""

    url: str
    source: str
    latest_version: int | None
    fingerprint: str | None        # of the latest version
    validators: Validators
    gone: bool
    body_sha256: str | None        # of the last fetched body
    last_checked: datetime | None  # UTC
    pending_fingerprint: str | None = None  # a held collapse of the text, awaiting confirmation


@dataclass(frozen=True)
class CheckRecord:
    """One fetch of one article, whatever its outcome."""

    checked_at: datetime
    outcome: str                   # an EventName; validated when recorded
    status: int | None = None
    validators: Validators = field(default_factory=Validators)
    wire_bytes: int = 0
    body_bytes: int = 0
    duration: float = 0.0          # seconds
    error: str | None = None
    final_url: str | None = None


@dataclass(frozen=True)
class NewVersion:
    """A version to store: the extracted document, the raw HTML it came from, and its fingerprint."""

    document: Document
    html: bytes
    fingerprint: str               # sha256 of the comparable title + text (monitor.normalise)
    created_at: datetime


@dataclass(frozen=True)
class RecordItem:
    """The arguments of one ``Store.record`` call, for ``Store.record_many``."""

    url: str
    source: str
    check: CheckRecord
    new_version: NewVersion | None = None
    validators: Validators | None = None   # None: keep the stored ones
    body_sha256: str | None = None         # None: keep the stored one
    gone: bool | None = None               # None: keep the stored flag
    # Set: hold this fingerprint as an unconfirmed change. Any check that is not an error clears it.
    pending_fingerprint: str | None = None
    # Keys of the short paragraphs ("lines") of the page this check extracted, before boilerplate was
    # removed (monitor.boilerplate.line_keys): kept per source and article to learn the source's boilerplate.
    line_keys: tuple[str, ...] = ()
